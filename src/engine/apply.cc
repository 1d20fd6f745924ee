#include "engine/apply.h"

#include <boost/json.hpp>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include "base/strings.h"
#include "engine/approvals.h"
#include "engine/attestations.h"
#include "engine/recovery.h"
#include "engine/saved_plan.h"

namespace lockstep::engine {

namespace bj = boost::json;

namespace {

// "250 ms", "12 s"
std::string Millis(int64_t ms) {
  if (ms % 1000 == 0 || ms >= 10'000) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

std::string Ago(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min";
  return std::to_string(seconds / 3600) + " h";
}

}  // namespace

std::string Staleness(const state::PlanRecord& plan,
                      const std::optional<state::EnvironmentRecord>& env) {
  std::string redo = ": make a new plan (lockstep plan " + plan.environment + ")";
  if (plan.lineage.empty()) {
    // Made before the environment's first apply: valid while nothing was applied.
    if (!env || env->serial == 0) return "";
    return "plan " + plan.id + " was made before " + plan.environment +
           " was first applied; it is now at serial " + std::to_string(env->serial) + redo;
  }
  if (!env || env->lineage != plan.lineage) {
    return "plan " + plan.id + " was made against another lineage of " + plan.environment + " (" +
           plan.lineage + ", now " + (env ? env->lineage : "none") + "): its state was recreated" +
           redo;
  }
  if (env->serial != plan.serial) {
    return "plan " + plan.id + " was made at serial " + std::to_string(plan.serial) + " of " +
           plan.environment + ", which another apply has since moved to serial " +
           std::to_string(env->serial) + redo;
  }
  return "";
}

namespace {

bool IsApplied(const ServicePlan& s, const Plan& plan) {
  if (s.action == Action::kAdd || s.action == Action::kChange) return true;
  // Drift alone: the desired release is put back.
  return s.action == Action::kNone && !s.drift.empty() && plan.desired.contains(s.service);
}

}  // namespace

Result<std::unique_ptr<Apply>> Apply::Begin(state::StateStore& store, runtime::Target& target,
                                            const os::Clock& clock, const state::PlanRecord& record,
                                            const Requester& requester, const ApplyOptions& options,
                                            const std::optional<deploy::Environment>& at_head) {
  LS_ASSIGN_OR_RETURN(Plan plan, FromPlanRecord(record));
  if (at_head) plan.Tighten(*at_head);
  int64_t age = clock.NowSeconds() - record.created_at;
  if (age > options.max_plan_age.count()) {
    return FailedPrecondition("plan " + record.id + " was made " + Ago(age) +
                              " ago; plans older than " + Ago(options.max_plan_age.count()) +
                              " are not applied: make a new plan (lockstep plan " +
                              record.environment + ")");
  }
  LS_ASSIGN_OR_RETURN(state::Lease lease,
                      store.AcquireLease(record.environment,
                                         "apply of plan " + record.id + " by " + requester.actor,
                                         options.lease_ttl));
  // The deployment, recorded in a transaction that ends before the lease is let go.
  auto record_deployment = [&]() -> Result<int64_t> {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_ASSIGN_OR_RETURN(std::optional<state::EnvironmentRecord> env,
                        tx->FindEnvironment(record.environment));
    // One plan, one deployment: a plan that went out (even one that failed) is not taken
    // again, so its approvals and rejections stay about one apply.
    LS_ASSIGN_OR_RETURN(int64_t earlier, tx->DeploymentOfPlan(record.id));
    if (earlier != 0) {
      return FailedPrecondition(
          "plan " + record.id + " went out in deployment " + std::to_string(earlier) +
          " already: make a new plan, `lockstep plan " + record.environment + "`");
    }
    if (std::string why = Staleness(record, env); !why.empty()) return FailedPrecondition(why);
    // Approvals are read in the transaction that records the deployment: one given or
    // withdrawn meanwhile is either seen here or comes after the apply began.
    std::string approved_by;
    std::string approvals;
    if (plan.approval_required) {
      LS_ASSIGN_OR_RETURN(std::vector<state::ApprovalRecord> decisions, tx->Approvals(record.id));
      ApprovalState approval = EvaluateApprovals(
          record, plan.approvals_needed, decisions, clock.NowSeconds(),
          options.approval_max_age.count(), StandsIn(options.approver_stands, record.environment));
      if (!approval.Satisfied()) return FailedPrecondition(approval.Missing(record));
      for (const state::ApprovalRecord& a : approval.counted) {
        approved_by += (approved_by.empty() ? ", approved by " : ", ") + a.approver;
      }
      approvals = ApprovalsJson(approval.counted);
    }
    std::vector<std::string> unattested = MissingAttestations(*tx, plan, options.attestation_key);
    std::string overridden;
    if (!unattested.empty()) {
      std::string lines;
      for (const std::string& u : unattested) lines += (lines.empty() ? "" : "; ") + u;
      if (requester.attestation_override.empty()) {
        return FailedPrecondition("plan " + record.id + " brings what has not proved itself in " +
                                  plan.promote_from + ": " + lines +
                                  ". An admin may apply it anyway, audited: lockstep apply " +
                                  record.id + " --override-attestation REASON");
      }
      overridden = requester.attestation_override + " (lacking: " + lines + ")";
    }
    LS_ASSIGN_OR_RETURN(int64_t deployment,
                        tx->StartDeployment({.environment = record.environment,
                                             .plan_id = record.id,
                                             .commit = record.commit,
                                             .actor = requester.actor,
                                             .why = requester.reason,
                                             .kind = plan.kind,
                                             .approvals = approvals,
                                             .attestation_override = overridden}));
    if (!overridden.empty()) {
      LS_RETURN_IF_ERROR(tx->AppendAudit({.actor = requester.actor,
                                          .action = "override attestation",
                                          .target = record.environment,
                                          .detail = "plan " + record.id + ", deployment " +
                                                    std::to_string(deployment) + ": " + overridden})
                             .status());
    }
    // Audited with the deployment, in the same transaction.
    LS_RETURN_IF_ERROR(
        tx->AppendAudit({.actor = requester.actor,
                         .action = plan.kind,
                         .target = record.environment,
                         .detail = "plan " + record.id + ", deployment " +
                                   std::to_string(deployment) + approved_by +
                                   (requester.reason.empty() ? "" : ": " + requester.reason)})
            .status());
    LS_RETURN_IF_ERROR(tx->Commit());
    return deployment;
  };
  Result<int64_t> id = record_deployment();
  if (!id.ok()) {
    (void)store.ReleaseLease(lease);
    return id.status();
  }
  return std::unique_ptr<Apply>(
      new Apply(store, target, clock, std::move(plan), requester, lease, *id, options));
}

Apply::Apply(state::StateStore& store, runtime::Target& target, const os::Clock& clock, Plan plan,
             Requester requester, state::Lease lease, int64_t deployment_id,
             const ApplyOptions& options)
    : store_(store),
      target_(target),
      clock_(clock),
      plan_(std::move(plan)),
      requester_(std::move(requester)),
      lease_(std::move(lease)),
      deployment_id_(deployment_id),
      options_(options) {}

Apply::~Apply() = default;

Status Apply::Journal(const std::string& step, const std::string& service,
                      const std::string& detail) {
  if (lease_lost_) return LeaseLost();
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store_.BeginJournal());
  LS_RETURN_IF_ERROR(tx->CheckFence(plan_.environment, lease_.fence));
  LS_RETURN_IF_ERROR(tx->AppendJournal({deployment_id_, 0, step, service, detail, 0}).status());
  LS_RETURN_IF_ERROR(tx->Commit());
  if (options_.kill_after_step != 0 && ++steps_ == options_.kill_after_step) std::raise(SIGKILL);
  return Status::Ok();
}

Status Apply::LeaseLost() const {
  return Aborted("the lock of " + plan_.environment +
                 " was lost (expired, taken over or unlocked): this apply writes nothing more");
}

void Apply::Heartbeat(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any wake;
  std::unique_lock lock(mu);
  // Renewed every third of its time to live, by the clock (a slow store must not stretch
  // it); looked at every second between, so that an `unlock` stops the apply (a wait for
  // health, say) at once rather than at the renewal.
  using Clock = std::chrono::steady_clock;
  const auto renew_every =
      std::max(std::chrono::milliseconds(options_.lease_ttl) / 3, std::chrono::milliseconds(100));
  const auto poll = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), renew_every);
  Clock::time_point next_renewal = Clock::now() + renew_every;
  for (;;) {
    // Wakes early only when asked to stop.
    wake.wait_for(lock, stop, poll, [] { return false; });
    if (stop.stop_requested()) return;
    if (Clock::now() >= next_renewal) {
      next_renewal = Clock::now() + renew_every;
      Result<state::Lease> renewed = store_.RenewLease(lease_, options_.lease_ttl);
      if (!renewed.ok() && renewed.status().code() == Code::kAborted) {
        lease_lost_ = true;
        return;
      }
    } else if (Result<std::optional<state::Lease>> now = store_.LeaseOf(lease_.environment);
               now.ok() && (!*now || (*now)->fence != lease_.fence)) {
      lease_lost_ = true;
      return;
    }
  }
}

