// Making the plan of an environment from the real sources: the deploy repository's tree at
// a commit of its mirror, the recorded state, and what the target observes. A repository
// with any problem (a left-out link or an oversized file included) yields no plan: the
// problems come back instead, each with its place.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "deploy/repo.h"
#include "engine/plan.h"
#include "git/mirror.h"
#include "runtime/target.h"
#include "state/engine_state.h"

namespace lockstep::engine {

struct PlanSources {
  git::Mirror* mirror = nullptr;
  state::StateStore* store = nullptr;
  runtime::Target* target = nullptr;
  std::string embedded_registry;  // host:port of lockstep's own registry
};

// A plan, or the problems that keep the repository from having one.
using PlanOrProblems = std::variant<Plan, std::vector<deploy::Problem>>;

// The plan of `environment` at `revision` (a commit id or a branch of the mirror).
// kNotFound for an environment the repository does not have, kUnavailable when a source
// cannot be read.
Result<PlanOrProblems> PlanEnvironment(const PlanSources& sources, const std::string& environment,
                                       const std::string& revision);

// What the engine recorded of `environment`: its record (a fresh one, unsaved, when it was
// never applied), what each service runs, and the holds.
struct RecordedState {
  state::EnvironmentRecord environment;
  std::map<std::string, state::CurrentRecord> current;
  std::map<std::string, deploy::DeployedService> services;  // `current`, as releases
  std::map<std::string, state::HoldRecord> holds;
};
Result<RecordedState> ReadRecorded(state::StateStore& store, const std::string& environment);

// The plan of `environment` running `desired` (what the repository at `commit` says),
// against the recorded state and what the target observes. A held service keeps what it
// runs: what `desired` would change there is in the plan's `held`.
Result<Plan> PlanDesired(state::StateStore& store, runtime::Target& target,
                         const std::string& environment, const std::string& commit,
                         const std::map<std::string, deploy::DeployedService>& desired);

// The repository's files at `commit` as the deploy reader takes them: what the mirror left
// out is a problem of its own.
Result<deploy::ReadResult> ReadRepoAt(git::Mirror& mirror, const std::string& commit,
                                      const std::string& embedded_registry);

}  // namespace lockstep::engine
