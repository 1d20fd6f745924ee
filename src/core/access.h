// Who may do what to which repository. Pure logic: the token store decides who a
// caller is; this decides what that identity may do.
//
//   role   may
//   pull   read repositories matching its patterns (one credential per environment)
//   push   read and write repositories matching its patterns (CI)
//   admin  everything, including deletes and token management
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep {

enum class Role { kPull, kPush, kAdmin };
enum class Action { kPull, kPush, kDelete };

std::string_view RoleName(Role role);
Result<Role> ParseRole(std::string_view name);
std::string_view ActionName(Action action);

// The pattern language of repository and tag globs (tokens, mutable-tag rules):
//   *   any run of characters within one path segment (never '/')
//   **  any run of characters, '/' included: any depth
//   ?   one character other than '/'
// So "apps/*" covers apps/api but not apps/api/v2; "apps/**" covers both.
bool GlobMatch(std::string_view pattern, std::string_view text);

// A comma-separated list of repository globs, e.g. "dev/*,shared/base".
class RepoPatterns {
 public:
  static Result<RepoPatterns> Parse(std::string_view text);
  static RepoPatterns All() { return RepoPatterns({"**"}); }
  bool Matches(std::string_view repo) const;
  std::string str() const;

 private:
  explicit RepoPatterns(std::vector<std::string> p) : patterns_(std::move(p)) {}
  std::vector<std::string> patterns_;
};

struct Identity {
  std::string name;  // token name, or "anonymous" in --dev mode
  Role role = Role::kPull;
  RepoPatterns repos = RepoPatterns::All();
  std::string id;  // the token's id: never given to another token (empty when anonymous)

  bool Allows(Action action, std::string_view repo) const;
};

}  // namespace lockstep
