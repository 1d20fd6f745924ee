// The engine API's saved plans and their approvals: a plan read, the plans of an
// environment that wait, an approver's decision.
#include <boost/json.hpp>

#include "api/engine/answers.h"
#include "api/engine/call.h"
#include "api/engine/engine_api.h"
#include "base/json.h"
#include "base/strings.h"
#include "core/digest.h"
#include "core/release.h"

namespace lockstep::api {

namespace bj = boost::json;
using http::Response;

Result<Response> EngineApi::ShowPlan(const Call& call) {
  LS_ASSIGN_OR_RETURN(auto found, engine_->FindPlan(call.path[1]));
  bj::value plan = bj::parse(engine::PlanJson(found.second, found.first.id));
  plan.as_object()["text"] = engine::PlanText(found.second, false);
  plan.as_object()["actor"] = found.first.actor;
  plan.as_object()["created_at"] = found.first.created_at;
  if (found.second.approval_required) {
    LS_ASSIGN_OR_RETURN(engine::ApprovalState approvals,
                        engine_->ApprovalsOf(found.first, found.second));
    plan.as_object()["approvals"] = ApprovalStateJson(approvals);
  }
  return Json(200, plan);
}

Result<Response> EngineApi::ListPlans(const Call& call) {
  int limit =
      static_cast<int>(std::min<uint64_t>(ParseUint(call.Query("limit")).value_or(50), 1000));
  const bool all = call.Query("all") == "1" || call.Query("all") == "true";
  LS_ASSIGN_OR_RETURN(std::vector<engine::PlanStatus> plans, engine_->Plans(call.path[1], limit));
  bj::array out;
  for (const engine::PlanStatus& s : plans) {
    if (!all && s.state != "pending" && s.state != "approved" && s.state != "ready") continue;
    const state::PlanRecord& r = s.listing.plan;
    out.push_back(
        bj::object{{"plan_id", r.id},
                   {"kind", s.plan.kind},
                   {"commit", r.commit},
                   {"actor", r.actor},
                   {"created_at", r.created_at},
                   {"changes", s.plan.HasChanges()},
                   {"state", s.state},
                   {"why", s.why},
                   {"deployment_id",
                    s.listing.deployment_id != 0 ? bj::value(s.listing.deployment_id) : nullptr},
                   {"approvals", ApprovalStateJson(s.approvals)}});
  }
  return Json(200, bj::object{{"environment", call.path[1]}, {"plans", std::move(out)}});
}

// An approver's decision: {"decision": "approve" | "reject", "comment": TEXT}.
Result<Response> EngineApi::DecidePlan(const Call& call) {
  std::optional<std::string> decision, comment;
  if (!call.body.empty()) {
    LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "decision"));
    LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
    LS_ASSIGN_OR_RETURN(decision, o.OptionalString("decision"));
    LS_ASSIGN_OR_RETURN(comment, o.OptionalString("comment"));
  }
  if (decision != "approve" && decision != "reject") {
    return InvalidArgument("\"decision\" is \"approve\" or \"reject\"");
  }
  LS_ASSIGN_OR_RETURN(auto found, engine_->FindPlan(call.path[1]));
  LS_RETURN_IF_ERROR(call.Authorize(found.first.environment));
  if (call.who.id.empty()) {
    return PermissionDenied(
        "an approval is a person's, by their token: a --dev request without credentials "
        "approves nothing (LOCKSTEP_TOKEN)");
  }
  LS_ASSIGN_OR_RETURN(engine::ApprovalState approvals,
                      engine_->Decide(call.path[1], decision == "approve",
                                      {call.who.name, comment.value_or("").substr(0, 1000)}));
  return Json(201, bj::object{{"plan_id", call.path[1]},
                              {"environment", found.first.environment},
                              {"decision", *decision},
                              {"by", call.who.name},
                              {"approvals", ApprovalStateJson(approvals)}});
}

}  // namespace lockstep::api
