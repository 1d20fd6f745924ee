#include "api/engine/engine_api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "api/engine/access.h"
#include "api/engine/answers.h"
#include "api/engine/call.h"
#include "base/json.h"
#include "base/strings.h"
#include "core/digest.h"
#include "core/release.h"
#include "engine/saved_plan.h"

namespace lockstep::api {

namespace bj = boost::json;
using http::Response;
using http::Task;

namespace {

constexpr uint64_t kMaxBody = 1 << 20;  // a git host's push event can be large

// Whose log `lockstep logs ENV NAME` reads: a service's routed instance, or a function's
// latest run.
Result<std::string> LogSource(state::StateStore& store, const std::string& environment,
                              const std::string& name) {
  std::map<std::string, state::CurrentRecord> current;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_ASSIGN_OR_RETURN(current, tx->Current(environment));
  }
  auto it = current.find(name);
  if (it == current.end()) {
    return NotFound(environment + " runs nothing named " + name);
  }
  if (!it->second.instance_id.empty()) return it->second.instance_id;
  LS_ASSIGN_OR_RETURN(std::vector<state::InvocationRecord> runs,
                      store.Invocations(environment, name, 20));
  for (const state::InvocationRecord& r : runs) {
    if (!r.invocation_id.empty()) return r.invocation_id;
  }
  return NotFound(name + " of " + environment + " has not run yet: `lockstep invoke " +
                  environment + " " + name + "`");
}

// Whether `path` has the shape "environments/*/plans" ("*": any one segment). A plain
// function: GCC 12 cannot keep an initializer list in a coroutine's frame.
bool Matches(const std::vector<std::string>& path, std::string_view shape) {
  size_t i = 0;
  for (std::string_view rest = shape; i <= path.size(); ++i) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (i == path.size() || (segment != "*" && segment != path[i])) return false;
    if (slash == std::string_view::npos) return i + 1 == path.size();
    rest.remove_prefix(slash + 1);
  }
  return false;
}

Response Fetched(const Status& fetched) {
  if (!fetched.ok()) return ApiError(fetched);
  return Json(200, bj::object{{"fetched", true}});
}

// The response for a result. (A plain function: GCC 12 mishandles the temporaries of a
// conditional expression inside a coroutine.)
Response AnswerOf(Result<Response> answer) {
  if (answer.ok()) return std::move(*answer);
  return ApiError(answer.status());
}

// Starts applying `saved`: 202 with the deployment's id and the plan (with its text).
Result<Response> StartSaved(engine::Engine& engine, const engine::SavedPlan& saved,
                            const engine::Requester& requester) {
  LS_ASSIGN_OR_RETURN(int64_t id, engine.StartApply(saved.id, requester));
  bj::value plan = bj::parse(engine::PlanJson(saved.plan, saved.id));
  plan.as_object()["text"] = engine::PlanText(saved.plan, false);
  Response r = Json(202, bj::object{{"deployment_id", id}, {"plan", std::move(plan)}});
  r.Set("Location", "/api/v1/deployments/" + std::to_string(id));
  return r;
}

}  // namespace

Response ApiError(const Status& status, std::string_view field) {
  int http = 500;
  std::string_view code = "INTERNAL";
  switch (status.code()) {
    case Code::kInvalidArgument:
      http = 400, code = "INVALID_ARGUMENT";
      break;
    case Code::kUnauthenticated:
      http = 401, code = "UNAUTHORIZED";
      break;
    case Code::kPermissionDenied:
      http = 403, code = "DENIED";
      break;
    case Code::kNotFound:
      http = 404, code = "NOT_FOUND";
      break;
    case Code::kFailedPrecondition:
    case Code::kAlreadyExists:
      http = 409, code = "CONFLICT";
      break;
    case Code::kAborted:
      http = 423, code = "LOCKED";
      break;
    case Code::kOutOfRange:
      http = 413, code = "TOO_LARGE";
      break;
    case Code::kUnavailable:
      http = 503, code = "UNAVAILABLE";
      break;
    default:
      break;
  }
  bj::object error{{"code", code}, {"message", status.message()}};
  if (!field.empty()) error["field"] = field;
  Response r = Json(http, bj::object{{"error", std::move(error)}});
  if (http == 401) r.Set("WWW-Authenticate", "Basic realm=\"lockstep\"");
  return r;
}

