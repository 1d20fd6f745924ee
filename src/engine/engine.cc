#include "engine/engine.h"

#include <set>

#include "base/strings.h"
#include "engine/planner.h"
#include "engine/recovery.h"
#include "engine/saved_plan.h"

namespace lockstep::engine {

Engine::Engine(PlanSources sources, const os::Clock& clock, ApplyOptions options,
               const attest::Signer* signer)
    : sources_(std::move(sources)),
      clock_(clock),
      options_(std::move(options)),
      attestor_(*sources_.store, *sources_.target, signer, clock_),
      functions_(*sources_.store, *sources_.target),
      write_backs_(*sources_.store, sources_.mirror, clock_) {
  if (signer != nullptr) options_.attestation_key = signer->public_key_pem();
}

Engine::~Engine() {
  stopping_ = true;
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    for (const auto& [id, job] : jobs_) {
      if (!job->done) return false;
    }
    return true;
  });
  ReapLocked();
}

Result<std::vector<std::string>> Engine::Recover() {
  LS_ASSIGN_OR_RETURN(int abandoned,
                      sources_.store->AbandonInvocations("lockstep serve stopped while it ran"));
  LS_ASSIGN_OR_RETURN(std::vector<std::string> done,
                      RecoverDeployments(*sources_.store, *sources_.target, clock_, options_));
  if (abandoned > 0) {
    done.push_back(std::to_string(abandoned) +
                   " function run(s) ended with the server that ran them; recorded as such");
  }
  return done;
}

Result<SavedPlan> Engine::MakePlan(const std::string& environment, const std::string& revision,
                                   const std::string& actor) {
  if (sources_.mirror == nullptr) {
    return FailedPrecondition(
        "no deploy repository is configured: set [deploy] repo in the server's config.toml");
  }
  LS_ASSIGN_OR_RETURN(PlanOrProblems made, PlanEnvironment(sources_, environment, revision));
  SavedPlan saved;
  if (auto* problems = std::get_if<std::vector<deploy::Problem>>(&made)) {
    saved.problems = std::move(*problems);
    return saved;
  }
  saved.plan = std::get<Plan>(std::move(made));
  if (std::optional<deploy::Environment> head = EnvironmentAtHead(environment)) {
    saved.plan.Tighten(*head);
  }
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
  LS_ASSIGN_OR_RETURN(saved.id, tx->PutPlan(ToPlanRecord(saved.plan, actor)));
  LS_RETURN_IF_ERROR(tx->Commit());
  return saved;
}

Result<std::pair<state::PlanRecord, Plan>> Engine::FindPlan(const std::string& id) {
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
  LS_ASSIGN_OR_RETURN(state::PlanRecord record, tx->FindPlan(id));
  tx.reset();
  LS_ASSIGN_OR_RETURN(Plan plan, FromPlanRecord(record));
  // What an apply of it would need now.
  if (std::optional<deploy::Environment> head = EnvironmentAtHead(record.environment)) {
    plan.Tighten(*head);
  }
  return std::pair{std::move(record), std::move(plan)};
}

Result<SavedPlan> Engine::PlanRollbackOf(const RollbackRequest& request, const std::string& branch,
                                         const std::string& actor) {
  SavedPlan saved;
  LS_ASSIGN_OR_RETURN(saved.plan, PlanRollback(*sources_.store, *sources_.target, request));
  // The grants it needs must still be the environment's (what the repository says now).
  if (sources_.mirror != nullptr) {
    Result<std::string> head = sources_.mirror->Resolve(branch);
    Result<deploy::ReadResult> read =
        head.ok() ? ReadRepoAt(*sources_.mirror, *head, sources_.embedded_registry)
                  : Result<deploy::ReadResult>(head.status());
    // Unreadable, the repository cannot say: the window is the format's default.
    saved.plan.rollback_window_seconds = deploy::Environment{}.rollback_window_seconds;
    if (read.ok() && read->problems.empty()) {
      if (const deploy::Environment* env = read->repo.Find(request.environment)) {
        LS_RETURN_IF_ERROR(CheckGrantsOwned(saved.plan, env->volumes));
        saved.plan.rollback_window_seconds = env->rollback_window_seconds;
      }
    }
  }
  // Each release is made runnable now, from the target's cache or its registry, so that a
  // release whose image is gone is refused before anything is recorded.
  for (const ServicePlan& s : saved.plan.services) {
    if (s.action != Action::kAdd && s.action != Action::kChange) continue;
    const deploy::DeployedService& d = saved.plan.desired.at(s.service);
    Result<runtime::PreparedRelease> prepared = sources_.target->Prepare(d.release);
    if (!prepared.ok()) {
      return FailedPrecondition(s.service + " " + d.version + " cannot be put back: its image " +
                                (d.release.image.digest ? d.release.image.digest->str() : "") +
                                " is in neither the target's cache nor the registry (" +
                                prepared.status().message() + ")");
    }
  }
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
  LS_ASSIGN_OR_RETURN(saved.id, tx->PutPlan(ToPlanRecord(saved.plan, actor)));
  LS_RETURN_IF_ERROR(tx->Commit());
  return saved;
}