Status Apply::Stage(const std::atomic<bool>& stop, std::vector<Staged>& staged) {
  for (Staged& s : staged) {
    const std::string& service = s.desired->service;
    LS_RETURN_IF_ERROR(Journal("prepare", service, s.release_id));
    Result<runtime::PreparedRelease> prepared = target_.Prepare(s.desired->release);
    if (!prepared.ok()) {
      return Status(prepared.status().code(), service + ": prepare " + s.desired->version + ": " +
                                                  prepared.status().message());
    }
    if (stop) return Aborted("lockstep serve is stopping");
  }
  // Instances start side by side: twenty services take about as long as the slowest one.
  std::vector<Status> started(staged.size());
  {
    std::vector<std::jthread> starting;
    for (size_t i = 0; i < staged.size(); ++i) {
      if (staged[i].desired->release.config.kind != ReleaseKind::kService) continue;
      // The instance kept from before runs this release: a switch back to it is enough,
      // unless it is no longer running.
      auto standby = standbys_.find(staged[i].desired->service);
      if (standby != standbys_.end() && standby->second.release_id == staged[i].release_id) {
        // Only a healthy one: a standby that is not would fail the apply for its health
        // timeout, each time; a fresh instance is started instead.
        Result<runtime::InstanceHealth> h = target_.Health(standby->second.instance_id);
        if (h.ok() && h->state == runtime::HealthState::kHealthy) {
          started[i] = Journal("reuse", staged[i].desired->service, standby->second.instance_id);
          staged[i].instance_id = standby->second.instance_id;
          staged[i].reused = true;
          continue;
        }
      }
      starting.emplace_back([this, &s = staged[i], &result = started[i]] {
        const std::string& service = s.desired->service;
        result = Journal("start", service, s.release_id);
        if (!result.ok()) return;
        Result<std::string> id = target_.Start({plan_.environment, service}, s.release_id);
        if (!id.ok()) {
          result = Status(id.status().code(),
                          service + ": start " + s.desired->version + ": " + id.status().message());
          return;
        }
        s.instance_id = *id;  // before the journal: a failure after this still retires it
        result = Journal("started", service, *id);
      });
    }
  }
  for (const Status& s : started) LS_RETURN_IF_ERROR(s);
  return Status::Ok();
}

