#include "api/engine/engine_api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "api/engine/access.h"
#include "api/engine/answers.h"
#include "base/json.h"
#include "base/strings.h"
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

// One request, parsed: its path segments after /api/v1, query and body.
struct EngineApi::Call {
  std::vector<std::string> path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  Identity who;

  std::string Query(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return "";
  }
};

EngineApi::EngineApi(engine::Engine* engine, const auth::Authenticator* auth,
                     http::BlockingPool* pool, EngineApiOptions options)
    : engine_(engine), auth_(auth), pool_(pool), options_(std::move(options)) {}

Task<void> EngineApi::Handle(http::Exchange& ex) {
  const http::Request& req = ex.request();
  Call call;
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

Task<void> EngineApi::Dispatch(http::Exchange& ex, Call& call) {
  const std::string method = ex.request().method;
  const std::vector<std::string>& p = call.path;
  auto is = [&](const char* shape) { return Matches(p, shape); };

  // The webhook authenticates with its shared secret, not a token.
  if (is("hooks/git")) {
    if (method != "POST") {
      co_await ex.Send(ApiError(InvalidArgument("POST the push event to /api/v1/hooks/git")));
      co_return;
    }
    Status allowed = WebhookAllowed(ex.request(), call.body, options_.webhook_secret);
    if (!allowed.ok()) {
      co_await ex.Send(ApiError(allowed));
      co_return;
    }
    Status fetched = co_await pool_->Run([this] { return options_.fetch(); });
    co_await ex.Send(Fetched(fetched));
    co_return;
  }

  std::string authorization(ex.request().Header("authorization"));
  Result<Identity> who =
      co_await pool_->Run([this, &authorization] { return auth_->Identify(authorization); });
  if (!who.ok()) {
    co_await ex.Send(ApiError(who.status()));
    co_return;
  }
  call.who = *who;
  const bool invoke = is("environments/*/functions/*/invoke");
  Status allowed = RoleAllows(call.who, method, invoke, is("environments/*/services/*/logs"));
  if (!allowed.ok()) {
    co_await ex.Send(ApiError(allowed));
    co_return;
  }
  if (p.size() >= 2 && p[0] == "environments" && !IsResourceName(p[1])) {
    co_await ex.Send(ApiError(
        InvalidArgument("environment '" + p[1].substr(0, 64) +
                        "' is not a name: 1-63 of a-z, 0-9 and '-', not starting with '-'"),
        "environment"));
    co_return;
  }

  if (p.size() >= 4 && (p[2] == "functions" || p[2] == "services") && !IsResourceName(p[3])) {
    co_await ex.Send(ApiError(InvalidArgument("'" + p[3].substr(0, 64) +
                                              "' is not a service or function name: 1-63 of "
                                              "a-z, 0-9 and '-', not starting with '-'"),
                              "service"));
    co_return;
  }

  engine::Engine& engine = *engine_;
  state::StateStore& store = engine.store();
  if (method == "POST" && invoke) {
    // Runs as long as the function does: on a pool of its own, so that reads and plans are
    // not queued behind it.
    http::BlockingPool* runs = options_.invoke_pool != nullptr ? options_.invoke_pool : pool_;
    Result<Response> answer = co_await runs->Run([&]() -> Result<Response> {
      LS_ASSIGN_OR_RETURN(engine::FunctionRun run,
                          engine.functions().Call(p[1], p[3], call.body, call.who));
      return InvocationResponse(run);
    });
    co_await ex.Send(AnswerOf(std::move(answer)));
    co_return;
  }
  // A plan is of what was pushed: the mirror is fetched first. When the remote cannot be
  // reached, the plan is of what was fetched last, and says so.
  // Why the fetch failed; empty when it did not (or no remote is configured).
  auto FetchFailure = [this]() -> std::string {
    if (!options_.fetch) return "";
    Status fetched = options_.fetch();
    if (fetched.ok() || fetched.code() == Code::kFailedPrecondition) return "";
    return fetched.message();
  };
  std::function<Result<Response>()> work;
  if (method == "GET" && is("environments")) {
    work = [&]() -> Result<Response> {
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
    };
  } else if (method == "GET" && is("environments/*")) {
    work = [&]() -> Result<Response> { return EnvironmentStatus(engine, p[1]); };
  } else if (method == "GET" && is("environments/*/history")) {
    work = [&]() -> Result<Response> {
      std::string service = call.Query("service");
      if (!service.empty() && !IsResourceName(service)) {
        return InvalidArgument("service '" + service.substr(0, 64) + "' is not a name");
      }
      int limit =
          static_cast<int>(std::min<uint64_t>(ParseUint(call.Query("limit")).value_or(50), 1000));
      LS_ASSIGN_OR_RETURN(std::vector<state::HistoryRecord> history,
                          store.History(p[1], service, limit));
      LS_ASSIGN_OR_RETURN(std::vector<state::DeploymentRecord> deployments,
                          store.Deployments(p[1], limit));
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
                          store.Invocations(p[1], service, limit));
      bj::array inv;
      for (const state::InvocationRecord& r : runs) inv.push_back(InvocationJson(r));
      return Json(200, bj::object{{"environment", p[1]},
                                  {"history", std::move(h)},
                                  {"deployments", std::move(d)},
                                  {"invocations", std::move(inv)}});
    };
  } else if (method == "GET" && is("audit")) {
    work = [&]() -> Result<Response> {
      if (call.who.role != Role::kAdmin) {
        return PermissionDenied("the audit log is for admin tokens; " + call.who.name +
                                " has role " + std::string(RoleName(call.who.role)));
      }
      int limit =
          static_cast<int>(std::min<uint64_t>(ParseUint(call.Query("limit")).value_or(50), 1000));
      LS_ASSIGN_OR_RETURN(std::vector<state::AuditRecord> audit, store.Audit(limit));
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
    };
  } else if (method == "GET" && is("environments/*/services/*/logs")) {
    work = [&]() -> Result<Response> {
      uint64_t bytes =
          std::min<uint64_t>(ParseUint(call.Query("bytes")).value_or(64 << 10), 1 << 20);
      LS_ASSIGN_OR_RETURN(std::string id, LogSource(store, p[1], p[3]));
      LS_ASSIGN_OR_RETURN(std::string text, engine.target().Logs(id, bytes));
      Response r;
      r.body = std::move(text);
      r.Set("Content-Type", "text/plain; charset=utf-8");
      r.Set("X-Lockstep-Log-Of", id);
      return r;
    };
  } else if (method == "POST" && is("environments/*/plans")) {
    work = [&]() -> Result<Response> {
      std::string revision = options_.branch;
      if (!call.body.empty()) {
        LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "plan request"));
        LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
        LS_ASSIGN_OR_RETURN(std::optional<std::string> rev, o.OptionalString("revision"));
        if (rev && !rev->empty()) revision = *rev;
      }
      std::string failure = FetchFailure();
      LS_ASSIGN_OR_RETURN(engine::SavedPlan saved, engine.MakePlan(p[1], revision, call.who.name));
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
    };
  } else if (method == "GET" && is("plans/*")) {
    work = [&]() -> Result<Response> {
      LS_ASSIGN_OR_RETURN(auto found, engine.FindPlan(p[1]));
      bj::value plan = bj::parse(engine::PlanJson(found.second, found.first.id));
      plan.as_object()["text"] = engine::PlanText(found.second, false);
      plan.as_object()["actor"] = found.first.actor;
      plan.as_object()["created_at"] = found.first.created_at;
      return Json(200, plan);
    };
  } else if (method == "POST" && is("environments/*/unlock")) {
    work = [&]() -> Result<Response> {
      LS_RETURN_IF_ERROR(store.BreakLease(p[1], call.who.name));
      return Json(200, bj::object{{"environment", p[1]}, {"unlocked", true}});
    };
  } else if (method == "POST" && is("environments/*/deployments")) {
    // Plan and apply in one step (`lockstep apply ENV`), for environments without approval.
    work = [&]() -> Result<Response> {
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
                           p[1] + "`, read it, then `lockstep apply PLAN_ID`");
      }
      LS_ASSIGN_OR_RETURN(engine::SavedPlan saved,
                          engine.MakePlan(p[1], options_.branch, call.who.name));
      if (!saved.problems.empty()) return ProblemsResponse(saved.problems);
      if (saved.plan.approval_required) {
        return FailedPrecondition(
            p[1] +
            " requires approval (approval = \"required\" in lockstep.toml), so it is "
            "applied only from a saved plan: `lockstep plan " +
            p[1] + "`, then `lockstep apply PLAN_ID` (plan " + saved.id + " is saved)");
      }
      return StartSaved(engine, saved, {call.who.name, reason.value_or("")});
    };
  } else if (method == "POST" && is("environments/*/rollbacks")) {
    work = [&]() -> Result<Response> {
      engine::RollbackRequest request{.environment = p[1]};
      std::optional<std::string> reason;
      if (!call.body.empty()) {
        LS_ASSIGN_OR_RETURN(json::Document doc,
                            json::Document::Parse(call.body, "rollback request"));
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
                          engine.PlanRollbackOf(request, options_.branch, call.who.name));
      return StartSaved(engine, saved, {call.who.name, reason.value_or("")});
    };
  } else if (method == "POST" && is("environments/*/holds/*/release")) {
    work = [&]() -> Result<Response> {
      if (!IsResourceName(p[3])) {
        return InvalidArgument("service '" + p[3].substr(0, 64) + "' is not a name");
      }
      std::optional<std::string> reason;
      if (!call.body.empty()) {
        LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "hold release"));
        LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
        LS_ASSIGN_OR_RETURN(reason, o.OptionalString("reason"));
      }
      if (!reason || reason->empty()) {
        return InvalidArgument("say why the hold ends (\"reason\"): it goes into the audit log");
      }
      LS_RETURN_IF_ERROR(engine.ReleaseHold(p[1], p[3], {call.who.name, *reason}));
      return Json(200, bj::object{{"environment", p[1]}, {"service", p[3]}, {"held", false}});
    };
  } else if (method == "POST" && is("deployments")) {
    work = [&]() -> Result<Response> {
      LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "apply request"));
      LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
      LS_ASSIGN_OR_RETURN(std::string plan_id, o.String("plan_id"));
      LS_ASSIGN_OR_RETURN(std::optional<std::string> reason, o.OptionalString("reason"));
      LS_ASSIGN_OR_RETURN(int64_t id,
                          engine.StartApply(plan_id, {call.who.name, reason.value_or("")}));
      Response r = Json(202, bj::object{{"deployment_id", id}});
      r.Set("Location", "/api/v1/deployments/" + std::to_string(id));
      return r;
    };
  } else if (method == "GET" && is("deployments/*")) {
    work = [&]() -> Result<Response> {
      std::optional<uint64_t> id = ParseUint(p[1]);
      if (!id || *id > INT64_MAX) return NotFound("no deployment " + p[1].substr(0, 32));
      int64_t after = static_cast<int64_t>(
          std::min<uint64_t>(ParseUint(call.Query("after")).value_or(0), INT64_MAX));
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
    };
  } else {
    co_await ex.Send(ApiError(NotFound("no endpoint " + method + " /api/v1/" + [&] {
      std::string joined;
      for (const std::string& s : p) joined += (joined.empty() ? "" : "/") + s.substr(0, 64);
      return joined;
    }())));
    co_return;
  }
  Result<Response> answer = co_await pool_->Run(work);
  co_await ex.Send(AnswerOf(std::move(answer)));
}

}  // namespace lockstep::api