std::span<const EngineApi::Route> EngineApi::Routes() {
  using enum Subject;
  using A = Action;
  constexpr Auth kToken = Auth::kToken;
  static const Route routes[] = {
      {"GET", "environments", A::kView, kNone, kToken, &EngineApi::ListEnvironments},
      {"GET", "environments/*", A::kView, kNone, kToken, &EngineApi::ShowEnvironment},
      {"GET", "environments/*/history", A::kView, kNone, kToken, &EngineApi::ShowHistory},
      {"GET", "environments/*/services/*/logs", A::kLogs, kEnvironment, kToken,
       &EngineApi::ShowLogs},
      {"POST", "environments/*/functions/*/invoke", A::kInvoke, kEnvironment, kToken,
       &EngineApi::Invoke},
      {"POST", "environments/*/plans", A::kPlan, kEnvironment, kToken, &EngineApi::SavePlan},
      {"POST", "environments/*/deployments", A::kApply, kEnvironment, kToken,
       &EngineApi::PlanAndApply},
      {"POST", "environments/*/rollbacks", A::kRollback, kEnvironment, kToken,
       &EngineApi::Rollback},
      {"POST", "environments/*/holds/*/release", A::kReleaseHold, kEnvironment, kToken,
       &EngineApi::ReleaseHold},
      {"POST", "environments/*/unlock", A::kUnlock, kEnvironment, kToken, &EngineApi::Unlock},
      {"GET", "environments/*/plans", A::kView, kNone, kToken, &EngineApi::ListPlans},
      {"GET", "plans/*", A::kView, kNone, kToken, &EngineApi::ShowPlan},
      {"POST", "plans/*/approvals", A::kApprove, kPlan, kToken, &EngineApi::DecidePlan},
      {"POST", "deployments", A::kApply, kPlan, kToken, &EngineApi::ApplySaved},
      {"GET", "deployments/*", A::kView, kNone, kToken, &EngineApi::ShowDeployment},
      {"GET", "audit", A::kView, kNone, kToken, &EngineApi::ShowAudit},
      {"POST", "environments/*/promotions", A::kPromote, kEnvironment, kToken,
       &EngineApi::PromoteInto},
      {"GET", "attestations", A::kView, kNone, kToken, &EngineApi::ListAttestations},
      {"GET", "attestations/key", A::kView, kNone, Auth::kOpen, &EngineApi::AttestationKey},
      {"POST", "hooks/git", A::kView, kNone, Auth::kSecret, &EngineApi::Webhook},
  };
  return routes;
}

EngineApi::EngineApi(engine::Engine* engine, const auth::Authenticator* auth,
                     http::BlockingPool* pool, EngineApiOptions options)
    : engine_(engine), auth_(auth), pool_(pool), options_(std::move(options)) {}

Task<void> EngineApi::Handle(http::Exchange& ex) {
  const http::Request& req = ex.request();
  Call call;
  call.request = &req;
  auto url = boost::urls::parse_origin_form(req.target);
  if (!url) {
    co_await ex.Send(ApiError(InvalidArgument("the request target is not a path and query")));
    co_return;
  }
  for (auto segment : url->segments()) call.path.emplace_back(segment);
  // "/api/v1/…": the router sent only this prefix here.
  if (call.path.size() < 2 || call.path[0] != "api" || call.path[1] != "v1") {
    co_await ex.Send(ApiError(NotFound("no endpoint at " + std::string(url->path()))));
    co_return;
  }
  call.path.erase(call.path.begin(), call.path.begin() + 2);
  for (auto param : url->params()) call.query.emplace_back(param.key, param.value);
  if (req.method == "POST" || req.has_body()) {
    Result<std::string> body = co_await ex.ReadSmallBody(kMaxBody);
    if (!body.ok()) {
      co_await ex.Send(ApiError(body.status()));
      co_return;
    }
    call.body = std::move(*body);
  }
  co_await Dispatch(ex, call);
}