Status Apply::AwaitHealthy(const std::atomic<bool>& stop, std::vector<Staged>& staged) {
  const os::Clock::Instant deadline = clock_.Now() + options_.health_timeout;
  for (;;) {
    bool all = true;
    for (Staged& s : staged) {
      if (s.instance_id.empty() || s.healthy) continue;
      Result<runtime::InstanceHealth> health = target_.Health(s.instance_id);
      if (health.ok() && health->state == runtime::HealthState::kHealthy) {
        s.healthy = true;
        LS_RETURN_IF_ERROR(Journal("healthy", s.desired->service, s.instance_id));
        continue;
      }
      all = false;
    }
    if (all) return Status::Ok();
    if (stop) return Aborted("lockstep serve is stopping");
    if (lease_lost_) return LeaseLost();
    if (clock_.Now() >= deadline) break;
    clock_.SleepFor(options_.health_poll);
  }
  std::string why;
  for (const Staged& s : staged) {
    if (s.instance_id.empty() || s.healthy) continue;
    Result<runtime::InstanceHealth> health = target_.Health(s.instance_id);
    why += (why.empty() ? "" : "; ") + s.desired->service + " " + s.desired->version +
           ": instance " + s.instance_id + " was not healthy within " +
           Millis(options_.health_timeout.count());
    if (health.ok()) {
      why += " (" + std::string(runtime::HealthName(health->state)) +
             (health->last_error.empty() ? "" : ": " + health->last_error) + ")";
    }
    if (Result<std::string> logs = target_.Logs(s.instance_id, 512); logs.ok() && !logs->empty()) {
      why += "; its last log lines: " + *logs;
    }
  }
  return Unavailable(why);
}