std::vector<std::string> Engine::RetireExpiredStandbys(int64_t now) {
  std::vector<std::string> retired;
  std::vector<state::StandbyRecord> all;
  if (Result<std::unique_ptr<state::Transaction>> tx = sources_.store->Begin(); tx.ok()) {
    if (Result<std::vector<state::StandbyRecord>> r = (*tx)->Standbys(""); r.ok()) all = *r;
  }
  std::set<std::string> environments;
  for (const state::StandbyRecord& s : all) {
    if (s.until <= now) environments.insert(s.environment);
  }
  for (const std::string& env : environments) {
    Result<state::Lease> lease =
        sources_.store->AcquireLease(env, "retiring standbys", std::chrono::seconds(30));
    if (!lease.ok()) continue;  // an apply holds it: next time
    std::vector<state::StandbyRecord> expired;
    if (Result<std::unique_ptr<state::Transaction>> tx = sources_.store->Begin(); tx.ok()) {
      if (Result<std::vector<state::StandbyRecord>> standbys = (*tx)->Standbys(env);
          standbys.ok()) {
        for (state::StandbyRecord& s : *standbys) {
          if (s.until <= now) expired.push_back(std::move(s));
        }
      }
    }
    for (const state::StandbyRecord& s : expired) {
      // Under the lease still (checked each time: an apply that took it over may be
      // reusing this very standby), and never an instance the record has live. The record
      // goes first: a crash before the retire leaves an instance nothing accounts for
      // (drift), never a live one stopped.
      bool live = false;
      {
        Result<std::unique_ptr<state::Transaction>> tx = sources_.store->Begin();
        if (!tx.ok() || !(*tx)->CheckFence(env, lease->fence).ok()) break;
        Result<std::map<std::string, state::CurrentRecord>> current = (*tx)->Current(env);
        if (!current.ok()) break;
        for (const auto& [service, c] : *current) live |= c.instance_id == s.instance_id;
        if (!(*tx)->RemoveStandby(env, s.service).ok() || !(*tx)->Commit().ok()) continue;
      }
      if (live) continue;
      // Unrouted: nothing to drain (the target refuses to retire a routed instance).
      Status r = sources_.target->Retire(s.instance_id, std::chrono::milliseconds(0));
      retired.push_back(env + "/" + s.service + " " + s.version + " (" + s.instance_id + ")" +
                        (r.ok() || r.code() == Code::kNotFound ? "" : ": " + r.message()));
    }
    (void)sources_.store->ReleaseLease(*lease);
  }
  return retired;
}

Result<ApprovalState> Engine::ApprovalsOf(const state::PlanRecord& record, const Plan& plan) {
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
  LS_ASSIGN_OR_RETURN(std::vector<state::ApprovalRecord> decisions, tx->Approvals(record.id));
  return EvaluateApprovals(record, plan.approvals_needed, decisions, clock_.NowSeconds(),
                           options_.approval_max_age.count(),
                           StandsIn(options_.approver_stands, record.environment));
}

Result<PromoteResult> Engine::Promote(PromoteRequest request, const Requester& requester) {
  request.reason = requester.reason;
  return engine::Promote(sources_, attestor_, clock_, request, requester.actor);
}

