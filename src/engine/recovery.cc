#include "engine/recovery.h"

#include <set>

namespace lockstep::engine {

Status RouteAsRecorded(runtime::Target& target, const os::Clock& clock, const ApplyOptions& options,
                       const std::string& environment,
                       const std::map<std::string, state::CurrentRecord>& current,
                       const std::vector<runtime::ObservedInstance>& observed) {
  std::map<std::string, std::string> routed;  // service → instance
  for (const runtime::ObservedInstance& o : observed) {
    if (o.routed) routed[o.service] = o.instance_id;
  }
  runtime::RouteChanges changes;
  for (const auto& [service, record] : current) {
    if (record.instance_id.empty()) continue;
    auto it = routed.find(service);
    if (it != routed.end() && it->second == record.instance_id) continue;
    Result<deploy::DeployedService> d =
        FromRecord(service, record.version, record.release_spec, record.details);
    if (!d.ok()) return d.status();
    changes[service] = {record.instance_id, d->public_port};
  }
  for (const auto& [service, instance] : routed) {
    auto it = current.find(service);
    if (it == current.end() || it->second.instance_id.empty()) changes[service] = {};
  }
  if (changes.empty()) return Status::Ok();
  const os::Clock::Instant deadline = clock.Now() + options.health_timeout;
  for (const auto& [service, change] : changes) {
    if (change.instance_id.empty()) continue;
    for (;;) {
      Result<runtime::InstanceHealth> h = target.Health(change.instance_id);
      if (!h.ok()) return h.status();
      if (h->state == runtime::HealthState::kHealthy) break;
      if (clock.Now() >= deadline) {
        return Unavailable(service + ": recorded instance " + change.instance_id +
                           " did not become healthy again (" + h->last_error + ")");
      }
      clock.SleepFor(options.health_poll);
    }
  }
  return target.SwitchRoutes(environment, changes);
}

namespace {

std::string LastStep(const std::vector<state::JournalEntry>& journal) {
  if (journal.empty()) return "before its first step";
  const state::JournalEntry& e = journal.back();
  return "at step " + std::to_string(e.seq) + " (" + e.step +
         (e.service.empty() ? "" : " " + e.service) + ")";
}

Result<std::string> Recover(state::StateStore& store, runtime::Target& target,
                            const os::Clock& clock, const ApplyOptions& options,
                            const state::DeploymentRecord& d) {
  LS_ASSIGN_OR_RETURN(std::vector<state::JournalEntry> journal, store.Journal(d.id, 0));
  std::map<std::string, state::CurrentRecord> current;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_ASSIGN_OR_RETURN(current, tx->Current(d.environment));
  }
  LS_ASSIGN_OR_RETURN(std::vector<runtime::ObservedInstance> observed,
                      target.Observe(d.environment));
  Status routes = RouteAsRecorded(target, clock, options, d.environment, current, observed);
  if (!routes.ok()) {
    // Nothing is resolved, so nothing is claimed: the next start tries again.
    return "deployment " + std::to_string(d.id) + " of " + d.environment +
           " left unfinished: the recorded routes could not be restored (" + routes.message() +
           "); the next start of lockstep serve tries again";
  }

  std::set<std::string> recorded;
  for (const auto& [service, record] : current) recorded.insert(record.instance_id);
  // Standbys are recorded too: kept for an instant rollback.
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_ASSIGN_OR_RETURN(std::vector<state::StandbyRecord> standbys, tx->Standbys(d.environment));
    for (const state::StandbyRecord& s : standbys) recorded.insert(s.instance_id);
  }
  int retired = 0;
  std::string left;
  for (const runtime::ObservedInstance& o : observed) {
    if (recorded.contains(o.instance_id)) continue;
    if (Status r = target.Retire(o.instance_id, std::chrono::milliseconds(0)); r.ok()) {
      ++retired;
    } else {
      left += "; instance " + o.instance_id + " could not be removed: " + r.message();
    }
  }

  bool committed = d.committed_at != 0;
  std::string reason = "lockstep serve stopped " + LastStep(journal) +
                       (committed ? ", after the commit point: the apply was finished when it "
                                    "restarted"
                                  : ", before the commit point: the apply was undone when it "
                                    "restarted, nothing of it is live");
  if (retired > 0) reason += "; " + std::to_string(retired) + " instance(s) not recorded removed";
  reason += left;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_RETURN_IF_ERROR(
        tx->AppendJournal({d.id, 0, "recover", "", committed ? "finished" : "undone", 0}).status());
    LS_RETURN_IF_ERROR(tx->FinishDeployment(
        d.id, committed ? state::Outcome::kSucceeded : state::Outcome::kFailed, reason));
    LS_RETURN_IF_ERROR(tx->Commit());
  }
  // The dead process's lease: nobody else applies to this target's environments.
  if (Result<std::optional<state::Lease>> lease = store.LeaseOf(d.environment);
      lease.ok() && *lease && (*lease)->holder.starts_with("apply of plan " + d.plan_id + " ")) {
    (void)store.ReleaseLease(**lease);
  }
  return "deployment " + std::to_string(d.id) + " of " + d.environment + ": " + reason;
}

}  // namespace

Result<std::vector<std::string>> RecoverDeployments(state::StateStore& store,
                                                    runtime::Target& target, const os::Clock& clock,
                                                    const ApplyOptions& options) {
  LS_ASSIGN_OR_RETURN(std::vector<state::DeploymentRecord> unfinished, store.Unfinished());
  std::vector<std::string> lines;
  // Each on its own: one that cannot be resolved does not keep the others from it.
  for (const state::DeploymentRecord& d : unfinished) {
    Result<std::string> line = Recover(store, target, clock, options, d);
    lines.push_back(line.ok() ? *line
                              : "deployment " + std::to_string(d.id) + " of " + d.environment +
                                    " left unfinished: " + line.status().message());
  }
  return lines;
}

}  // namespace lockstep::engine