namespace {

// The route `method` and `path` take, or why there is none.
Result<const EngineApi::Route*> RouteOf(const std::string& method,
                                        const std::vector<std::string>& path) {
  std::string others;
  for (const EngineApi::Route& route : EngineApi::Routes()) {
    if (!Matches(path, route.shape)) continue;
    if (route.method == method) return &route;
    others += (others.empty() ? "" : " or ") + std::string(route.method);
  }
  std::string joined;
  for (const std::string& s : path) joined += (joined.empty() ? "" : "/") + s.substr(0, 64);
  if (!others.empty()) {
    return NotFound("/api/v1/" + joined + " answers " + others + ", not " + method.substr(0, 16));
  }
  return NotFound("no endpoint " + method.substr(0, 16) + " /api/v1/" + joined);
}

// The names of the path, checked before anything reads them.
Status CheckNames(const std::vector<std::string>& p, std::string* field) {
  if (p.size() >= 2 && p[0] == "environments" && !IsResourceName(p[1])) {
    *field = "environment";
    return InvalidArgument("environment '" + p[1].substr(0, 64) +
                           "' is not a name: 1-63 of a-z, 0-9 and '-', not starting with '-'");
  }
  if (p.size() >= 4 && (p[2] == "functions" || p[2] == "services" || p[2] == "holds") &&
      !IsResourceName(p[3])) {
    *field = "service";
    return InvalidArgument("'" + p[3].substr(0, 64) +
                           "' is not a service or function name: 1-63 of a-z, 0-9 and '-', not "
                           "starting with '-'");
  }
  return Status::Ok();
}

// Whether `who` may take `route`. A route about a plan checks the plan's environment once it
// has read the plan; here, that the token may take the action somewhere.
Status Admission(const EngineApi::Route& route, const Identity& who,
                 const std::vector<std::string>& path) {
  switch (route.subject) {
    case EngineApi::Subject::kNone:
      return who.Check(route.action);
    case EngineApi::Subject::kEnvironment:
      return who.Check(route.action, path[1]);
    case EngineApi::Subject::kPlan:
      // No grant of the token names a role the action takes: refused whatever the plan.
      if (who.MayTake(route.action)) return Status::Ok();
      return who.Check(route.action, "the plan's environment");
  }
  return Internal("route without a subject");
}

}  // namespace

Task<void> EngineApi::Dispatch(http::Exchange& ex, Call& call) {
  Result<const Route*> route = RouteOf(ex.request().method, call.path);
  if (!route.ok()) {
    co_await ex.Send(ApiError(route.status()));
    co_return;
  }
  call.route = *route;
  if (call.route->auth == Auth::kToken) {
    std::string authorization(ex.request().Header("authorization"));
    Result<Identity> who =
        co_await pool_->Run([this, &authorization] { return auth_->Identify(authorization); });
    if (!who.ok()) {
      co_await ex.Send(ApiError(who.status()));
      co_return;
    }
    call.who = std::move(*who);
    std::string field;
    if (Status names = CheckNames(call.path, &field); !names.ok()) {
      co_await ex.Send(ApiError(names, field));
      co_return;
    }
    if (Status allowed = Admission(*call.route, call.who, call.path); !allowed.ok()) {
      co_await ex.Send(ApiError(allowed));
      co_return;
    }
  }
  // A function call runs as long as the function does: on a pool of its own, so that reads
  // and plans are not queued behind it.
  http::BlockingPool* pool = pool_;
  if (call.route->handler == &EngineApi::Invoke && options_.invoke_pool != nullptr) {
    pool = options_.invoke_pool;
  }
  Handler handler = call.route->handler;
  Result<Response> answer = co_await pool->Run([&] { return (this->*handler)(call); });
  co_await ex.Send(AnswerOf(std::move(answer)));
}

// A plan is of what was pushed: the mirror is fetched first. When the remote cannot be
// reached, the plan is of what was fetched last, and says so.
std::string EngineApi::FetchFailure() const {
  if (!options_.fetch) return "";
  Status fetched = options_.fetch();
  if (fetched.ok() || fetched.code() == Code::kFailedPrecondition) return "";
  return fetched.message();
}

Result<Response> EngineApi::Webhook(const Call& call) {
  LS_RETURN_IF_ERROR(WebhookAllowed(*call.request, call.body, options_.webhook_secret));
  if (!options_.fetch) return Json(200, bj::object{{"fetched", false}});
  return Fetched(options_.fetch());
}

