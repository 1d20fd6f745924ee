// After lockstep serve restarts: each deployment a crash left running is finished, if it
// passed its commit point, or undone, if it did not. Either way the environment's routes
// are put to the instances its record names (waiting for them to be healthy again), every
// other instance of the environment is retired (staged ones, or old ones a finished apply
// had not retired yet), the deployment's outcome says what happened, and its lease is freed.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "engine/apply.h"

namespace lockstep::engine {

// Points the environment's routes at the instances its record names (waiting up to the
// health timeout for them to be healthy), and removes the routes of services the record
// does not route (removed, or functions now). `observed` is what the target runs.
Status RouteAsRecorded(runtime::Target& target, const os::Clock& clock, const ApplyOptions& options,
                       const std::string& environment,
                       const std::map<std::string, state::CurrentRecord>& current,
                       const std::vector<runtime::ObservedInstance>& observed);

// One line per deployment resolved (or left for the next start, saying why), for the
// server's log. A deployment whose recorded routes cannot be restored stays unfinished.
Result<std::vector<std::string>> RecoverDeployments(state::StateStore& store,
                                                    runtime::Target& target, const os::Clock& clock,
                                                    const ApplyOptions& options);

}  // namespace lockstep::engine
