#include "api/engine/engine_api.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

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

Response Json(int status, const bj::value& body) {
  Response r;
  r.status = status;
  r.body = bj::serialize(body) + "\n";
  r.Set("Content-Type", "application/json");
  return r;
}

bj::value Nullable(const std::string& s) { return s.empty() ? bj::value(nullptr) : bj::value(s); }

bj::object DeploymentJson(const state::DeploymentRecord& d) {
  return {{"id", d.id},
          {"environment", d.environment},
          {"plan_id", d.plan_id},
          {"commit", d.commit},
          {"actor", d.actor},
          {"started_at", d.started_at},
          {"finished_at", d.finished_at},
          {"outcome", state::OutcomeName(d.outcome)},
          {"reason", d.reason},
          {"why", d.why},
          {"kind", d.kind},
          {"committed", d.committed_at != 0}};
}

// The hold of `service`, or null.
bj::value HoldJson(const std::map<std::string, state::HoldRecord>& holds,
                   const std::string& service) {
  auto it = holds.find(service);
  if (it == holds.end()) return nullptr;
  return bj::object{{"by", it->second.actor},
                    {"reason", it->second.reason},
                    {"since", it->second.since},
                    {"deployment_id", it->second.deployment_id}};
}

bj::object InvocationJson(const state::InvocationRecord& r) {
  return {{"id", r.id},
          {"function", r.function},
          {"release", r.release_id},
          {"trigger", r.trigger},
          {"actor", r.actor},
          {"scheduled_for", r.scheduled_for == 0 ? bj::value(nullptr) : bj::value(r.scheduled_for)},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at == 0 ? bj::value(nullptr) : bj::value(r.finished_at)},
          {"invocation", Nullable(r.invocation_id)},
          {"exit_code", r.exit_code},
          {"duration_ms", r.duration_ms},
          {"timed_out", r.timed_out},
          {"out_of_memory", r.out_of_memory},
          {"error", Nullable(r.error)}};
}

// A function's answer as a Lambda's: its output is the body, whatever its exit code; the
// outcome is in headers (X-Lockstep-Function-Error names a failure).
Response InvocationResponse(const engine::FunctionRun& run) {
  const runtime::Invocation& inv = run.invocation;
  Response r;
  r.body = inv.output;
  r.Set("Content-Type", "application/octet-stream");
  r.Set("X-Lockstep-Invocation", std::to_string(run.record.id));
  r.Set("X-Lockstep-Release", run.record.release_id);
  r.Set("X-Lockstep-Exit-Code", std::to_string(inv.exit_code));
  r.Set("X-Lockstep-Duration-Ms", std::to_string(inv.duration.count()));
  if (inv.timed_out) {
    r.Set("X-Lockstep-Function-Error", "timeout");
  } else if (inv.out_of_memory) {
    r.Set("X-Lockstep-Function-Error", "out-of-memory");
  } else if (inv.exit_code != 0) {
    r.Set("X-Lockstep-Function-Error", "exit " + std::to_string(inv.exit_code));
  }
  if (inv.output_truncated) r.Set("X-Lockstep-Output-Truncated", "true");
  return r;
}

// Where a function of the status is invoked (null for a service).
bj::value InvokePath(const std::string& environment, const std::string& name,
                     const deploy::DeployedService& d) {
  if (d.release.config.kind != ReleaseKind::kFunction) return nullptr;
  return bj::value("/api/v1/environments/" + environment + "/functions/" + name + "/invoke");
}

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

// 422 with every problem of a deploy repository that cannot be planned.
Response ProblemsResponse(const std::vector<deploy::Problem>& found) {
  bj::array problems;
  for (const deploy::Problem& pr : found) {
    problems.push_back(bj::object{{"file", pr.file},
                                  {"line", pr.line},
                                  {"column", pr.column},
                                  {"message", pr.message},
                                  {"text", pr.str()}});
  }
  std::string message =
      "the deploy repository has " + std::to_string(problems.size()) + " problem(s)";
  return Json(422, bj::object{{"error", bj::object{{"code", "INVALID_REPOSITORY"},
                                                   {"message", std::move(message)}}},
                              {"problems", std::move(problems)}});
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

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// A push event from a git host, authenticated by the shared secret as the host sends it:
// GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the body), GitLab's X-Gitlab-Token, or
// X-Lockstep-Secret from anything else (curl in a CI job).
Status WebhookAllowed(const http::Request& req, const std::string& body,
                      const std::string& secret) {
  if (secret.empty()) {
    return PermissionDenied(
        "the webhook is off: set [deploy] webhook_secret in the server's config.toml");
  }
  std::string_view signature = req.Header("x-hub-signature-256");
  if (!signature.empty()) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string expected = "sha256=";
    for (unsigned int i = 0; i < len; ++i) {
      expected += kHex[mac[i] >> 4];
      expected += kHex[mac[i] & 15];
    }
    if (ConstantTimeEquals(signature, expected)) return Status::Ok();
  } else {
    std::string_view given = req.Header("x-gitlab-token");
    if (given.empty()) given = req.Header("x-lockstep-secret");
    if (!given.empty() && ConstantTimeEquals(given, secret)) return Status::Ok();
  }
  return Unauthenticated(
      "the webhook needs [deploy] webhook_secret: as GitHub's X-Hub-Signature-256, GitLab's "
      "X-Gitlab-Token or an X-Lockstep-Secret header");
}

