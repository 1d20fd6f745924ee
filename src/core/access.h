// Who may do what. Pure logic: the token store decides who a caller is; this decides what
// that identity may do, from one table (`Rules()`) of every action and the roles that may
// take it.
//
//   role      covers          may
//   admin     everything      everything
//   deployer  environments    plan, apply, roll back, promote into, release holds, invoke,
//                             read logs
//   approver  environments    approve and reject plans
//   ci        repositories    push artifacts, propose versions
//   viewer    everything      read recorded state and pull images; never logs
//   pull      repositories    pull images (one credential per environment's account)
//
// A token holds one or more grants, each a role and, for the roles that cover something,
// the patterns it covers: "deployer:dev,staging", "ci:apps/**", "viewer".
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep {

enum class Role { kAdmin, kDeployer, kApprover, kCi, kViewer, kPull };

// What an action is about, and so what a scoped role's patterns are matched against.
enum class Scope { kNone, kRepository, kEnvironment };

enum class Action {
  // The registry (a repository).
  kPull,    // read manifests, blobs, tags, referrers
  kPush,    // upload blobs, put manifests and tags
  kDelete,  // delete manifests, tags and blobs
  // The engine.
  kView,         // read recorded state: environments, plans, deployments, history, audit
  kLogs,         // read what an environment's service or function printed
  kPlan,         // save a plan of an environment
  kApply,        // apply a plan to an environment
  kRollback,     // roll an environment or one of its services back
  kReleaseHold,  // end a rollback's hold on a service
  kInvoke,       // call one of an environment's functions
  kPromote,      // pin an environment to what the one it promotes from runs
  kUnlock,       // break an environment's lease (someone else's apply)
  kApprove,      // approve or reject a plan of an environment
  kPropose,      // propose a new version of an artifact (a repository)
};

std::string_view RoleName(Role role);
Result<Role> ParseRole(std::string_view name);
// What a role's patterns cover: kNone for admin and viewer.
Scope ScopeOf(Role role);
std::string_view ActionName(Action action);

// One row of the table: an action, what it is about and the roles that may take it.
struct ActionRule {
  Action action;
  Scope scope;
  std::vector<Role> roles;  // admin is in every row
};
// Every action, once.
std::span<const ActionRule> Rules();
const ActionRule& RuleOf(Action action);

// The pattern language of repository and tag globs (tokens, mutable-tag rules):
//   *   any run of characters within one path segment (never '/')
//   **  any run of characters, '/' included: any depth
//   ?   one character other than '/'
// So "apps/*" covers apps/api but not apps/api/v2; "apps/**" covers both.
bool GlobMatch(std::string_view pattern, std::string_view text);

// A comma-separated list of globs over repository names ("dev/*,shared/base") or
// environment names ("dev,staging-*").
class Patterns {
 public:
  static Result<Patterns> Parse(std::string_view text, Scope over = Scope::kRepository);
  static Patterns All() { return Patterns({"**"}); }
  bool Matches(std::string_view name) const;
  std::string str() const;

 private:
  explicit Patterns(std::vector<std::string> p) : patterns_(std::move(p)) {}
  std::vector<std::string> patterns_;
};

// A role and what it covers.
struct Grant {
  Role role = Role::kViewer;
  Patterns covers = Patterns::All();

  // "ROLE" or "ROLE:PATTERNS"; a role that covers environments or repositories names
  // them ("deployer:**" for every environment).
  static Result<Grant> Parse(std::string_view text);
  std::string str() const;  // the form Parse reads
};

// Grants as stored and shown: "deployer:dev,staging;viewer". Never empty.
Result<std::vector<Grant>> ParseGrants(std::string_view text);
std::string GrantsString(const std::vector<Grant>& grants);

struct Identity {
  std::string name;  // token name, or "anonymous" in --dev mode
  std::vector<Grant> grants;
  std::string id;  // the token's id: never given to another token (empty when anonymous)

  static Identity Admin(std::string name, std::string id = "");

  // Whether a grant allows `action` on `subject` (the repository or environment the action
  // is about; ignored for actions about nothing).
  bool Allows(Action action, std::string_view subject = "") const;
  // The same, as a refusal that says what the token holds and what the action needs.
  Status Check(Action action, std::string_view subject = "") const;
  // Whether a grant allows `action` on something (a deployer of dev may apply; whether to
  // this plan's environment is decided once it is known).
  bool MayTake(Action action) const;
  bool IsAdmin() const;
};

}  // namespace lockstep
