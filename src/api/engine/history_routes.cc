// The engine API's records of what happened: an environment's history (deployments,
// changes, function runs) and the audit log.
#include <algorithm>
#include <boost/json.hpp>

#include "api/engine/answers.h"
#include "api/engine/call.h"
#include "api/engine/engine_api.h"
#include "base/strings.h"
#include "core/release.h"

namespace lockstep::api {

namespace bj = boost::json;
using http::Response;

Result<Response> EngineApi::ShowHistory(const Call& call) {
  state::StateStore& store = engine_->store();
  const std::string& env = call.path[1];
  std::string service = call.Query("service");
  if (!service.empty() && !IsResourceName(service)) {
    return InvalidArgument("service '" + service.substr(0, 64) + "' is not a name");
  }
  int limit =
      static_cast<int>(std::min<uint64_t>(ParseUint(call.Query("limit")).value_or(50), 1000));
  LS_ASSIGN_OR_RETURN(std::vector<state::HistoryRecord> history,
                      store.History(env, service, limit));
  LS_ASSIGN_OR_RETURN(std::vector<state::DeploymentRecord> deployments,
                      store.Deployments(env, limit));
  bj::array h, d;
  for (const state::HistoryRecord& r : history) {
    h.push_back(bj::object{{"id", r.id},
                           {"service", r.service},
                           {"deployment_id", r.deployment_id},
                           {"change", state::ChangeName(r.change)},
                           {"from_release", Nullable(r.from_release)},
                           {"to_release", Nullable(r.to_release)},
                           {"version", r.version},
                           {"at", r.at}});
  }
  for (const state::DeploymentRecord& r : deployments) d.push_back(DeploymentJson(r));
  LS_ASSIGN_OR_RETURN(std::vector<state::InvocationRecord> runs,
                      store.Invocations(env, service, limit));
  bj::array inv;
  for (const state::InvocationRecord& r : runs) inv.push_back(InvocationJson(r));
  return Json(200, bj::object{{"environment", env},
                              {"history", std::move(h)},
                              {"deployments", std::move(d)},
                              {"invocations", std::move(inv)}});
}

Result<Response> EngineApi::ShowAudit(const Call& call) {
  int limit =
      static_cast<int>(std::min<uint64_t>(ParseUint(call.Query("limit")).value_or(50), 1000));
  std::string since_text = call.Query("since");
  std::optional<uint64_t> since = ParseUint(since_text);
  if (!since_text.empty() && (!since || *since > INT64_MAX)) {
    return InvalidArgument("since=" + since_text.substr(0, 32) +
                           " is not a time: seconds since the epoch");
  }
  LS_ASSIGN_OR_RETURN(std::vector<state::AuditRecord> audit,
                      engine_->store().Audit(static_cast<int64_t>(since.value_or(0)), limit));
  bj::array out;
  for (const state::AuditRecord& a : audit) {
    out.push_back(bj::object{{"id", a.id},
                             {"at", a.at},
                             {"actor", a.actor},
                             {"action", a.action},
                             {"target", a.target},
                             {"detail", a.detail}});
  }
  return Json(200, bj::object{{"audit", std::move(out)}});
}

}  // namespace lockstep::api
