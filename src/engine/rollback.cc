#include "engine/rollback.h"

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "engine/planner.h"
#include "engine/saved_plan.h"

namespace lockstep::engine {

namespace {

// What deployment `id` made live: the desired state of the plan it applied.
Result<std::map<std::string, deploy::DeployedService>> MadeLive(state::StateStore& store,
                                                                const state::DeploymentRecord& d) {
  state::PlanRecord record;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_ASSIGN_OR_RETURN(record, tx->FindPlan(d.plan_id));
  }
  LS_ASSIGN_OR_RETURN(Plan plan, FromPlanRecord(record));
  return std::move(plan.desired);
}

Result<state::DeploymentRecord> DeploymentOf(state::StateStore& store, int64_t id) {
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
  return tx->Deployment(id);
}

bool Succeeded(const state::DeploymentRecord& d) {
  return d.outcome == state::Outcome::kSucceeded && d.committed_at != 0;
}

// The history entry of `service` that `to` names among its earlier releases.
Result<state::HistoryRecord> EarlierRelease(state::StateStore& store, const RollbackRequest& r,
                                            const state::CurrentRecord& current) {
  if (!r.to.empty() && (r.to == current.version || r.to == current.release_id ||
                        (r.to.size() >= 4 && current.release_id.starts_with(r.to)))) {
    return FailedPrecondition(r.service + " runs " + r.to + " in " + r.environment +
                              " already: there is nothing to roll back");
  }
  LS_ASSIGN_OR_RETURN(std::vector<state::HistoryRecord> history,
                      store.History(r.environment, r.service, 1000));
  // A release an earlier rollback moved away from is not "the one before": a second
  // rollback goes further back, not forward again.
  LS_ASSIGN_OR_RETURN(std::vector<state::DeploymentRecord> deployments,
                      store.Deployments(r.environment, 1000));
  std::set<int64_t> rollbacks;
  for (const state::DeploymentRecord& d : deployments) {
    if (d.kind == "rollback") rollbacks.insert(d.id);
  }
  std::set<std::string> rolled_back_from;
  std::vector<const state::HistoryRecord*> matches;
  for (const state::HistoryRecord& h : history) {
    if (rollbacks.contains(h.deployment_id)) rolled_back_from.insert(h.from_release);
    if (h.to_release.empty() || h.to_release == current.release_id) continue;
    if (r.to.empty()) {
      if (rolled_back_from.contains(h.to_release)) continue;
      return h;  // newest first: the release before the current one
    }
    if (h.version == r.to || h.to_release == r.to) return h;
    if (r.to.size() >= 4 && h.to_release.starts_with(r.to) &&
        std::none_of(matches.begin(), matches.end(),
                     [&](const auto* m) { return m->to_release == h.to_release; })) {
      matches.push_back(&h);
    }
  }
  if (matches.size() == 1) return *matches[0];
  if (matches.size() > 1) {
    return InvalidArgument("release prefix " + r.to + " names " + std::to_string(matches.size()) +
                           " releases of " + r.service + ": give more of the id");
  }
  std::string known;
  for (const state::HistoryRecord& h : history) {
    if (h.to_release.empty() || h.to_release == current.release_id) continue;
    if (known.find(h.version + " ") != std::string::npos) continue;
    known += h.version + " (" + h.to_release + ") ";
    if (known.size() > 400) break;
  }
  if (known.empty()) {
    return FailedPrecondition(r.service + " has run only " + current.version + " in " +
                              r.environment + ": there is no earlier release to roll back to");
  }
  return NotFound(r.service + " never ran " + (r.to.empty() ? "an earlier release" : r.to) +
                  " in " + r.environment + "; its earlier releases: " + known +
                  "(`lockstep history " + r.environment + " " + r.service + "`)");
}

}  // namespace

Result<Plan> PlanRollback(state::StateStore& store, runtime::Target& target,
                          const RollbackRequest& request) {
  LS_ASSIGN_OR_RETURN(RecordedState recorded, ReadRecorded(store, request.environment));
  if (recorded.environment.serial == 0) {
    return NotFound("environment " + request.environment + " was never applied");
  }
  std::map<std::string, deploy::DeployedService> desired = recorded.services;
  std::string commit = recorded.environment.commit;
  if (request.service.empty()) {
    std::optional<uint64_t> id = ParseUint(request.to);
    if (!id || *id == 0 || *id > INT64_MAX) {
      return InvalidArgument("roll an environment back --to a deployment id (`lockstep history " +
                             request.environment + "` lists them), not '" +
                             request.to.substr(0, 64) + "'");
    }
    Result<state::DeploymentRecord> d = DeploymentOf(store, static_cast<int64_t>(*id));
    if (!d.ok() || d->environment != request.environment) {
      return NotFound("no deployment " + request.to + " in " + request.environment +
                      " (`lockstep history " + request.environment + "` lists them)");
    }
    if (!Succeeded(*d)) {
      return FailedPrecondition("deployment " + request.to + " " +
                                std::string(state::OutcomeName(d->outcome)) +
                                ": only what a deployment made live can be put back");
    }
    LS_ASSIGN_OR_RETURN(desired, MadeLive(store, *d));
    commit = d->commit;
  } else {
    auto current = recorded.current.find(request.service);
    if (current == recorded.current.end()) {
      return NotFound(request.service + " does not run in " + request.environment +
                      " (`lockstep status " + request.environment + "` lists what does)");
    }
    LS_ASSIGN_OR_RETURN(state::HistoryRecord earlier,
                        EarlierRelease(store, request, current->second));
    LS_ASSIGN_OR_RETURN(state::DeploymentRecord d, DeploymentOf(store, earlier.deployment_id));
    LS_ASSIGN_OR_RETURN(auto live, MadeLive(store, d));
    auto it = live.find(request.service);
    if (it == live.end() || ReleaseId(it->second.release) != earlier.to_release) {
      return Internal("deployment " + std::to_string(d.id) + " recorded " + request.service + " " +
                      earlier.to_release + " but its plan does not hold that release");
    }
    desired.insert_or_assign(request.service, it->second);
  }
  LS_ASSIGN_OR_RETURN(std::vector<runtime::ObservedInstance> observed,
                      target.Observe(request.environment));
  Plan plan = MakePlan(request.environment, commit, recorded.environment.lineage,
                       recorded.environment.serial, desired, recorded.services, observed);
  plan.kind = "rollback";
  if (!plan.HasChanges()) {
    return FailedPrecondition((request.service.empty()
                                   ? request.environment + " runs what deployment " + request.to
                                   : request.service + " runs that release") +
                              " already: there is nothing to roll back");
  }
  return plan;
}

Status CheckGrantsOwned(const Plan& plan, const std::vector<std::string>& owned) {
  for (const ServicePlan& s : plan.services) {
    if (s.action != Action::kAdd && s.action != Action::kChange) continue;
    const deploy::DeployedService& d = plan.desired.at(s.service);
    for (const VolumeGrant& v : d.release.config.volumes) {
      if (std::find(owned.begin(), owned.end(), v.name) != owned.end()) continue;
      return FailedPrecondition(
          s.service + " " + d.version + " needs volume " + v.name + ", which " + plan.environment +
          " no longer owns (volumes in lockstep.toml): add it back there to roll back to it");
    }
  }
  return Status::Ok();
}

}  // namespace lockstep::engine