Status Apply::Commit(const std::vector<Staged>& staged,
                     const std::map<std::string, state::CurrentRecord>& before,
                     const std::map<std::string, std::string>& routed_before) {
  LS_RETURN_IF_ERROR(Journal("commit", "", plan_.commit));
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store_.Begin());
  LS_RETURN_IF_ERROR(tx->CheckFence(plan_.environment, lease_.fence));
  LS_RETURN_IF_ERROR(tx->Environment(plan_.environment).status());  // its lineage, if new
  for (const Staged& s : staged) {
    const deploy::DeployedService& d = *s.desired;
    auto old = before.find(d.service);
    // A release already recorded is this one (the id covers the digest and the config); the
    // name it is fetched by travels in the details.
    if (Result<std::string> known = tx->Release(s.release_id); !known.ok()) {
      if (known.status().code() != Code::kNotFound) return known.status();
      LS_RETURN_IF_ERROR(tx->PutRelease(s.release_id, ToJson(d.release)));
    }
    state::CurrentRecord record{.environment = plan_.environment,
                                .service = d.service,
                                .release_id = s.release_id,
                                .version = d.version,
                                .details = DetailsJson(d),
                                .deployment_id = deployment_id_,
                                .instance_id = s.instance_id};
    if (old != before.end() && old->second.release_id == s.release_id) {
      record.since = old->second.since;  // the same release, put back
    }
    LS_RETURN_IF_ERROR(tx->SetCurrent(record));
    LS_RETURN_IF_ERROR(
        tx->AppendHistory(
              {.environment = plan_.environment,
               .service = d.service,
               .deployment_id = deployment_id_,
               .change = old == before.end() ? state::Change::kAdded : state::Change::kChanged,
               .from_release = old == before.end() ? std::string() : old->second.release_id,
               .to_release = s.release_id,
               .version = d.version})
            .status());
  }
  for (const ServicePlan& s : plan_.services) {
    if (s.action != Action::kRemove) continue;
    auto old = before.find(s.service);
    LS_RETURN_IF_ERROR(tx->RemoveCurrent(plan_.environment, s.service));
    LS_RETURN_IF_ERROR(
        tx->AppendHistory(
              {.environment = plan_.environment,
               .service = s.service,
               .deployment_id = deployment_id_,
               .change = state::Change::kRemoved,
               .from_release = old == before.end() ? s.from_release : old->second.release_id,
               .version = s.from_version})
            .status());
  }
  // The instance each service ran until now is its standby for the rollback window (the
  // one it had before is retired after the commit); without a window it has none.
  for (const Staged& s : staged) {
    const std::string& service = s.desired->service;
    auto routed = routed_before.find(service);
    auto old = before.find(service);
    const bool keep = s.keep_old;
    if (keep) {
      LS_RETURN_IF_ERROR(
          tx->SetStandby({.environment = plan_.environment,
                          .service = service,
                          .release_id = old->second.release_id,
                          .version = old->second.version,
                          .instance_id = routed->second,
                          .deployment_id = deployment_id_,
                          .until = clock_.NowSeconds() + plan_.rollback_window_seconds}));
    } else if (s.reused || (standbys_.contains(service) && plan_.rollback_window_seconds <= 0)) {
      // Live again, or the environment keeps none now. (Otherwise the standby it has stays:
      // an apply that repairs a drifted instance of the same release keeps the way back.)
      LS_RETURN_IF_ERROR(tx->RemoveStandby(plan_.environment, service));
    }
  }
  for (const ServicePlan& s : plan_.services) {
    if (s.action == Action::kRemove && standbys_.contains(s.service)) {
      LS_RETURN_IF_ERROR(tx->RemoveStandby(plan_.environment, s.service));
    }
  }
  // What a rollback put back stays put until a person says otherwise, and git is told.
  if (plan_.kind == "rollback") {
    bj::array files;
    for (const ServicePlan& s : plan_.services) {
      if (s.action == Action::kNone) continue;
      if (s.action == Action::kRemove) {
        files.push_back(bj::object{
            {"service", s.service}, {"remove", true}, {"from", s.from_version}, {"to", ""}});
      } else {
        files.push_back(bj::object{{"service", s.service},
                                   {"source", plan_.desired.at(s.service).source_commit},
                                   {"from", s.from_version},
                                   {"to", s.to_version}});
      }
      LS_RETURN_IF_ERROR(
          tx->SetHold({.environment = plan_.environment,
                       .service = s.service,
                       .actor = requester_.actor,
                       .reason = requester_.reason.empty() ? "rolled back" : requester_.reason,
                       .deployment_id = deployment_id_}));
    }
    LS_RETURN_IF_ERROR(tx->PutWriteBack({.environment = plan_.environment,
                                         .deployment_id = deployment_id_,
                                         .actor = requester_.actor,
                                         .reason = requester_.reason,
                                         .files = bj::serialize(files)})
                           .status());
  }
  // Only a change of what runs moves the serial: putting a drifted instance back does not.
  if (plan_.HasChanges()) {
    LS_RETURN_IF_ERROR(tx->BumpSerial(plan_.environment, plan_.commit).status());
  }
  LS_RETURN_IF_ERROR(tx->MarkCommitted(deployment_id_));
  return tx->Commit();
}

