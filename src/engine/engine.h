// The engine as lockstep serve runs it: saved plans, applies as jobs (each on a thread of
// its own, so that the caller — an HTTP thread — answers at once with the deployment id),
// runs of functions, and recovery when the server starts. Applies to one environment are serialized
// by its lease; applies to different environments run side by side. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/apply.h"
#include "engine/approvals.h"
#include "engine/attestations.h"
#include "engine/functions.h"
#include "engine/planner.h"
#include "engine/promote.h"
#include "engine/rollback.h"
#include "engine/write_back.h"

namespace lockstep::engine {

// A saved plan as `lockstep plans` lists it.
struct PlanStatus {
  state::PlanListing listing;
  Plan plan;
  ApprovalState approvals;
  // "applied", "rejected", "stale" (the environment moved, or the plan is too old),
  // "approved" (enough approvals), "pending" (waiting for approvals) or "ready" (its
  // environment needs none).
  std::string state;
  std::string why;  // for "stale" and "pending": what it lacks
};

// A plan the engine made: saved (with its id) unless the repository had problems.
struct SavedPlan {
  std::string id;  // empty when not saved
  Plan plan;
  std::vector<deploy::Problem> problems;
};

class Engine {
 public:
  // `signer` (the server's attestation key) may be null: then nothing is attested, and an
  // apply that needs an upstream attestation is refused.
  Engine(PlanSources sources, const os::Clock& clock, ApplyOptions options,
         const attest::Signer* signer = nullptr);
  // Asks running applies to stop (each then undoes what it staged) and waits for them.
  ~Engine();

  // Finishes or undoes what a crash left running (recovery.h); call before any apply.
  Result<std::vector<std::string>> Recover();

  // Plans `environment` at `revision` of the mirror and saves the plan.
  Result<SavedPlan> MakePlan(const std::string& environment, const std::string& revision,
                             const std::string& actor);
  // A saved plan (kNotFound for an unknown id) and the plan it holds, tightened to what the
  // environment asks at the branch's head (Plan::Tighten).
  Result<std::pair<state::PlanRecord, Plan>> FindPlan(const std::string& id);

  // Begins applying a saved plan: a stale plan or a held lock is refused at once; the
  // steps run on a thread of their own. Returns the deployment id.
  Result<int64_t> StartApply(const std::string& plan_id, const Requester& requester);
  // Begins a rollback (rollback.h): refused at once, changing nothing, when history has no
  // such release, a release needs a volume the environment no longer owns in the
  // repository at `branch`, an image can be had neither from the target's cache nor its
  // registry, or the environment is locked. Then it runs as an apply of its plan does.
  Result<SavedPlan> PlanRollbackOf(const RollbackRequest& request, const std::string& branch,
                                   const std::string& actor);
  // Retires the standbys whose rollback window ended by `now` (Unix seconds), each
  // environment under its lease (one being applied is left for the next call); returns
  // what it retired, for the log.
  std::vector<std::string> RetireExpiredStandbys(int64_t now);

  // An approver's decision on a saved plan of an environment that requires approval
  // (audited with its comment, `requester.reason`). Refused: an approval by the plan's
  // author, of a plan already applied, too old to apply or rejected, or a second approval
  // while the approver's first still counts. Returns the plan's approvals as they stand.
  Result<ApprovalState> Decide(const std::string& plan_id, bool approve,
                               const Requester& requester);
  // The approvals of a saved plan as an apply would count them now.
  Result<ApprovalState> ApprovalsOf(const state::PlanRecord& record, const Plan& plan);
  // The newest `limit` saved plans of `environment`, each with its state.
  Result<std::vector<PlanStatus>> Plans(const std::string& environment, int limit);

  // Pins `request.to` to what runs in `request.from` (promote.h), on the deploy
  // repository's branch, attested. `requester.reason` goes into the commit.
  Result<PromoteResult> Promote(PromoteRequest request, const Requester& requester);
  // Attests the soaks that completed (Attestor::AttestSoaks) by the repository at the
  // branch's head; what it attested, for the log. Called every few seconds.
  Result<std::vector<std::string>> AttestSoaks();
  Attestor& attestor() { return attestor_; }

  // Lets a held service move again (audited); kNotFound when it is not held.
  Status ReleaseHold(const std::string& environment, const std::string& service,
                     const Requester& requester);

  // Waits until the deployment's job is done (at once for one not running here).
  void Wait(int64_t deployment_id);

  // The functions of the environments' current releases: calls and schedules.
  Functions& functions() { return functions_; }

  WriteBacks& write_backs() { return write_backs_; }

  state::StateStore& store() { return *sources_.store; }
  runtime::Target& target() { return *sources_.target; }
  const PlanSources& sources() const { return sources_; }

 private:
  struct Job {
    std::thread thread;
    bool done = false;
  };
  void ReapLocked();

  PlanSources sources_;
  const os::Clock& clock_;
  ApplyOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, std::unique_ptr<Job>> jobs_;
  Attestor attestor_;
  // The repository at the branch's head (nullopt: none is configured, or it does not
  // read), read again only when the branch moves.
  Result<std::optional<deploy::DeployRepo>> RepoAtHead();
  // `environment` as lockstep.toml says at the branch's head, when it reads.
  std::optional<deploy::Environment> EnvironmentAtHead(const std::string& environment);
  std::mutex head_mutex_;
  std::string head_commit_;
  std::optional<deploy::DeployRepo> head_repo_;
  Functions functions_;     // after what it uses; its runs end before they are destroyed
  WriteBacks write_backs_;  // what rollbacks owe the deploy repository
};

}  // namespace lockstep::engine
