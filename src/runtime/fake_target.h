// An in-memory Target for unit tests of the logic that drives targets (the engine's plan,
// apply and rollback). It keeps the real target's rules — release ids, only healthy
// instances routed, one-step switches, routed instances not retired — without containers,
// and lets a test script health, invocation results and failures of any step.
//
// Not for integration tests: those run the local target with real runc. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runtime/router.h"
#include "runtime/target.h"

namespace lockstep::runtime {

class FakeTarget final : public Target {
 public:
  enum class Step { kPrepare, kStart, kSwitch, kRetire, kInvoke };

  explicit FakeTarget(Router* router = nullptr);

  // Every started instance reports `state` from now on (default: healthy at once).
  void SetHealthOnStart(HealthState state);
  // Instances of `service` started from now on report `state` (over the default above).
  void SetHealthOnStart(const std::string& service, HealthState state);
  void SetHealth(const std::string& instance_id, HealthState state);
  // The next call of `step` fails with `status` (once). Each step fails before it changes
  // anything, but for Retire, which fails after it began, as the local target's can: the
  // instance stays retiring and is never routed again.
  void FailNext(Step step, Status status);
  // What Invoke returns for a release (default: exit 0, the event echoed as output).
  void OnInvoke(std::function<Invocation(const Release&, const InvokeRequest&)> handler);

  // What happened, in order ("prepare r…", "start prod/web r…", "switch prod web=…",
  // "retire …", "invoke prod/fn r…").
  std::vector<std::string> Calls() const;

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

 private:
  struct Instance {
    Placement where;
    std::string release_id;
    HealthState health;
    bool retiring = false;
  };
  Status Injected(Step step);  // the scripted failure of `step`, if any (lock held)

  mutable std::mutex mutex_;
  Router own_router_;
  Router* router_;
  std::map<std::string, Release> releases_;
  std::map<std::string, Instance> instances_;
  std::map<Step, Status> failures_;
  HealthState health_on_start_ = HealthState::kHealthy;
  std::map<std::string, HealthState> service_health_on_start_;
  std::function<Invocation(const Release&, const InvokeRequest&)> on_invoke_;
  std::vector<std::string> calls_;
  int next_instance_ = 0;
  int next_invocation_ = 0;
};

}  // namespace lockstep::runtime