Result<std::optional<deploy::DeployRepo>> Engine::RepoAtHead() {
  if (sources_.mirror == nullptr) return std::optional<deploy::DeployRepo>();
  std::lock_guard lock(head_mutex_);
  LS_ASSIGN_OR_RETURN(std::string head, sources_.mirror->Resolve(options_.branch));
  if (head != head_commit_) {
    LS_ASSIGN_OR_RETURN(deploy::ReadResult read,
                        ReadRepoAt(*sources_.mirror, head, sources_.embedded_registry));
    head_repo_.reset();
    if (read.problems.empty()) head_repo_ = std::move(read.repo);
    head_commit_ = head;
  }
  return head_repo_;
}

std::optional<deploy::Environment> Engine::EnvironmentAtHead(const std::string& environment) {
  Result<std::optional<deploy::DeployRepo>> repo = RepoAtHead();
  if (!repo.ok() || !*repo) return std::nullopt;
  const deploy::Environment* env = (*repo)->Find(environment);
  if (env == nullptr) return std::nullopt;
  return *env;
}

Result<std::vector<std::string>> Engine::AttestSoaks() {
  LS_ASSIGN_OR_RETURN(std::optional<deploy::DeployRepo> repo, RepoAtHead());
  // A repository that does not read promotes nothing: its plans say why.
  if (!repo) return std::vector<std::string>{};
  return attestor_.AttestSoaks(*repo);
}

Result<std::vector<PlanStatus>> Engine::Plans(const std::string& environment, int limit) {
  LS_ASSIGN_OR_RETURN(std::vector<state::PlanListing> listings,
                      sources_.store->Plans(environment, limit));
  std::optional<state::EnvironmentRecord> env;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
    LS_ASSIGN_OR_RETURN(env, tx->FindEnvironment(environment));
  }
  const int64_t now = clock_.NowSeconds();
  std::optional<deploy::Environment> head = EnvironmentAtHead(environment);
  std::vector<PlanStatus> out;
  for (state::PlanListing& listing : listings) {
    PlanStatus s;
    Result<Plan> plan = FromPlanRecord(listing.plan);
    if (!plan.ok()) continue;  // written by another lockstep: never applied by this one
    s.plan = std::move(*plan);
    if (head) s.plan.Tighten(*head);
    s.approvals = EvaluateApprovals(listing.plan, s.plan.approvals_needed, listing.approvals, now,
                                    options_.approval_max_age.count(),
                                    StandsIn(options_.approver_stands, listing.plan.environment));
    std::string stale = Staleness(listing.plan, env);
    if (stale.empty() && now - listing.plan.created_at > options_.max_plan_age.count()) {
      stale = "plan " + listing.plan.id + " is older than [deploy] max_plan_age: make a new plan";
    }
    if (listing.deployment_id != 0) {
      s.state = "applied";
    } else if (s.approvals.rejection) {
      s.state = "rejected";
      s.why = s.approvals.Missing(listing.plan);
    } else if (!stale.empty()) {
      s.state = "stale";
      s.why = stale;
    } else if (!s.plan.approval_required) {
      s.state = "ready";
    } else if (s.approvals.Satisfied()) {
      s.state = "approved";
    } else {
      s.state = "pending";
      s.why = s.approvals.Missing(listing.plan);
    }
    s.listing = std::move(listing);
    out.push_back(std::move(s));
  }
  return out;
}

