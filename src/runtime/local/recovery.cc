// Re-adoption after lockstep restarts: containers are not children of lockstep and keep
// running without it. Finishes retirements a crash interrupted, removes invocations whose
// caller is gone and bundles without a container, and takes every running or stopped
// service instance back under supervision.
#include <set>

#include "base/strings.h"
#include "os/file.h"
#include "runtime/local/cgroups.h"
#include "runtime/local/local_target.h"
#include "runtime/local/local_target_internal.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;

Status LocalTarget::Recover() {
  images_.SweepTemporaries();
  LS_ASSIGN_OR_RETURN(std::vector<ContainerState> containers, runc_.List());
  std::set<std::string> known;
  for (const ContainerState& c : containers) {
    known.insert(c.id);
    if (os::Exists(options_.dir / "instances" / c.id / "retiring")) {
      // A retirement that a crash interrupted: finished now.
      (void)runc_.Delete(c.id, true);
      (void)RemoveBundle(options_.dir / "instances" / c.id);
      known.erase(c.id);
      continue;
    }
    if (c.id.starts_with("inv-")) {
      // An invocation whose caller is gone: nobody waits for its result. (One a `lockstep
      // run` beside this server is running holds its bundle's lock, and is left alone.)
      if (!InvocationInProgress(options_.dir / "invocations" / c.id)) {
        (void)runc_.Delete(c.id, true);
        (void)os::RemoveTree(options_.dir / "invocations" / c.id);
        known.erase(c.id);
      }
      continue;
    }
    auto get = [&c](const char* key) {
      auto it = c.annotations.find(key);
      return it == c.annotations.end() ? std::string() : it->second;
    };
    auto instance = std::make_shared<Instance>();
    instance->id = c.id;
    instance->where = {get(kAnnotationEnvironment), get(kAnnotationService)};
    instance->release_id = get(kAnnotationRelease);
    instance->port = static_cast<uint16_t>(ParseUint(get(kAnnotationPort)).value_or(0));
    instance->netns = get(kAnnotationNetns);
    instance->pid = c.status == "running" ? c.pid : 0;
    Result<std::shared_ptr<const Prepared>> prepared = Load(instance->release_id);
    if (!prepared.ok() || instance->port == 0) continue;  // not one of ours to supervise
    instance->check = (*prepared)->release.config.health;
    instance->next_check = clock_->Now();
    instance->started = instance->next_check;
    // An instance that stopped while nobody supervised it starts again at once.
    instance->health.state = instance->pid != 0 ? HealthState::kStarting : HealthState::kExited;
    instance->health.since_unix = clock_->NowSeconds();
    instance->next_restart = clock_->Now();
    instances_[c.id] = instance;
  }
  RemoveIdleInvocationCgroups(cgroup_scope_, [this](const std::string& id) {
    return InvocationInProgress(options_.dir / "invocations" / id);
  });
  // Bundles without a container were being started or retired when the process died.
  for (const char* sub : {"instances", "invocations"}) {
    Result<std::vector<std::string>> names = os::ListDir(options_.dir / sub);
    if (!names.ok()) continue;
    for (const std::string& n : *names) {
      fs::path bundle = options_.dir / sub / n;
      if (known.contains(n) || InvocationInProgress(bundle)) continue;
      (void)RemoveBundle(bundle);
    }
  }
  return LoadRoutes();
}

}  // namespace lockstep::runtime::local
