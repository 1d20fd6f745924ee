// Applying a saved plan, all or nothing. Every step is journaled before it is taken:
//
//   begin                        the deployment is recorded, the environment's lease held
//   prepare SERVICE              each release of the plan made runnable (functions too)
//   start SERVICE / started      a new instance of each service, not routed
//   reuse SERVICE                instead of a start: the service's standby (the instance it
//                                ran before, kept for the rollback window) runs that release
//   healthy SERVICE              each new instance passed its health check
//   switch                       one SwitchRoutes: every service of the plan moves at once
//   commit                       one state transaction: the current releases, the serial,
//                                history, a rollback's holds (the commit point)
//   standby SERVICE              the instance the switch left unrouted, kept running for the
//                                environment's rollback window (recorded at the commit)
//   retire SERVICE               the instances the switch left unrouted (without a window)
//                                and the standbys replaced, drained, stopped
//   finish                       the outcome
//
// If an instance fails to prepare, start or become healthy, nothing switches, the staged
// instances are retired and the deployment is recorded as failed with the reason. A crash
// before the commit point is undone by recovery (recovery.h), one after it finished.
// Every write checks the lease's fencing token, renewed by a heartbeat while the apply runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/plan.h"
#include "os/clock.h"
#include "runtime/target.h"
#include "state/engine_state.h"

namespace lockstep::engine {

struct ApplyOptions {
  std::chrono::seconds lease_ttl{30};
  // How long new instances get to become healthy, all together.
  std::chrono::milliseconds health_timeout{120'000};
  // How often the target's health (its own checks' last result, in memory) is read: a
  // lock and a lookup, so often enough to add nothing to an apply that waits on it.
  std::chrono::milliseconds health_poll{1};
  // A saved plan older than this is refused.
  std::chrono::seconds max_plan_age{24 * 3600};
  // An approval older than this no longer counts.
  std::chrono::seconds approval_max_age{24 * 3600};
  // The public key (PEM) attestations are checked with; empty: none verifies.
  std::string attestation_key;
  // The deploy repository's branch: its head's lockstep.toml says what an apply needs.
  std::string branch = "main";
  // Whether `approver` (a token's name) still approves plans of `environment`: an approval
  // by a token revoked or narrowed since does not count. Unset: every approval stands.
  std::function<bool(const std::string& approver, const std::string& environment)> approver_stands;
  // For the crash tests only: the process kills itself (SIGKILL) right after journaling
  // the Nth step of an apply, before taking it. 0: never.
  int64_t kill_after_step = 0;
};

// Why `plan` no longer fits the environment as recorded (`env`: its record, if any): its
// lineage or serial moved since. "" while it fits.
std::string Staleness(const state::PlanRecord& plan,
                      const std::optional<state::EnvironmentRecord>& env);

// Who applies, and why (for history and the audit log).
struct Requester {
  std::string actor;
  std::string reason;
  // An admin's reason to apply a plan that brings a digest without the upstream
  // attestation it needs (the caller checked the role); empty: none is missing.
  std::string attestation_override;
};

class Apply {
 public:
  // Takes the environment's lease and refuses, changing nothing, a plan that is stale
  // (the environment's lineage or serial moved since, or the plan is older than
  // max_plan_age), not approved as its environment requires (approvals.h), bringing a
  // digest without an attestation from the environment it promotes from (attestations.h;
  // unless `requester` overrides that, audited), or whose environment is locked; then
  // records the deployment as running, with its approvals.
  // `at_head`: the environment as lockstep.toml at the branch's head says (Plan::Tighten),
  // when it could be read.
  static Result<std::unique_ptr<Apply>> Begin(state::StateStore& store, runtime::Target& target,
                                              const os::Clock& clock, const state::PlanRecord& plan,
                                              const Requester& requester,
                                              const ApplyOptions& options,
                                              const std::optional<deploy::Environment>& at_head);
  ~Apply();

  int64_t deployment_id() const { return deployment_id_; }

  // Takes every step and records the outcome; `stop` set ends a wait for health early
  // (the apply then fails and undoes what it staged).
  state::Outcome Run(const std::atomic<bool>& stop);

 private:
  struct Staged {
    const deploy::DeployedService* desired = nullptr;
    std::string release_id;
    std::string instance_id;  // services: the new instance
    bool healthy = false;
    bool reused = false;    // instance_id is the service's standby, not started by this apply
    bool keep_old = false;  // the instance switched away from becomes the standby
  };
  Apply(state::StateStore& store, runtime::Target& target, const os::Clock& clock, Plan plan,
        Requester requester, state::Lease lease, int64_t deployment_id,
        const ApplyOptions& options);

  Status Journal(const std::string& step, const std::string& service, const std::string& detail);
  Status Stage(const std::atomic<bool>& stop, std::vector<Staged>& staged);
  Status AwaitHealthy(const std::atomic<bool>& stop, std::vector<Staged>& staged);
  Status Commit(const std::vector<Staged>& staged,
                const std::map<std::string, state::CurrentRecord>& before,
                const std::map<std::string, std::string>& routed_before);
  // Whether the instance `s`'s service ran until now (`routed`, `old`) becomes its standby.
  bool KeepsAsStandby(const Staged& s, std::map<std::string, std::string>::const_iterator routed,
                      const std::map<std::string, std::string>& routed_before,
                      std::map<std::string, state::CurrentRecord>::const_iterator old,
                      const std::map<std::string, state::CurrentRecord>& before);
  // After the commit: keeps or retires what the switch left unrouted, and retires the
  // standbys replaced; the errors, for the reason.
  std::string RetireLeftBehind(const std::vector<Staged>& staged,
                               const std::map<std::string, state::CurrentRecord>& before,
                               const std::map<std::string, std::string>& routed_before);
  // Retires the staged instances; says what became of them, for the reason.
  std::string Undo(const std::vector<Staged>& staged);
  bool StillHolds();  // the lease's fence still passes
  void Heartbeat(std::stop_token stop);
  Status LeaseLost() const;

  state::StateStore& store_;
  runtime::Target& target_;
  const os::Clock& clock_;
  Plan plan_;
  Requester requester_;
  state::Lease lease_;
  int64_t deployment_id_;
  ApplyOptions options_;
  std::map<std::string, state::StandbyRecord> standbys_;  // as they were when it began
  std::atomic<int64_t> steps_{0};  // journaled (from the threads that stage and retire)
  std::atomic<bool> lease_lost_{false};
};

}  // namespace lockstep::engine
