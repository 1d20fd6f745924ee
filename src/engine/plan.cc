#include "engine/plan.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "base/strings.h"

namespace lockstep::engine {

namespace bj = boost::json;

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kNone:
      return "none";
    case Action::kAdd:
      return "add";
    case Action::kChange:
      return "change";
    case Action::kRemove:
      return "remove";
  }
  return "?";
}

void Plan::Tighten(const deploy::Environment& at_head) {
  if (kind == "apply" && at_head.approval == deploy::Approval::kRequired) {
    approval_required = true;
    approvals_needed = std::max({approvals_needed, at_head.approvals, 1});
  }
  if (!at_head.promote_from.empty()) promote_from = at_head.promote_from;
  soak_seconds = std::max(soak_seconds, at_head.soak_seconds);
}

bool Plan::HasChanges() const {
  for (const ServicePlan& s : services) {
    if (s.action != Action::kNone) return true;
  }
  return false;
}

bool Plan::HasDrift() const {
  for (const ServicePlan& s : services) {
    if (!s.drift.empty()) return true;
  }
  return false;
}

namespace {

std::string List(const std::vector<std::string>& items) {
  bj::array a;
  for (const std::string& s : items) a.emplace_back(s);
  return bj::serialize(a);
}

// "64Mi", "1Gi", as the repository says memory.
std::string Memory(uint64_t bytes) {
  if (bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "Gi";
  if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "Mi";
  return std::to_string(bytes >> 10) + "Ki";
}

std::string Cores(uint32_t shares) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(shares) / 1024.0);
  return buf;
}