Result<ApprovalState> Engine::Decide(const std::string& plan_id, bool approve,
                                     const Requester& requester) {
  LS_ASSIGN_OR_RETURN(auto found, FindPlan(plan_id));
  const auto& [record, plan] = found;
  if (!plan.approval_required) {
    return FailedPrecondition(
        "plan " + plan_id + " is of " + record.environment + ", which needs no approval (its " +
        "lockstep.toml has no approval = \"required\", or this is a rollback): apply it with " +
        "`lockstep apply " + plan_id + "`");
  }
  if (approve && requester.actor == record.actor) {
    return PermissionDenied("plan " + plan_id + " was made by " + record.actor +
                            ", and its author's approval does not count: another approver of " +
                            record.environment + " approves it");
  }
  const int64_t now = clock_.NowSeconds();
  if (approve && now - record.created_at > options_.max_plan_age.count()) {
    return FailedPrecondition(
        "plan " + plan_id + " is too old to be applied (made " + FormatRfc3339(record.created_at) +
        "), so it is not approved: make a new plan (lockstep plan " + record.environment + ")");
  }
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
  LS_ASSIGN_OR_RETURN(int64_t deployment, tx->DeploymentOfPlan(plan_id));
  if (deployment != 0) {
    return FailedPrecondition("plan " + plan_id + " went out in deployment " +
                              std::to_string(deployment) +
                              "; approvals are for plans not applied yet");
  }
  LS_ASSIGN_OR_RETURN(std::vector<state::ApprovalRecord> decisions, tx->Approvals(plan_id));
  ApprovalState before = EvaluateApprovals(record, plan.approvals_needed, decisions, now,
                                           options_.approval_max_age.count(),
                                           StandsIn(options_.approver_stands, record.environment));
  if (before.rejection) return FailedPrecondition(before.Missing(record));
  for (const state::ApprovalRecord& a : before.counted) {
    if (approve && a.approver == requester.actor) {
      return AlreadyExists(requester.actor + " approved plan " + plan_id + " at " +
                           FormatRfc3339(a.at) + "; one approver counts once");
    }
  }
  state::ApprovalRecord decision{.plan_id = plan_id,
                                 .approver = requester.actor,
                                 .approved = approve,
                                 .comment = requester.reason};
  LS_RETURN_IF_ERROR(tx->AddApproval(decision));
  LS_RETURN_IF_ERROR(
      tx->AppendAudit({.actor = requester.actor,
                       .action = approve ? "approve" : "reject",
                       .target = record.environment,
                       .detail = "plan " + plan_id +
                                 (requester.reason.empty() ? "" : ": " + requester.reason)})
          .status());
  LS_RETURN_IF_ERROR(tx->Commit());
  decision.at = now;
  decisions.push_back(decision);
  return EvaluateApprovals(record, plan.approvals_needed, decisions, now,
                           options_.approval_max_age.count(),
                           StandsIn(options_.approver_stands, record.environment));
}

Status Engine::ReleaseHold(const std::string& environment, const std::string& service,
                           const Requester& requester) {
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
    LS_RETURN_IF_ERROR(tx->RemoveHold(environment, service));
    LS_RETURN_IF_ERROR(tx->AppendAudit({.actor = requester.actor,
                                        .action = "hold release",
                                        .target = environment + "/" + service,
                                        .detail = requester.reason})
                           .status());
    LS_RETURN_IF_ERROR(tx->Commit());
  }
  // A write-back of the service still owed is owed no more: from here on git says what
  // people write there (pushing the rollback now could move the service back).
  LS_ASSIGN_OR_RETURN(std::vector<state::WriteBackRecord> owed,
                      sources_.store->OpenWriteBacks(environment));
  for (state::WriteBackRecord& w : owed) {
    if (w.files.find("\"service\":\"" + service + "\"") == std::string::npos) continue;
    w.state = state::WriteBackState::kDone;
    w.last_error = "closed unpushed: the hold of " + service + " was released by " +
                   requester.actor + " (" + requester.reason + ")";
    LS_RETURN_IF_ERROR(sources_.store->UpdateWriteBack(w));
  }
  return Status::Ok();
}

Result<int64_t> Engine::StartApply(const std::string& plan_id, const Requester& requester) {
  if (stopping_) return Unavailable("lockstep serve is stopping");
  state::PlanRecord record;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources_.store->Begin());
    LS_ASSIGN_OR_RETURN(record, tx->FindPlan(plan_id));
  }
  LS_ASSIGN_OR_RETURN(std::unique_ptr<Apply> apply,
                      Apply::Begin(*sources_.store, *sources_.target, clock_, record, requester,
                                   options_, EnvironmentAtHead(record.environment)));
  int64_t id = apply->deployment_id();
  std::lock_guard lock(mutex_);
  ReapLocked();
  auto job = std::make_unique<Job>();
  Job* j = job.get();
  jobs_[id] = std::move(job);
  j->thread = std::thread([this, j, apply = std::move(apply)] {
    apply->Run(stopping_);
    write_backs_.Wake();  // a rollback may owe git a commit now
    std::lock_guard done(mutex_);
    j->done = true;
    changed_.notify_all();
  });
  return id;
}

void Engine::Wait(int64_t deployment_id) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    auto it = jobs_.find(deployment_id);
    return it == jobs_.end() || it->second->done;
  });
}

void Engine::ReapLocked() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second->done) {
      it->second->thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace lockstep::engine
