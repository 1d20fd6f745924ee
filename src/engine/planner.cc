#include "engine/planner.h"

#include "base/strings.h"

namespace lockstep::engine {

Result<deploy::ReadResult> ReadRepoAt(git::Mirror& mirror, const std::string& commit,
                                      const std::string& embedded_registry) {
  LS_ASSIGN_OR_RETURN(git::TreeFiles tree,
                      mirror.ReadTree(commit, {"lockstep.toml"}, {"services", "environments"},
                                      {.max_files = deploy::kMaxRepoFiles,
                                       .max_file_bytes = deploy::kMaxFileBytes,
                                       .max_total_bytes = deploy::kMaxRepoBytes}));
  deploy::ReadResult read = deploy::ReadRepo(tree.files, embedded_registry);
  if (!tree.skipped.empty()) {
    std::vector<deploy::Problem> problems;
    for (const git::TreeFiles::Skipped& s : tree.skipped) {
      problems.push_back({s.path, 0, 0,
                          s.why +
                              ": a deploy repository holds lockstep.toml, services/*.toml "
                              "and environments/*/*.toml, plain files of at most " +
                              HumanBytes(deploy::kMaxFileBytes) + " each"});
    }
    problems.insert(problems.end(), read.problems.begin(), read.problems.end());
    read = deploy::ReadResult{{}, std::move(problems)};
  }
  return read;
}

Result<PlanOrProblems> PlanEnvironment(const PlanSources& sources, const std::string& environment,
                                       const std::string& revision) {
  LS_ASSIGN_OR_RETURN(std::string commit, sources.mirror->Resolve(revision));
  LS_ASSIGN_OR_RETURN(deploy::ReadResult read,
                      ReadRepoAt(*sources.mirror, commit, sources.embedded_registry));
  if (!read.problems.empty()) return PlanOrProblems(std::move(read.problems));
  if (read.repo.Find(environment) == nullptr) {
    std::string names;
    for (const deploy::Environment& e : read.repo.environments)
      names += (names.empty() ? "" : ", ") + e.name;
    return NotFound("the deploy repository at " + commit.substr(0, 12) + " has no environment " +
                    environment + " (it has " + names + ")");
  }
  std::map<std::string, deploy::DeployedService>& desired = read.repo.deployed[environment];
  for (auto& [service, d] : desired) d.source_commit = commit;
  LS_ASSIGN_OR_RETURN(Plan plan,
                      PlanDesired(*sources.store, *sources.target, environment, commit, desired));
  plan.approval_required = read.repo.Find(environment)->approval == deploy::Approval::kRequired;
  plan.approvals_needed = plan.approval_required ? read.repo.Find(environment)->approvals : 0;
  plan.promote_from = read.repo.Find(environment)->promote_from;
  plan.soak_seconds = read.repo.Find(environment)->soak_seconds;
  plan.rollback_window_seconds = read.repo.Find(environment)->rollback_window_seconds;
  return PlanOrProblems(std::move(plan));
}

Result<RecordedState> ReadRecorded(state::StateStore& store, const std::string& environment) {
  LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
  // A plan writes nothing: an environment not recorded yet has no lineage until an apply.
  LS_ASSIGN_OR_RETURN(std::optional<state::EnvironmentRecord> known,
                      tx->FindEnvironment(environment));
  RecordedState out{.environment = known.value_or(state::EnvironmentRecord{environment})};
  LS_ASSIGN_OR_RETURN(out.current, tx->Current(environment));
  LS_ASSIGN_OR_RETURN(out.holds, tx->Holds(environment));
  tx.reset();
  for (const auto& [service, record] : out.current) {
    LS_ASSIGN_OR_RETURN(deploy::DeployedService s,
                        FromRecord(service, record.version, record.release_spec, record.details));
    if (ReleaseId(s.release) != record.release_id) {
      return Internal("the state database's release " + record.release_id + " of " + service +
                      " does not match its own spec: the database was changed outside lockstep");
    }
    out.services.emplace(service, std::move(s));
  }
  return out;
}

Result<Plan> PlanDesired(state::StateStore& store, runtime::Target& target,
                         const std::string& environment, const std::string& commit,
                         const std::map<std::string, deploy::DeployedService>& desired) {
  LS_ASSIGN_OR_RETURN(RecordedState recorded, ReadRecorded(store, environment));
  LS_ASSIGN_OR_RETURN(std::vector<runtime::ObservedInstance> observed, target.Observe(environment));
  const state::EnvironmentRecord& env = recorded.environment;
  if (recorded.holds.empty()) {
    return MakePlan(environment, commit, env.lineage, env.serial, desired, recorded.services,
                    observed);
  }
  // A held service runs what it runs; what git would change is shown beside the plan.
  std::map<std::string, deploy::DeployedService> effective = desired;
  for (const auto& [service, hold] : recorded.holds) {
    auto runs = recorded.services.find(service);
    if (runs == recorded.services.end()) {
      effective.erase(service);
    } else {
      effective.insert_or_assign(service, runs->second);
    }
  }
  Plan plan = MakePlan(environment, commit, env.lineage, env.serial, effective, recorded.services,
                       observed);
  Plan wanted =
      MakePlan(environment, commit, env.lineage, env.serial, desired, recorded.services, observed);
  for (ServicePlan& s : wanted.services) {
    auto hold = recorded.holds.find(s.service);
    if (hold == recorded.holds.end() || s.action == Action::kNone) continue;
    plan.held.push_back(
        {std::move(s), hold->second.actor, hold->second.reason, hold->second.since});
  }
  return plan;
}

}  // namespace lockstep::engine