std::string Millis(int64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

std::map<std::string, std::string> ConfigKeys(const deploy::DeployedService& s) {
  const ReleaseConfig& c = s.release.config;
  std::map<std::string, std::string> k;
  k["kind"] = std::string(KindName(c.kind));
  k["image"] = s.release.image.registry + "/" + s.release.image.repository;
  if (!c.entrypoint.empty()) k["entrypoint"] = List(c.entrypoint);
  if (!c.cmd.empty()) k["command"] = List(c.cmd);
  if (!c.user.empty()) k["user"] = c.user;
  for (const auto& [name, value] : c.env) k["env." + name] = value;
  k["limits.memory"] = Memory(c.limits.memory_bytes);
  k["limits.cpu"] = Cores(c.limits.cpu_shares);
  k["limits.pids"] = std::to_string(c.limits.pids);
  k["grants.network"] = std::string(NetworkName(c.network));
  for (const VolumeGrant& v : c.volumes) k["grants.volumes." + v.name] = v.writable ? "rw" : "ro";
  if (c.root) k["grants.root"] = "true";
  if (!c.syscalls.empty()) k["grants.syscalls"] = List(c.syscalls);
  if (c.kind == ReleaseKind::kFunction) {
    k["limits.timeout"] = Millis(c.limits.timeout_ms);
    if (!s.schedule.empty()) k["schedule"] = s.schedule;
  } else {
    k["service.port"] = std::to_string(s.public_port);
    k["service.drain"] = Millis(s.drain_ms);
    k["service.health.path"] = c.health.path;
    k["service.health.interval"] = Millis(c.health.interval_ms);
    k["service.health.timeout"] = Millis(c.health.timeout_ms);
    k["service.health.successes"] = std::to_string(c.health.successes);
  }
  return k;
}

namespace {

std::vector<KeyChange> Diff(const std::map<std::string, std::string>& from,
                            const std::map<std::string, std::string>& to) {
  std::set<std::string> keys;
  for (const auto& [k, v] : from) keys.insert(k);
  for (const auto& [k, v] : to) keys.insert(k);
  std::vector<KeyChange> out;
  for (const std::string& key : keys) {
    auto a = from.find(key);
    auto b = to.find(key);
    std::string va = a == from.end() ? "" : a->second;
    std::string vb = b == to.end() ? "" : b->second;
    bool same = (a == from.end()) == (b == to.end()) && va == vb;
    if (!same) out.push_back({key, va, vb});
  }
  return out;
}

std::string Digest(const deploy::DeployedService& s) {
  return s.release.image.digest ? s.release.image.digest->str() : "";
}

// How what runs differs from the record, or "" when it does not.
// `routed` is the service's routed instance, if any.
std::string DriftOf(const deploy::DeployedService* recorded, const std::string& recorded_id,
                    const runtime::ObservedInstance* routed) {
  if (recorded == nullptr || recorded->release.config.kind == ReleaseKind::kFunction) return "";
  if (routed == nullptr) return "no instance of it is routed";
  if (routed->release_id != recorded_id) {
    return "instance " + routed->instance_id + " runs release " + routed->release_id +
           ", not the recorded " + recorded_id;
  }
  if (routed->status != "running") {
    return "instance " + routed->instance_id + " is " + routed->status + ", not running";
  }
  if (routed->health == runtime::HealthState::kUnhealthy) {
    return "instance " + routed->instance_id + " fails its health check";
  }
  return "";
}

}  // namespace

Plan MakePlan(const std::string& environment, const std::string& commit, const std::string& lineage,
              int64_t serial, const std::map<std::string, deploy::DeployedService>& desired,
              const std::map<std::string, deploy::DeployedService>& recorded,
              const std::vector<runtime::ObservedInstance>& observed) {
  Plan plan{.environment = environment,
            .commit = commit,
            .lineage = lineage,
            .serial = serial,
            .desired = desired};
  std::map<std::string, const runtime::ObservedInstance*> routed;
  for (const runtime::ObservedInstance& o : observed) {
    if (o.routed) routed[o.service] = &o;
  }
  std::set<std::string> names;
  for (const auto& [name, s] : desired) names.insert(name);
  for (const auto& [name, s] : recorded) names.insert(name);
  for (const std::string& name : names) {
    auto want = desired.find(name);
    auto had = recorded.find(name);
    const deploy::DeployedService* to = want == desired.end() ? nullptr : &want->second;
    const deploy::DeployedService* from = had == recorded.end() ? nullptr : &had->second;
    ServicePlan sp;
    sp.service = name;
    sp.kind = (to ? to : from)->release.config.kind;
    if (from != nullptr) {
      sp.from_version = from->version;
      sp.from_digest = Digest(*from);
      sp.from_release = ReleaseId(from->release);
    }
    if (to != nullptr) {
      sp.to_version = to->version;
      sp.to_digest = Digest(*to);
      sp.to_release = ReleaseId(to->release);
    }
    if (from == nullptr) {
      sp.action = Action::kAdd;
      sp.changes = Diff({}, ConfigKeys(*to));
    } else if (to == nullptr) {
      sp.action = Action::kRemove;
    } else {
      // The same release (digest and config) with the same port, drain and schedule has
      // the same keys: most services of most plans, so not compared key by key.
      // Compared by value, not by release id: the id is a short hash, and a plan must not
      // call two configurations the same on its word.
      bool same_release = from->release.config == to->release.config &&
                          from->release.image.digest == to->release.image.digest &&
                          from->release.image.registry == to->release.image.registry &&
                          from->release.image.repository == to->release.image.repository &&
                          from->public_port == to->public_port && from->drain_ms == to->drain_ms &&
                          from->schedule == to->schedule;
      if (!same_release) sp.changes = Diff(ConfigKeys(*from), ConfigKeys(*to));
      bool same = same_release && sp.from_version == sp.to_version;
      sp.action = same ? Action::kNone : Action::kChange;
    }
    auto instance = routed.find(name);
    sp.drift =
        DriftOf(from, sp.from_release, instance == routed.end() ? nullptr : instance->second);
    if (from == nullptr && instance != routed.end()) {
      sp.drift = "instance " + instance->second->instance_id +
                 " is routed, though nothing is recorded for it";
    }
    plan.services.push_back(std::move(sp));
  }
  // Routed instances of services neither recorded nor in the repository.
  for (const auto& [service, o] : routed) {
    if (names.contains(service)) continue;
    ServicePlan sp;
    sp.service = service;
    sp.drift = "instance " + o->instance_id +
               " is routed, though the service is neither recorded nor in the repository";
    plan.services.push_back(std::move(sp));
  }
  std::sort(plan.services.begin(), plan.services.end(),
            [](const ServicePlan& a, const ServicePlan& b) { return a.service < b.service; });
  return plan;
}

std::string DetailsJson(const deploy::DeployedService& s) {
  // The image reference travels here: a release id covers the digest and the config, not
  // where the image is fetched from, so two services may run one release from two names.
  return bj::serialize(bj::object{{"public_port", s.public_port},
                                  {"drain_ms", s.drain_ms},
                                  {"schedule", s.schedule},
                                  {"registry", s.release.image.registry},
                                  {"repository", s.release.image.repository},
                                  {"tag", s.release.image.tag.value_or("")},
                                  {"source", s.source_commit}});
}

Result<deploy::DeployedService> FromRecord(const std::string& service, const std::string& version,
                                           const std::string& release_spec,
                                           const std::string& details) {
  LS_ASSIGN_OR_RETURN(Release release, ReleaseFromJson(release_spec));
  deploy::DeployedService s;
  s.service = service;
  s.version = version;
  s.release = std::move(release);
  bj::error_code ec;
  bj::value v = bj::parse(details, ec);
  const bj::object* o = ec ? nullptr : v.if_object();
  const bj::value* port = o ? o->if_contains("public_port") : nullptr;
  const bj::value* drain = o ? o->if_contains("drain_ms") : nullptr;
  const bj::value* schedule = o ? o->if_contains("schedule") : nullptr;
  bool is_service = s.release.config.kind == ReleaseKind::kService;
  bool ok = port && port->is_int64() && drain && drain->is_int64() && schedule &&
            schedule->is_string() && port->as_int64() >= (is_service ? 1 : 0) &&
            port->as_int64() <= 65535 && drain->as_int64() >= 0 && drain->as_int64() <= 3'600'000;
  if (!ok) {
    return Internal("the recorded details of " + service +
                    " are not what lockstep records: " + details.substr(0, 200));
  }
  s.public_port = static_cast<uint16_t>(port->as_int64());
  s.drain_ms = drain->as_int64();
  s.schedule = std::string(schedule->as_string());
  const bj::value* registry = o->if_contains("registry");
  const bj::value* repository = o->if_contains("repository");
  const bj::value* tag = o->if_contains("tag");
  if (!registry || !registry->is_string() || !repository || !repository->is_string() || !tag ||
      !tag->is_string()) {
    return Internal("the recorded details of " + service +
                    " do not say where its image is fetched from: " + details.substr(0, 200));
  }
  s.release.image.registry = std::string(registry->as_string());
  s.release.image.repository = std::string(repository->as_string());
  s.release.image.tag =
      tag->as_string().empty() ? std::nullopt : std::optional(std::string(tag->as_string()));
  // Recorded since rollbacks write back to git; older records do not say.
  if (const bj::value* source = o->if_contains("source"); source && source->is_string()) {
    s.source_commit = std::string(source->as_string());
  }
  return s;
}

namespace {

struct Colours {
  bool on;
  std::string Green(const std::string& s) const { return on ? "\x1b[32m" + s + "\x1b[0m" : s; }
  std::string Red(const std::string& s) const { return on ? "\x1b[31m" + s + "\x1b[0m" : s; }
  std::string Yellow(const std::string& s) const { return on ? "\x1b[33m" + s + "\x1b[0m" : s; }
};

std::string Artifact(const std::string& version, const std::string& digest) {
  return version + " (" + (digest.size() > 19 ? digest.substr(0, 19) : digest) + ")";
}

}  // namespace

std::string PlanText(const Plan& plan, bool colour) {
  Colours c{colour};
  std::string out;
  int adds = 0, changes = 0, removes = 0, drifted = 0;
  for (const ServicePlan& s : plan.services) {
    if (!s.drift.empty()) ++drifted;
    if (s.action == Action::kNone) {
      if (!s.drift.empty()) out += c.Yellow("! " + s.service) + ": drifted: " + s.drift + "\n";
      continue;
    }
    std::string kind(KindName(s.kind));
    if (s.action == Action::kAdd) {
      ++adds;
      out += c.Green("+ " + s.service) + " (" + kind + "): " + Artifact(s.to_version, s.to_digest) +
             "\n";
      for (const KeyChange& k : s.changes) out += "    " + k.key + " = " + k.to + "\n";
    } else if (s.action == Action::kRemove) {
      ++removes;
      out += c.Red("- " + s.service) + " (" + kind +
             "): " + Artifact(s.from_version, s.from_digest) + " is removed\n";
    } else {
      ++changes;
      out += c.Yellow("~ " + s.service) + " (" + kind + ")";
      if (s.from_digest != s.to_digest || s.from_version != s.to_version) {
        out += ": " + Artifact(s.from_version, s.from_digest) + " → " +
               Artifact(s.to_version, s.to_digest);
      }
      out += "\n";
      for (const KeyChange& k : s.changes) {
        out += "    " + k.key + ": " + (k.from.empty() ? "(unset)" : k.from) + " → " +
               (k.to.empty() ? "(unset)" : k.to) + "\n";
      }
    }
    if (!s.drift.empty()) out += "    " + c.Yellow("drifted: " + s.drift) + "\n";
  }
  for (const HeldService& h : plan.held) {
    const ServicePlan& w = h.wanted;
    out += c.Yellow("= " + w.service) + ": held by " + h.by +
           (h.reason.empty() ? "" : " (" + h.reason + ")") + "; git would ";
    if (w.action == Action::kRemove) {
      out += "remove it";
    } else if (w.from_digest != w.to_digest || w.from_version != w.to_version) {
      out += "move it " + Artifact(w.from_version, w.from_digest) + " → " +
             Artifact(w.to_version, w.to_digest);
    } else {
      out += "change " + std::to_string(w.changes.size()) + " key(s)";
    }
    out += "; `lockstep hold release " + plan.environment + " " + w.service +
           " --reason TEXT` lets it move\n";
  }
  std::string summary = (plan.kind == "rollback" ? "rollback of " : "") + plan.environment +
                        " at " + plan.commit.substr(0, 12) + ": ";
  if (adds + changes + removes == 0) {
    summary += "no changes";
  } else {
    summary += std::to_string(adds) + " to add, " + std::to_string(changes) + " to change, " +
               std::to_string(removes) + " to remove";
  }
  if (drifted > 0) summary += "; " + std::to_string(drifted) + " drifted from the record";
  if (!plan.held.empty()) summary += "; " + std::to_string(plan.held.size()) + " held";
  return out + summary + "\n";
}

namespace {

bj::object ServicePlanJson(const ServicePlan& s) {
  bj::array changes;
  for (const KeyChange& k : s.changes) {
    changes.push_back(bj::object{{"key", k.key}, {"from", k.from}, {"to", k.to}});
  }
  auto side = [](const std::string& version, const std::string& digest,
                 const std::string& release) -> bj::value {
    if (release.empty()) return nullptr;
    return bj::object{{"version", version}, {"digest", digest}, {"release", release}};
  };
  return bj::object{
      {"service", s.service},
      {"kind", KindName(s.kind)},
      {"action", ActionName(s.action)},
      {"from", side(s.from_version, s.from_digest, s.from_release)},
      {"to", side(s.to_version, s.to_digest, s.to_release)},
      {"changes", changes},
      {"drift", s.drift.empty() ? bj::value(nullptr) : bj::value(s.drift)},
  };
}

}  // namespace

std::string PlanJson(const Plan& plan, const std::string& plan_id) {
  bj::array services;
  for (const ServicePlan& s : plan.services) services.push_back(ServicePlanJson(s));
  bj::array held;
  for (const HeldService& h : plan.held) {
    held.push_back(bj::object{{"service", h.wanted.service},
                              {"held_by", h.by},
                              {"reason", h.reason},
                              {"since", h.since},
                              {"wanted", ServicePlanJson(h.wanted)}});
  }
  return bj::serialize(
      bj::object{{"format", 1},
                 {"plan_id", plan_id},
                 {"kind", plan.kind},
                 {"environment", plan.environment},
                 {"commit", plan.commit},
                 {"lineage", plan.lineage},
                 {"serial", plan.serial},
                 {"approval", plan.approval_required ? "required" : "none"},
                 {"approvals_needed", plan.approvals_needed},
                 {"promote_from",
                  plan.promote_from.empty() ? bj::value(nullptr) : bj::value(plan.promote_from)},
                 {"changes", plan.HasChanges()},
                 {"drift", plan.HasDrift()},
                 {"services", services},
                 {"held", held}});
}

}  // namespace lockstep::engine
