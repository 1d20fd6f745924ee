#include "core/access.h"

#include <algorithm>
#include <vector>

#include "base/strings.h"

namespace lockstep {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPull:
      return "pull";
    case Role::kPush:
      return "push";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "pull") return Role::kPull;
  if (name == "push") return Role::kPush;
  if (name == "admin") return Role::kAdmin;
  return InvalidArgument("unknown role '" + std::string(name) + "' (use pull, push or admin)");
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kPull:
      return "pull";
    case Action::kPush:
      return "push";
    case Action::kDelete:
      return "delete";
  }
  return "?";
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Dynamic programming over text positions: reach[t] says whether the pattern read so far
  // can have consumed exactly text[0, t). O(|pattern| x |text|), no backtracking blow-up.
  std::vector<char> reach(text.size() + 1, 0), next(text.size() + 1, 0);
  reach[0] = 1;
  for (size_t p = 0; p < pattern.size();) {
    std::fill(next.begin(), next.end(), 0);
    if (pattern[p] == '*') {
      bool deep = p + 1 < pattern.size() && pattern[p + 1] == '*';
      while (p < pattern.size() && pattern[p] == '*') ++p;  // "***" reads as "**"
      bool carry = false;
      for (size_t t = 0; t <= text.size(); ++t) {
        if (reach[t]) carry = true;
        if (carry) next[t] = 1;
        if (t < text.size() && text[t] == '/' && !deep) carry = false;
      }
    } else {
      for (size_t t = 0; t < text.size(); ++t) {
        if (!reach[t]) continue;
        if (pattern[p] == text[t] || (pattern[p] == '?' && text[t] != '/')) next[t + 1] = 1;
      }
      ++p;
    }
    reach.swap(next);
  }
  return reach[text.size()] != 0;
}

Result<RepoPatterns> RepoPatterns::Parse(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view part : Split(text, ',')) {
    part = Trim(part);
    if (part.empty()) {
      return InvalidArgument("repository pattern list '" + std::string(text) +
                             "' has an empty entry");
    }
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                c == '-' || c == '/' || c == '*' || c == '?';
      if (!ok) {
        return InvalidArgument("repository pattern '" + std::string(part) +
                               "' may hold only lowercase letters, digits, '._-/' and the "
                               "wildcards '*' and '?'");
      }
    }
    out.emplace_back(part);
  }
  return RepoPatterns(std::move(out));
}

bool RepoPatterns::Matches(std::string_view repo) const {
  for (const auto& p : patterns_) {
    if (GlobMatch(p, repo)) return true;
  }
  return false;
}

std::string RepoPatterns::str() const {
  std::string out;
  for (const auto& p : patterns_) {
    if (!out.empty()) out += ",";
    out += p;
  }
  return out;
}

bool Identity::Allows(Action action, std::string_view repo) const {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kPush:
      return action != Action::kDelete && repos.Matches(repo);
    case Role::kPull:
      return action == Action::kPull && repos.Matches(repo);
  }
  return false;
}

}  // namespace lockstep
