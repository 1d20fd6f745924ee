// A plan as the state store keeps it: every service's plan and the exact release of every
// service the environment runs after the apply, so that an apply of a saved plan applies
// what was shown, whatever the repository says by then.
#pragma once

#include <string>

#include "base/status.h"
#include "engine/plan.h"
#include "state/engine_state.h"

namespace lockstep::engine {

// The store's record of `plan` (its id, actor and time are the store's to set).
state::PlanRecord ToPlanRecord(const Plan& plan, const std::string& actor);

// The plan a record holds. kInternal when the body is not one lockstep wrote (the database
// was changed by hand, or by a newer lockstep).
Result<Plan> FromPlanRecord(const state::PlanRecord& record);

}  // namespace lockstep::engine