bool Apply::StillHolds() {
  Result<std::unique_ptr<state::Transaction>> tx = store_.Begin();
  return tx.ok() && (*tx)->CheckFence(plan_.environment, lease_.fence).ok();
}

state::Outcome Apply::Run(const std::atomic<bool>& stop) {
  std::jthread heartbeat([this](std::stop_token st) { Heartbeat(st); });
  auto finish = [&](state::Outcome outcome, const std::string& reason) {
    heartbeat.request_stop();
    heartbeat.join();
    (void)Journal("finish", "", std::string(state::OutcomeName(outcome)));
    if (Result<std::unique_ptr<state::Transaction>> tx = store_.Begin(); tx.ok()) {
      if ((*tx)->FinishDeployment(deployment_id_, outcome, reason).ok()) (void)(*tx)->Commit();
    }
    (void)store_.ReleaseLease(lease_);
    return outcome;
  };

  std::map<std::string, state::CurrentRecord> before;
  std::map<std::string, std::string> routed_before;  // service → instance
  // The transaction ends before `finish` (which takes the store's lock again) can run.
  Result<std::map<std::string, state::CurrentRecord>> current =
      [&]() -> Result<std::map<std::string, state::CurrentRecord>> {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store_.Begin());
    LS_ASSIGN_OR_RETURN(std::vector<state::StandbyRecord> standbys,
                        tx->Standbys(plan_.environment));
    for (state::StandbyRecord& r : standbys) standbys_.emplace(r.service, std::move(r));
    return tx->Current(plan_.environment);
  }();
  if (!current.ok()) return finish(state::Outcome::kFailed, current.status().message());
  before = std::move(*current);
  // What the routes name now (the routing table, not a walk of the runtime).
  Result<std::map<std::string, std::string>> routed = target_.Routed(plan_.environment);
  if (!routed.ok()) return finish(state::Outcome::kFailed, routed.status().message());
  routed_before = std::move(*routed);

  std::vector<Staged> staged;
  for (const ServicePlan& s : plan_.services) {
    if (!IsApplied(s, plan_)) continue;
    const deploy::DeployedService& d = plan_.desired.at(s.service);
    staged.push_back({&d, ReleaseId(d.release)});
  }
  bool removes = false;
  for (const ServicePlan& s : plan_.services) removes |= s.action == Action::kRemove;
  if (staged.empty() && !removes) return finish(state::Outcome::kNoChange, "");

  if (Status s = Journal("begin", "", "plan of " + plan_.commit.substr(0, 12)); !s.ok()) {
    return finish(state::Outcome::kFailed, s.message());
  }
  Status staging = Stage(stop, staged);
  if (staging.ok()) staging = AwaitHealthy(stop, staged);
  if (!staging.ok()) {
    std::string undone = Undo(staged);
    return finish(state::Outcome::kFailed, staging.message() + "; nothing was switched" + undone);
  }

  runtime::RouteChanges routes;
  for (const Staged& s : staged) {
    if (!s.instance_id.empty())
      routes[s.desired->service] = {s.instance_id, s.desired->public_port};
  }
  for (const ServicePlan& s : plan_.services) {
    if (s.action == Action::kRemove && routed_before.contains(s.service)) routes[s.service] = {};
  }
  for (const Staged& s : staged) {
    // A service that became a function answers on no port any more.
    if (s.instance_id.empty() && routed_before.contains(s.desired->service)) {
      routes[s.desired->service] = {};
    }
  }
  if (!routes.empty()) {
    Status switched = Journal("switch", "", std::to_string(routes.size()) + " route(s)");
    if (switched.ok()) switched = target_.SwitchRoutes(plan_.environment, routes);
    if (!switched.ok()) {
      std::string undone = Undo(staged);
      return finish(state::Outcome::kFailed,
                    "switch: " + switched.message() + "; nothing was switched" + undone);
    }
  }
  // Decided once, before the commit records it: what becomes a standby.
  for (Staged& s : staged) {
    s.keep_old = KeepsAsStandby(s, routed_before.find(s.desired->service), routed_before,
                                before.find(s.desired->service), before);
  }
  if (Status committed = Commit(staged, before, routed_before); !committed.ok()) {
    // The routes moved but the record did not: the record's routes come back, as recovery
    // would put them, unless the lock was lost (then whoever holds it owns the routes).
    std::string why = "commit: " + committed.message();
    if (lease_lost_ || !StillHolds()) {
      return finish(state::Outcome::kFailed,
                    why +
                        "; the lock was lost, so the routes were left as they are: see "
                        "`lockstep status " +
                        plan_.environment + "`");
    }
    Result<std::vector<runtime::ObservedInstance>> now = target_.Observe(plan_.environment);
    Status restored =
        now.ok() ? RouteAsRecorded(target_, clock_, options_, plan_.environment, before, *now)
                 : now.status();
    if (!restored.ok()) {
      return finish(state::Outcome::kFailed,
                    why + "; the recorded routes could not be put back (" + restored.message() +
                        "): the new instances still serve; apply again or roll back");
    }
    std::string undone = Undo(staged);
    return finish(state::Outcome::kFailed, why + "; the recorded routes were put back" + undone);
  }

  // Committed: what the switch left unrouted is retired or kept as a standby.
  std::string retire_errors = RetireLeftBehind(staged, before, routed_before);
  return finish(state::Outcome::kSucceeded, retire_errors);
}

}  // namespace lockstep::engine
