// What an apply leaves behind: the instances it switched away from, kept as standbys for
// the rollback window or retired, and what it staged when it fails.
#include <thread>

#include "engine/apply.h"

namespace lockstep::engine {

bool Apply::KeepsAsStandby(const Staged& s,
                           std::map<std::string, std::string>::const_iterator routed,
                           const std::map<std::string, std::string>& routed_before,
                           std::map<std::string, state::CurrentRecord>::const_iterator old,
                           const std::map<std::string, state::CurrentRecord>& before) {
  // The instance it switched away from, when that is the recorded one of another release
  // and was healthy: not a drifted instance that an apply of the same release replaces.
  if (plan_.rollback_window_seconds <= 0 || routed == routed_before.end() ||
      routed->second == s.instance_id || old == before.end() ||
      routed->second != old->second.instance_id || old->second.release_id == s.release_id) {
    return false;
  }
  Result<runtime::InstanceHealth> h = target_.Health(routed->second);
  return h.ok() && h->state == runtime::HealthState::kHealthy;
}

std::string Apply::RetireLeftBehind(const std::vector<Staged>& staged,
                                    const std::map<std::string, state::CurrentRecord>& before,
                                    const std::map<std::string, std::string>& routed_before) {
  // Side by side: each drains for its own time.
  struct Old {
    std::string service, instance;
    int64_t drain_ms;
  };
  // A service's old instance becomes its standby when the environment keeps one; the
  // standby it had (unless it was reused) is retired.
  std::vector<Old> old;
  for (const Staged& s : staged) {
    const std::string& service = s.desired->service;
    auto it = routed_before.find(service);
    auto recorded = before.find(service);
    const bool routed_old = it != routed_before.end() && it->second != s.instance_id;
    const bool kept = s.keep_old;
    if (kept) {
      (void)Journal("standby", service,
                    it->second + " (" + recorded->second.version + ") for " +
                        std::to_string(plan_.rollback_window_seconds) + " s");
    } else if (routed_old) {
      old.push_back({service, it->second, s.desired->drain_ms});
    }
    // The standby it had goes when another replaced it or the window is off; a reused one
    // is live.
    auto standby = standbys_.find(service);
    if (standby != standbys_.end() && !s.reused && (kept || plan_.rollback_window_seconds <= 0)) {
      old.push_back({service, standby->second.instance_id, 0});
    }
  }
  for (const ServicePlan& s : plan_.services) {
    if (s.action != Action::kRemove) continue;
    if (auto it = routed_before.find(s.service); it != routed_before.end()) {
      old.push_back({s.service, it->second, 0});
    }
    if (auto standby = standbys_.find(s.service); standby != standbys_.end()) {
      old.push_back({s.service, standby->second.instance_id, 0});
    }
  }
  std::vector<std::string> errors(old.size());
  {
    std::vector<std::jthread> retiring;
    for (size_t i = 0; i < old.size(); ++i) {
      retiring.emplace_back([this, &o = old[i], &error = errors[i]] {
        (void)Journal("retire", o.service, o.instance);
        Status s = target_.Retire(o.instance, std::chrono::milliseconds(o.drain_ms));
        if (!s.ok()) error = "retiring " + o.instance + " of " + o.service + ": " + s.message();
      });
    }
  }
  std::string retire_errors;
  for (const std::string& e : errors) {
    if (!e.empty()) retire_errors += (retire_errors.empty() ? "" : "; ") + e;
  }
  return retire_errors;
}

std::string Apply::Undo(const std::vector<Staged>& staged) {
  std::string errors;
  for (const Staged& s : staged) {
    if (s.instance_id.empty() || s.reused) continue;  // a reused standby stays one
    // Journaled for people; a crash here leaves the instance to recovery, which removes
    // every instance the record does not name.
    (void)Journal("retire", s.desired->service, s.instance_id + " (staged)");
    if (Status r = target_.Retire(s.instance_id, std::chrono::milliseconds(0)); !r.ok()) {
      errors += "; staged instance " + s.instance_id + " could not be removed: " + r.message();
    }
  }
  return errors.empty() ? " and the staged instances were removed" : errors;
}

}  // namespace lockstep::engine
