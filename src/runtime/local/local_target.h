// The embedded target: releases run as OCI containers with runc on this host.
//
// Layout under the data directory (`<data>/runtime/`):
//   images/            OCI layout of every image fetched, by digest
//   layers/DIFF_ID/    each layer unpacked once (image_store.h)
//   releases/ID/       prepared.json, skeleton/, rootfs/ (read-only overlay, rootfs.h)
//   instances/ID/      a service instance's bundle: config.json, log, netns, retiring
//   invocations/ID/    a function invocation's bundle, removed when it ends
//   logs/ID.log        the log of each recent invocation
//   volumes/ENV/NAME/  the named volumes of each environment
//   runc/              runc's state (`runc --root`): only lockstep's containers
//   routes.json        the routing table, rewritten atomically on every switch
//
// What runs is read back from runc and the bundles, never only remembered: a new
// LocalTarget over the same directory re-adopts running service instances, restarts
// stopped ones, removes what a crash left half-made (invocation containers, bundles with
// no container) and publishes the saved routes, so the proxy serves what was live.
//
// Every container gets a network namespace of its own with only loopback, unless its
// release is granted the host's. A service listens on $PORT: 8080 inside its instance's
// namespace (held on instances/ID/netns, so it outlives restarts; the proxy and health
// checks connect from inside it), or a free loopback port lockstep picks when it shares
// the host's network. The front proxy forwards public ports to them.
//
// Thread-safe. Needs root (runc, overlay mounts, cgroups).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "os/file_lock.h"
#include "runtime/local/image_store.h"
#include "runtime/local/runc.h"
#include "runtime/router.h"
#include "runtime/target.h"

namespace lockstep::runtime::local {

struct LocalTargetOptions {
  std::filesystem::path dir;  // <data>/runtime
  ImageFetcher fetch;
  Router* router = nullptr;                    // where routes are published; owned by the caller
  uint64_t log_bytes = 1 << 20;                // kept per instance and per invocation
  uint64_t max_output_bytes = 6 << 20;         // a function's stdout beyond this is cut
  std::chrono::milliseconds stop_grace{5000};  // SIGTERM → SIGKILL when retiring
  // What the supervisor, drains and stops read time from; the system clock when null.
  // (poll(2) timeouts of real descriptors, in invocations and health checks, are the
  // kernel's.)
  const os::Clock* clock = nullptr;
  // The owner of the directory (the server; one process at a time, by a lock) recovers
  // what a crash left, re-adopts instances, restarts exited ones and runs health checks.
  // One-off users (`lockstep run`) only prepare and invoke.
  bool own = true;
};

class LocalTarget final : public Target {
 public:
  // Creates the directories, re-adopts what runs and publishes the saved routes.
  static Result<std::unique_ptr<LocalTarget>> Open(LocalTargetOptions options);
  ~LocalTarget() override;  // stops supervising; instances keep running

  Result<PreparedRelease> Prepare(const Release& release) override;
  Result<std::string> Start(const Placement& where, const std::string& release_id) override;
  Result<InstanceHealth> Health(const std::string& instance_id) override;
  Status SwitchRoutes(const std::string& environment, const RouteChanges& changes) override;
  Status Retire(const std::string& instance_id, std::chrono::milliseconds drain) override;
  Result<Invocation> Invoke(const Placement& where, const std::string& release_id,
                            const InvokeRequest& request) override;
  Result<std::vector<ObservedInstance>> Observe(const std::string& environment) override;
  Result<std::map<std::string, std::string>> Routed(const std::string& environment) override;
  Result<std::string> Logs(const std::string& id, uint64_t max_bytes) override;

  // The service instances this target supervises (running or being restarted).
  std::vector<std::string> InstanceIds();

  // Unmounts and removes a prepared release no instance runs (old releases, tests).
  Status Unprepare(const std::string& release_id);

  // The host directory of an environment's volume (created on first use).
  Result<std::filesystem::path> Volume(const std::string& environment, const std::string& name);

  // The root filesystem of a prepared release (for comparing with a bare `runc run`).
  Result<std::filesystem::path> RootfsOf(const std::string& release_id);

  // The runtime config an invocation of a function release gets (minus lockstep's cgroup
  // nesting): for comparing with a bare `runc run` of the same bundle.
  Result<std::string> FunctionSpec(const Placement& where, const std::string& release_id);

  const Runc& runc() const { return runc_; }
  // Names this directory among lockstep's cgroups (/lockstep/SCOPE/...).
  const std::string& cgroup_scope() const { return cgroup_scope_; }

 private:
  struct Prepared;
  struct Instance;

  explicit LocalTarget(LocalTargetOptions options);
  Status Recover();
  Result<std::shared_ptr<const Prepared>> Load(const std::string& release_id);
  Result<std::string> SpecFor(const Prepared& prepared, const Placement& where,
                              const std::map<std::string, std::string>& extra_env,
                              const std::string& cgroups_path,
                              std::map<std::string, std::string> annotations,
                              const std::string& netns = "");
  // Saves `table` to routes.json, then publishes it.
  Status PublishRoutes(std::shared_ptr<const RoutingTable> table);
  Status LoadRoutes();
  void Supervise();
  // Handles an exit (restart with backoff); true when a health check is due.
  bool CheckInstance(const std::string& id);
  void Probe(const std::string& id);
  void TrimLog(const std::filesystem::path& log);

  LocalTargetOptions options_;
  std::unique_ptr<Router> own_router_;  // when the options gave none
  Router* router_;
  os::SystemClock system_clock_;
  const os::Clock* clock_;  // options_.clock, else &system_clock_
  Runc runc_;
  ImageStore images_;
  std::string cgroup_scope_;  // names this directory among lockstep's cgroups

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Prepared>> prepared_;
  std::map<std::string, std::shared_ptr<Instance>> instances_;
  std::mutex routes_mutex_;   // one switch at a time
  std::mutex prepare_mutex_;  // one prepare at a time
  std::mutex load_mutex_;     // one first load (and mount) of a prepared release at a time

  std::atomic<uint64_t> invocations_{0};
  std::atomic<bool> stopping_{false};
  std::condition_variable wake_;
  bool woken_ = false;  // (mutex_) a new instance or an ended check: the supervisor looks again
  std::optional<os::FileLock> owner_lock_;
  std::thread supervisor_;
};

}  // namespace lockstep::runtime::local
