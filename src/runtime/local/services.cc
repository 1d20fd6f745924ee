// Services: start, health and retire. Routes are in routes.cc, supervision (restarts and
// health checks) in supervisor.cc, re-adoption after a restart of lockstep in recovery.cc.
//
// Cutover without failed requests rests on three rules:
//   1. Nothing is routed before it is healthy (SwitchRoutes refuses).
//   2. A switch publishes one new routing table; requests pick a backend once.
//   3. Retire refuses a routed instance and waits until no table and no request holds
//      its Backend (router.h) before it sends SIGTERM.
#include "base/strings.h"
#include "os/file.h"
#include "os/netns.h"
#include "os/process.h"
#include "os/random.h"
#include "runtime/local/health_probe.h"
#include "runtime/local/local_target.h"
#include "runtime/local/local_target_internal.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

bool ProcessRunning(int pid) {
  std::optional<os::ProcessStat> stat = os::ReadProcessStat(pid);
  return stat && stat->state != 'Z';
}

Status RemoveBundle(const fs::path& bundle) {
  if (os::Exists(bundle / "netns"))
    LS_RETURN_IF_ERROR(os::RemoveNetworkNamespace(bundle / "netns"));
  return os::RemoveTree(bundle);
}

Result<std::string> LocalTarget::Start(const Placement& where, const std::string& release_id) {
  LS_RETURN_IF_ERROR(ValidatePlacement(where));
  LS_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared, Load(release_id));
  if (prepared->release.config.kind != ReleaseKind::kService) {
    return FailedPrecondition("release " + release_id +
                              " is a function; functions are invoked, "
                              "not started");
  }
  auto instance = std::make_shared<Instance>();
  instance->id = where.environment + "." + where.service + "." + HexEncode(os::RandomBytes(4));
  instance->where = where;
  instance->release_id = release_id;
  instance->check = prepared->release.config.health;
  instance->health.since_unix = clock_->NowSeconds();
  fs::path bundle = options_.dir / "instances" / instance->id;
  LS_RETURN_IF_ERROR(os::MakeDirs(bundle));
  // Without the host network granted, the instance gets a namespace of its own, made here
  // so it outlives restarts of the container; the proxy and the health checks connect
  // from inside it.
  if (prepared->release.config.network == NetworkGrant::kNone) {
    instance->netns = (bundle / "netns").string();
    instance->port = kIsolatedServicePort;
    if (Status s = os::CreateNetworkNamespace(instance->netns); !s.ok()) {
      (void)os::RemoveTree(bundle);
      return s;
    }
  } else {
    LS_ASSIGN_OR_RETURN(instance->port, PickFreePort());
  }
  auto undo = [&] {
    (void)runc_.Delete(instance->id, true);
    if (!instance->netns.empty()) (void)os::RemoveNetworkNamespace(instance->netns);
    (void)os::RemoveTree(bundle);
  };

  std::string port = std::to_string(instance->port);
  Result<std::string> spec =
      SpecFor(*prepared, where, {{"PORT", port}}, "/lockstep/" + instance->id,
              {{kAnnotationPort, port}, {kAnnotationNetns, instance->netns}}, instance->netns);
  Status written = spec.ok() ? os::WriteFileAtomic(bundle / "config.json", *spec) : spec.status();
  Result<os::UniqueFd> log =
      written.ok() ? os::OpenAppend(bundle / "log") : Result<os::UniqueFd>(written);
  Result<int> started =
      log.ok() ? runc_.RunDetached(instance->id, bundle, log->get()) : Result<int>(log.status());
  if (!started.ok()) {
    undo();
    return started.status();
  }
  instance->pid = *started;
  instance->next_check = clock_->Now();
  instance->started = instance->next_check;
  {
    std::lock_guard lock(mutex_);
    instances_[instance->id] = instance;
    woken_ = true;  // its first check is due now, not at the supervisor's next round
  }
  wake_.notify_all();
  return instance->id;
}

Result<InstanceHealth> LocalTarget::Health(const std::string& instance_id) {
  std::lock_guard lock(mutex_);
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) return NotFound("no instance '" + instance_id + "'");
  return it->second->health;
}

Status LocalTarget::Retire(const std::string& instance_id, milliseconds drain) {
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard switching(routes_mutex_);
    std::lock_guard lock(mutex_);
    auto it = instances_.find(instance_id);
    if (it == instances_.end()) return NotFound("no instance '" + instance_id + "'");
    instance = it->second;
    std::shared_ptr<const RoutingTable> table = router_->Current();
    for (const auto& [port, b] : table->by_port) {
      if (b->instance_id == instance_id) {
        return FailedPrecondition(
            "instance " + instance_id + " serves public port " + std::to_string(port),
            "switch its route to another instance first");
      }
    }
    instance->retiring = true;
  }
  // Journaled: if lockstep dies from here on, the next start finishes the retirement
  // instead of restarting the instance.
  LS_RETURN_IF_ERROR(
      os::WriteFileAtomic(options_.dir / "instances" / instance_id / "retiring", ""));
  // Requests that picked this instance before the switch finish first.
  (void)Router::WaitDrained(router_->LastBackendOf(instance_id), drain, *clock_);
  std::lock_guard life(instance->lifecycle);  // no restart runs from here on

  (void)runc_.Kill(instance_id, "TERM");
  auto deadline = clock_->Now() + options_.stop_grace;
  while (ProcessRunning(instance->pid) && clock_->Now() < deadline) {
    clock_->SleepFor(milliseconds(10));
  }
  Status deleted = runc_.Delete(instance_id, true);
  if (!deleted.ok() && deleted.code() != Code::kNotFound) return deleted;
  LS_RETURN_IF_ERROR(RemoveBundle(options_.dir / "instances" / instance_id));
  std::lock_guard lock(mutex_);
  instances_.erase(instance_id);
  return Status::Ok();
}

}  // namespace lockstep::runtime::local