// What `who`'s role may do: read any role, except logs (push or admin: a log can hold
// what a service prints); invoke a function push or admin (the function's repository is
// checked where it is known); every other change admin.
Status RoleAllows(const Identity& who, const std::string& method, bool invoke, bool logs) {
  const std::string has = "token " + who.name + " has role " + std::string(RoleName(who.role));
  if (who.role == Role::kAdmin) return Status::Ok();
  if (invoke || logs) {
    if (who.role == Role::kPush) return Status::Ok();
    return PermissionDenied(has + (invoke ? "; invoking a function needs a push or admin token"
                                          : "; reading logs needs a push or admin token"));
  }
  if (method == "POST") return PermissionDenied(has + "; deploy actions need an admin token");
  return Status::Ok();
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
    work = [&]() -> Result<Response> {
      const std::string& name = p[1];
      std::optional<state::EnvironmentRecord> env;
      std::map<std::string, state::CurrentRecord> current;
      std::map<std::string, state::HoldRecord> holds;
      std::vector<state::StandbyRecord> kept;
      {
        LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
        LS_ASSIGN_OR_RETURN(env, tx->FindEnvironment(name));
        LS_ASSIGN_OR_RETURN(current, tx->Current(name));
        LS_ASSIGN_OR_RETURN(holds, tx->Holds(name));
        LS_ASSIGN_OR_RETURN(kept, tx->Standbys(name));
      }
      if (!env) return NotFound("environment " + name + " was never applied");
      LS_ASSIGN_OR_RETURN(std::vector<runtime::ObservedInstance> observed,
                          engine.target().Observe(name));
      LS_ASSIGN_OR_RETURN(std::optional<state::Lease> lease, store.LeaseOf(name));
      bj::array services;
      for (const auto& [service, c] : current) {
        LS_ASSIGN_OR_RETURN(deploy::DeployedService d,
                            engine::FromRecord(service, c.version, c.release_spec, c.details));
        std::string health = d.release.config.kind == ReleaseKind::kFunction ? "" : "missing";
        for (const runtime::ObservedInstance& o : observed) {
          if (o.instance_id == c.instance_id) health = std::string(runtime::HealthName(o.health));
        }
        services.push_back(bj::object{
            {"service", service},
            {"kind", KindName(d.release.config.kind)},
            {"version", c.version},
            {"digest", d.release.image.digest ? d.release.image.digest->str() : ""},
            {"release", c.release_id},
            {"since", c.since},
            {"deployment_id", c.deployment_id},
            {"instance", Nullable(c.instance_id)},
            {"health", Nullable(health)},
            {"public_port", d.public_port == 0 ? bj::value(nullptr) : bj::value(d.public_port)},
            {"invoke", InvokePath(name, service, d)},
            {"held", HoldJson(holds, service)}});
      }
      // What rollbacks still owe the deploy repository: git is behind what runs.
      LS_ASSIGN_OR_RETURN(std::vector<state::WriteBackRecord> owed, store.OpenWriteBacks(name));
      bj::array write_backs;
      for (const state::WriteBackRecord& w : owed) {
        write_backs.push_back(bj::object{{"id", w.id},
                                         {"deployment_id", w.deployment_id},
                                         {"state", state::WriteBackStateName(w.state)},
                                         {"attempts", w.attempts},
                                         {"next_attempt_at", w.next_attempt_at},
                                         {"error", Nullable(w.last_error)}});
      }
      bj::object git{{"behind", !owed.empty()}, {"write_backs", std::move(write_backs)}};
      // The instances kept for an instant rollback, and what they cost.
      bj::array standbys;
      for (const state::StandbyRecord& k : kept) {
        uint64_t memory = 0;
        for (const runtime::ObservedInstance& o : observed) {
          if (o.instance_id == k.instance_id) memory = o.memory_bytes;
        }
        standbys.push_back(bj::object{{"service", k.service},
                                      {"version", k.version},
                                      {"release", k.release_id},
                                      {"instance", k.instance_id},
                                      {"until", k.until},
                                      {"memory_bytes", memory}});
      }
      return Json(200, bj::object{{"environment", name},
                                  {"git", std::move(git)},
                                  {"standbys", std::move(standbys)},
                                  {"lineage", env->lineage},
                                  {"serial", env->serial},
                                  {"commit", env->commit},
                                  {"locked_by", lease ? bj::value(lease->holder) : nullptr},
                                  {"services", std::move(services)}});
    };
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