Result<Response> EngineApi::ListEnvironments(const Call&) {
  state::StateStore& store = engine_->store();
  LS_ASSIGN_OR_RETURN(std::vector<state::EnvironmentRecord> envs, store.Environments());
  bj::array out;
  for (const state::EnvironmentRecord& e : envs) {
    LS_ASSIGN_OR_RETURN(std::optional<state::Lease> lease, store.LeaseOf(e.name));
    out.push_back(bj::object{{"name", e.name},
                             {"lineage", e.lineage},
                             {"serial", e.serial},
                             {"commit", e.commit},
                             {"locked_by", lease ? bj::value(lease->holder) : nullptr}});
  }
  return Json(200, bj::object{{"environments", std::move(out)}});
}

Result<Response> EngineApi::ShowEnvironment(const Call& call) {
  return EnvironmentStatus(*engine_, call.path[1]);
}

Result<Response> EngineApi::ShowLogs(const Call& call) {
  uint64_t bytes = std::min<uint64_t>(ParseUint(call.Query("bytes")).value_or(64 << 10), 1 << 20);
  LS_ASSIGN_OR_RETURN(std::string id, LogSource(engine_->store(), call.path[1], call.path[3]));
  LS_ASSIGN_OR_RETURN(std::string text, engine_->target().Logs(id, bytes));
  Response r;
  r.body = std::move(text);
  r.Set("Content-Type", "text/plain; charset=utf-8");
  r.Set("X-Lockstep-Log-Of", id);
  return r;
}

Result<Response> EngineApi::Invoke(const Call& call) {
  LS_ASSIGN_OR_RETURN(engine::FunctionRun run, engine_->functions().Call(call.path[1], call.path[3],
                                                                         call.body, call.who.name));
  return InvocationResponse(run);
}

Result<Response> EngineApi::SavePlan(const Call& call) {
  std::string revision = options_.branch;
  if (!call.body.empty()) {
    LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "plan request"));
    LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
    LS_ASSIGN_OR_RETURN(std::optional<std::string> rev, o.OptionalString("revision"));
    if (rev && !rev->empty()) revision = *rev;
  }
  std::string failure = FetchFailure();
  LS_ASSIGN_OR_RETURN(engine::SavedPlan saved,
                      engine_->MakePlan(call.path[1], revision, call.who.name));
  if (!saved.problems.empty()) return ProblemsResponse(saved.problems);
  bj::value plan = bj::parse(engine::PlanJson(saved.plan, saved.id));
  plan.as_object()["text"] = engine::PlanText(saved.plan, false);
  if (!failure.empty()) {
    plan.as_object()["warning"] =
        "the deploy repository could not be fetched, so this plan is of what was fetched "
        "before: " +
        failure;
  }
  return Json(201, plan);
}

Result<Response> EngineApi::Unlock(const Call& call) {
  LS_RETURN_IF_ERROR(engine_->store().BreakLease(call.path[1], call.who.name));
  return Json(200, bj::object{{"environment", call.path[1]}, {"unlocked", true}});
}

// Plan and apply in one step (`lockstep apply ENV`), for environments without approval.
Result<Response> EngineApi::PlanAndApply(const Call& call) {
  const std::string& env = call.path[1];
  std::optional<std::string> reason;
  if (!call.body.empty()) {
    LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "apply request"));
    LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
    LS_ASSIGN_OR_RETURN(reason, o.OptionalString("reason"));
  }
  // Applied without a person reading the plan: it must be of what was pushed.
  if (std::string failure = FetchFailure(); !failure.empty()) {
    return Unavailable("the deploy repository could not be fetched (" + failure +
                       "), so nothing was applied; to apply what was fetched before: "
                       "`lockstep plan " +
                       env + "`, read it, then `lockstep apply PLAN_ID`");
  }
  LS_ASSIGN_OR_RETURN(engine::SavedPlan saved,
                      engine_->MakePlan(env, options_.branch, call.who.name));
  if (!saved.problems.empty()) return ProblemsResponse(saved.problems);
  if (saved.plan.approval_required) {
    return FailedPrecondition(env +
                              " requires approval (approval = \"required\" in lockstep.toml), so "
                              "it is applied only from a saved plan: `lockstep plan " +
                              env + "`, then `lockstep apply PLAN_ID` (plan " + saved.id +
                              " is saved)");
  }
  return StartSaved(*engine_, saved, {call.who.name, reason.value_or("")});
}

