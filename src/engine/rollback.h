// Rolling back: an earlier release of one service, or everything one deployment made live,
// put back the way an apply puts a plan (prepared from the target's cache, started,
// health-gated, switched in one step) and recorded as a deployment of kind "rollback". A
// release is its artifact and its whole configuration, so both come back together. The
// services a rollback moves are held (planner.h) until a person releases them.
#pragma once

#include <string>

#include "engine/plan.h"
#include "runtime/target.h"
#include "state/engine_state.h"

namespace lockstep::engine {

struct RollbackRequest {
  std::string environment;
  std::string service;  // empty: the whole environment, to deployment `to`
  // A service's VERSION or RELEASE_ID (a unique prefix will do), empty for the release
  // before the current one; the environment's DEPLOYMENT_ID.
  std::string to;
};

// The plan that puts the earlier release(s) back, against what the environment records and
// runs now. kNotFound when history has no such release or deployment; kFailedPrecondition
// when there is nothing to put back (the service runs that release already, or had no
// earlier one) or the deployment did not succeed. Nothing is written.
Result<Plan> PlanRollback(state::StateStore& store, runtime::Target& target,
                          const RollbackRequest& request);

// The first volume grant of `plan`'s releases that `owned` (the environment's volumes in
// the deploy repository now) no longer has, as a refusal; Ok when every grant is owned.
Status CheckGrantsOwned(const Plan& plan, const std::vector<std::string>& owned);

}  // namespace lockstep::engine
