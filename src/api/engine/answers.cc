#include "api/engine/answers.h"

#include "core/release.h"

namespace lockstep::api {

namespace bj = boost::json;
using http::Response;

namespace {

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

// Where a function of the status is invoked (null for a service).
bj::value InvokePath(const std::string& environment, const std::string& name,
                     const deploy::DeployedService& d) {
  if (d.release.config.kind != ReleaseKind::kFunction) return nullptr;
  return bj::value("/api/v1/environments/" + environment + "/functions/" + name + "/invoke");
}

}  // namespace

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
          {"committed", d.committed_at != 0},
          // Recorded by this server: JSON it wrote, or "" for none.
          {"approvals", d.approvals.empty() ? bj::value(bj::array()) : bj::parse(d.approvals)},
          {"attestation_override", Nullable(d.attestation_override)}};
}

namespace {

bj::object DecisionJson(const state::ApprovalRecord& a) {
  return {{"by", a.approver}, {"at", a.at}, {"comment", a.comment}};
}

}  // namespace

bj::object ApprovalStateJson(const engine::ApprovalState& a) {
  bj::array counted, expired;
  for (const state::ApprovalRecord& r : a.counted) counted.push_back(DecisionJson(r));
  for (const state::ApprovalRecord& r : a.expired) expired.push_back(DecisionJson(r));
  return {{"needed", a.needed},
          {"satisfied", a.Satisfied()},
          {"approved_by", std::move(counted)},
          {"expired", std::move(expired)},
          {"rejected_by", a.rejection ? bj::value(DecisionJson(*a.rejection)) : nullptr}};
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

Result<Response> EnvironmentStatus(engine::Engine& engine, const std::string& name) {
  state::StateStore& store = engine.store();
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
}

}  // namespace lockstep::api
