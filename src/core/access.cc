#include "core/access.h"

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
  // Iterative matcher with one backtrack point for the last '*': linear in practice.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
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
