// A plan: what an apply of one environment would change, per service, comparing three
// things: what the deploy repository says at a commit (desired), what the engine recorded
// as applied (recorded), and what the target reports running (observed).
//
// Pure values and functions: the caller reads the repository, the store and the target.
// A plan holds the exact releases it would apply, and the environment's lineage and serial
// it was made against, so that an apply of it can refuse once either moved.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deploy/repo.h"
#include "runtime/target.h"

namespace lockstep::engine {

// One configuration key that differs. Keys are dotted paths as people write them in the
// deploy repository: "env.LOG_LEVEL", "limits.memory", "grants.volumes.uploads",
// "service.health.path", "entrypoint"; values as they would be written there ("64Mi",
// "rw", "[\"/bin/web\"]"), empty when the key is not set on that side.
struct KeyChange {
  std::string key;
  std::string from;
  std::string to;
  friend bool operator==(const KeyChange&, const KeyChange&) = default;
};

enum class Action { kNone, kAdd, kChange, kRemove };
std::string_view ActionName(Action action);

struct ServicePlan {
  std::string service;
  Action action = Action::kNone;
  ReleaseKind kind = ReleaseKind::kService;
  // The artifact on each side (empty where there is none).
  std::string from_version, to_version;
  std::string from_digest, to_digest;
  std::string from_release, to_release;  // release ids
  std::vector<KeyChange> changes;        // configuration only: the artifact is above
  // What runs differs from the record (instance missing, another release, unhealthy):
  // said here; an apply puts the recorded (or the new) release back.
  std::string drift;
};

// A held service whose repository says something else than it runs: the change git would
// make, shown and not applied until a person releases the hold.
struct HeldService {
  ServicePlan wanted;
  std::string by;  // who held it
  std::string reason;
  int64_t since = 0;
};

struct Plan {
  // "apply" (of the repository at `commit`) or "rollback" (to releases recorded earlier).
  std::string kind = "apply";
  std::string environment;
  std::string commit;                 // of the deploy repository
  std::string lineage;                // the environment's, when the plan was made
  int64_t serial = 0;                 // likewise
  std::vector<ServicePlan> services;  // sorted by name; services with no change included
  // Every service the environment runs after the apply: exactly what is applied.
  std::map<std::string, deploy::DeployedService> desired;
  // The environment says `approval = "required"`: only a saved plan, applied by its id,
  // goes out there (never `lockstep apply ENV`).
  bool approval_required = false;
  int approvals_needed = 0;  // distinct approvers, not the plan's author (where required)
  // The environment's promote_from and soak: a digest it brings needs an attestation from
  // there (attestations.h).
  std::string promote_from;
  int64_t soak_seconds = 0;
  // How long the instance each service ran before stays ready for an instant rollback
  // (the environment's rollback_window); 0: it is retired at once.
  int64_t rollback_window_seconds = 0;
  // Held services git would change (their `services` entries change nothing).
  std::vector<HeldService> held;

  // What the environment asks of an apply at the branch's head, where it asks more than
  // at the plan's commit (a plan of an older commit or another branch never escapes a
  // policy the branch has now): approval and its count, promote_from and soak. A rollback
  // asks no approval whatever the head says.
  void Tighten(const deploy::Environment& at_head);

  bool HasChanges() const;  // any add, change or remove (drift alone is not a change)
  bool HasDrift() const;
};

// The plan of `environment`. `recorded` is what the engine last applied there (service →
// what it runs); `observed` what the target reports for the environment.
Plan MakePlan(const std::string& environment, const std::string& commit, const std::string& lineage,
              int64_t serial, const std::map<std::string, deploy::DeployedService>& desired,
              const std::map<std::string, deploy::DeployedService>& recorded,
              const std::vector<runtime::ObservedInstance>& observed);

// The configuration of a deployed service as dotted keys and values (KeyChange's form).
std::map<std::string, std::string> ConfigKeys(const deploy::DeployedService& service);

// What travels with a release besides its spec (public port, drain, schedule), as the
// JSON the state store keeps with the current release, and back.
std::string DetailsJson(const deploy::DeployedService& service);
Result<deploy::DeployedService> FromRecord(const std::string& service, const std::string& version,
                                           const std::string& release_spec,
                                           const std::string& details);

// For people: one block per service that changes, a summary line, no colour unless
// `colour`. For tools: the documented JSON form (docs/plan-json.md).
std::string PlanText(const Plan& plan, bool colour);
std::string PlanJson(const Plan& plan, const std::string& plan_id);

}  // namespace lockstep::engine
