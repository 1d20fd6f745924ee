// What the engine's API answers about recorded state, as JSON (docs/api.md): internal to
// api/engine/.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "deploy/repo.h"
#include "engine/engine.h"
#include "http/exchange.h"
#include "state/engine_state.h"

namespace lockstep::api {

// `body` as the answer, with `status`.
http::Response Json(int status, const boost::json::value& body);
// `s`, or null when it is empty.
boost::json::value Nullable(const std::string& s);

boost::json::object DeploymentJson(const state::DeploymentRecord& d);
// {needed, satisfied, approved_by: [{by, at, comment}], expired: [...], rejected_by}.
boost::json::object ApprovalStateJson(const engine::ApprovalState& a);
boost::json::object InvocationJson(const state::InvocationRecord& r);
// A function's answer as a Lambda's: its output is the body, whatever its exit code; the
// outcome is in headers (X-Lockstep-Function-Error names a failure).
http::Response InvocationResponse(const engine::FunctionRun& run);
// 422 with every problem of a deploy repository that cannot be planned.
http::Response ProblemsResponse(const std::vector<deploy::Problem>& found);

// The status of environment `name`: each service (what runs, its health, its hold), the
// standbys kept for a rollback, and what git is owed. Blocks (the store, the target).
Result<http::Response> EnvironmentStatus(engine::Engine& engine, const std::string& name);

}  // namespace lockstep::api