Result<Response> EngineApi::Rollback(const Call& call) {
  engine::RollbackRequest request{.environment = call.path[1]};
  std::optional<std::string> reason;
  if (!call.body.empty()) {
    LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "rollback request"));
    LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
    LS_ASSIGN_OR_RETURN(std::optional<std::string> service, o.OptionalString("service"));
    LS_ASSIGN_OR_RETURN(std::optional<std::string> to, o.OptionalString("to"));
    LS_ASSIGN_OR_RETURN(reason, o.OptionalString("reason"));
    if (service && service->empty()) {
      return InvalidArgument(
          "\"service\" is empty: leave it out to roll back the whole "
          "environment");
    }
    request.service = service.value_or("");
    request.to = to.value_or("").substr(0, 128);
  }
  if (!request.service.empty() && !IsResourceName(request.service)) {
    return InvalidArgument("service '" + request.service.substr(0, 64) + "' is not a name");
  }
  if (request.service.empty() && request.to.empty()) {
    return InvalidArgument(
        "a rollback names a service (back to its earlier release) or, for the whole "
        "environment, the deployment to go back to (\"to\": DEPLOYMENT_ID)");
  }
  LS_ASSIGN_OR_RETURN(engine::SavedPlan saved,
                      engine_->PlanRollbackOf(request, options_.branch, call.who.name));
  return StartSaved(*engine_, saved, {call.who.name, reason.value_or("")});
}

Result<Response> EngineApi::ReleaseHold(const Call& call) {
  std::optional<std::string> reason;
  if (!call.body.empty()) {
    LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "hold release"));
    LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
    LS_ASSIGN_OR_RETURN(reason, o.OptionalString("reason"));
  }
  if (!reason || reason->empty()) {
    return InvalidArgument("say why the hold ends (\"reason\"): it goes into the audit log");
  }
  LS_RETURN_IF_ERROR(engine_->ReleaseHold(call.path[1], call.path[3], {call.who.name, *reason}));
  return Json(
      200, bj::object{{"environment", call.path[1]}, {"service", call.path[3]}, {"held", false}});
}

Result<Response> EngineApi::ApplySaved(const Call& call) {
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "apply request"));
  LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
  LS_ASSIGN_OR_RETURN(std::string plan_id, o.String("plan_id"));
  LS_ASSIGN_OR_RETURN(std::optional<std::string> reason, o.OptionalString("reason"));
  LS_ASSIGN_OR_RETURN(std::optional<std::string> override_reason,
                      o.OptionalString("override_attestation"));
  LS_ASSIGN_OR_RETURN(auto found, engine_->FindPlan(plan_id));
  LS_RETURN_IF_ERROR(call.Authorize(found.second.environment));
  if (override_reason) {
    if (override_reason->empty()) {
      return InvalidArgument("\"override_attestation\" says why: it goes into the audit log");
    }
    if (!call.who.IsAdmin()) {
      return PermissionDenied("token " + call.who.name + " (" + GrantsString(call.who.grants) +
                              ") may not apply without an upstream attestation: that is an "
                              "admin's, audited");
    }
  }
  LS_ASSIGN_OR_RETURN(
      int64_t id, engine_->StartApply(plan_id, {.actor = call.who.name,
                                                .reason = reason.value_or(""),
                                                .attestation_override =
                                                    override_reason.value_or("").substr(0, 1000)}));
  Response r = Json(202, bj::object{{"deployment_id", id}});
  r.Set("Location", "/api/v1/deployments/" + std::to_string(id));
  return r;
}

Result<Response> EngineApi::ShowDeployment(const Call& call) {
  std::optional<uint64_t> id = ParseUint(call.path[1]);
  if (!id || *id > INT64_MAX) return NotFound("no deployment " + call.path[1].substr(0, 32));
  int64_t after = static_cast<int64_t>(
      std::min<uint64_t>(ParseUint(call.Query("after")).value_or(0), INT64_MAX));
  state::StateStore& store = engine_->store();
  state::DeploymentRecord d;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_ASSIGN_OR_RETURN(d, tx->Deployment(static_cast<int64_t>(*id)));
  }
  LS_ASSIGN_OR_RETURN(std::vector<state::JournalEntry> steps, store.Journal(d.id, after));
  bj::array s;
  for (const state::JournalEntry& e : steps) {
    s.push_back(bj::object{{"seq", e.seq},
                           {"step", e.step},
                           {"service", Nullable(e.service)},
                           {"detail", e.detail},
                           {"at", e.at}});
  }
  return Json(200, bj::object{{"deployment", DeploymentJson(d)}, {"steps", std::move(s)}});
}

}  // namespace lockstep::api
