#include "core/access.h"

#include <algorithm>
#include <vector>

#include "base/strings.h"

namespace lockstep {

namespace {

struct RoleNameOf {
  Role role;
  std::string_view name;
};
constexpr RoleNameOf kRoleNames[] = {
    {Role::kAdmin, "admin"}, {Role::kDeployer, "deployer"}, {Role::kApprover, "approver"},
    {Role::kCi, "ci"},       {Role::kViewer, "viewer"},     {Role::kPull, "pull"},
};

// What each action reads as in a refusal ("may not <verb> <subject>").
struct ActionText {
  Action action;
  std::string_view name;
  std::string_view verb;
};
constexpr ActionText kActionTexts[] = {
    {Action::kPull, "pull", "pull from"},
    {Action::kPush, "push", "push to"},
    {Action::kDelete, "delete", "delete from"},
    {Action::kView, "view", "read recorded state"},
    {Action::kLogs, "logs", "read the logs of"},
    {Action::kPlan, "plan", "plan"},
    {Action::kApply, "apply", "apply to"},
    {Action::kRollback, "rollback", "roll back"},
    {Action::kReleaseHold, "release-hold", "release holds in"},
    {Action::kInvoke, "invoke", "invoke functions in"},
    {Action::kPromote, "promote", "promote into"},
    {Action::kUnlock, "unlock", "unlock"},
    {Action::kApprove, "approve", "approve plans of"},
    {Action::kPropose, "propose", "propose versions of"},
};

const ActionText& TextOf(Action action) {
  for (const ActionText& t : kActionTexts) {
    if (t.action == action) return t;
  }
  return kActionTexts[0];
}

}  // namespace

std::string_view RoleName(Role role) {
  for (const RoleNameOf& r : kRoleNames) {
    if (r.role == role) return r.name;
  }
  return "?";
}

Result<Role> ParseRole(std::string_view name) {
  for (const RoleNameOf& r : kRoleNames) {
    if (r.name == name) return r.role;
  }
  if (name == "push") {
    return InvalidArgument(
        "role 'push' is now 'ci' (push artifacts to its repositories and propose versions)");
  }
  return InvalidArgument("unknown role '" + std::string(name).substr(0, 32) +
                         "' (use admin, deployer, approver, ci, viewer or pull)");
}

Scope ScopeOf(Role role) {
  switch (role) {
    case Role::kDeployer:
    case Role::kApprover:
      return Scope::kEnvironment;
    case Role::kCi:
    case Role::kPull:
      return Scope::kRepository;
    case Role::kAdmin:
    case Role::kViewer:
      break;
  }
  return Scope::kNone;
}

std::string_view ActionName(Action action) { return TextOf(action).name; }

std::span<const ActionRule> Rules() {
  using enum Role;
  static const std::vector<ActionRule> rules = {
      {Action::kPull, Scope::kRepository, {kAdmin, kCi, kViewer, kPull}},
      {Action::kPush, Scope::kRepository, {kAdmin, kCi}},
      {Action::kDelete, Scope::kRepository, {kAdmin}},
      {Action::kView, Scope::kNone, {kAdmin, kDeployer, kApprover, kViewer}},
      {Action::kLogs, Scope::kEnvironment, {kAdmin, kDeployer}},
      {Action::kPlan, Scope::kEnvironment, {kAdmin, kDeployer}},
      {Action::kApply, Scope::kEnvironment, {kAdmin, kDeployer}},
      {Action::kRollback, Scope::kEnvironment, {kAdmin, kDeployer}},
      {Action::kReleaseHold, Scope::kEnvironment, {kAdmin, kDeployer}},
      {Action::kInvoke, Scope::kEnvironment, {kAdmin, kDeployer}},
      {Action::kPromote, Scope::kEnvironment, {kAdmin, kDeployer}},
      {Action::kUnlock, Scope::kEnvironment, {kAdmin}},
      {Action::kApprove, Scope::kEnvironment, {kAdmin, kApprover}},
      {Action::kPropose, Scope::kRepository, {kAdmin, kCi}},
  };
  return rules;
}

const ActionRule& RuleOf(Action action) {
  for (const ActionRule& rule : Rules()) {
    if (rule.action == action) return rule;
  }
  return Rules().front();  // unreachable: every action has a row (tested)
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

Result<Patterns> Patterns::Parse(std::string_view text, Scope over) {
  const bool envs = over == Scope::kEnvironment;
  const std::string what = envs ? "environment pattern" : "repository pattern";
  std::vector<std::string> out;
  for (std::string_view part : Split(text, ',')) {
    part = Trim(part);
    if (part.empty()) {
      return InvalidArgument(what + " list '" + std::string(text).substr(0, 200) +
                             "' has an empty entry");
    }
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '*' ||
                c == '?' || (!envs && (c == '.' || c == '_' || c == '/'));
      if (!ok) {
        return InvalidArgument(
            what + " '" + std::string(part).substr(0, 200) +
            (envs ? "' may hold only lowercase letters, digits, '-' and the wildcards '*' and '?'"
                  : "' may hold only lowercase letters, digits, '._-/' and the wildcards '*' "
                    "and '?'"));
      }
    }
    out.emplace_back(part);
  }
  return Patterns(std::move(out));
}

bool Patterns::Matches(std::string_view name) const {
  for (const auto& p : patterns_) {
    if (GlobMatch(p, name)) return true;
  }
  return false;
}

std::string Patterns::str() const {
  std::string out;
  for (const auto& p : patterns_) {
    if (!out.empty()) out += ",";
    out += p;
  }
  return out;
}

Result<Grant> Grant::Parse(std::string_view text) {
  text = Trim(text);
  size_t colon = text.find(':');
  LS_ASSIGN_OR_RETURN(Role role, ParseRole(text.substr(0, colon)));
  Grant grant{.role = role};
  Scope scope = ScopeOf(role);
  if (colon == std::string_view::npos) {
    if (scope == Scope::kNone) return grant;
    std::string name(RoleName(role));
    return InvalidArgument("role " + name + " covers " +
                           (scope == Scope::kEnvironment
                                ? "environments: name them, " + name + ":dev,staging"
                                : "repositories: name them, " + name + ":apps/**") +
                           " (" + name + ":** for all)");
  }
  std::string_view covers = text.substr(colon + 1);
  if (scope == Scope::kNone) {
    return InvalidArgument(
        "role " + std::string(RoleName(role)) +
        " covers everything: give it without ':" + std::string(covers).substr(0, 64) + "'");
  }
  LS_ASSIGN_OR_RETURN(grant.covers, Patterns::Parse(covers, scope));
  return grant;
}

std::string Grant::str() const {
  std::string out(RoleName(role));
  if (ScopeOf(role) != Scope::kNone) out += ":" + covers.str();
  return out;
}

Result<std::vector<Grant>> ParseGrants(std::string_view text) {
  std::vector<Grant> out;
  for (std::string_view part : Split(text, ';')) {
    LS_ASSIGN_OR_RETURN(Grant grant, Grant::Parse(part));
    out.push_back(std::move(grant));
  }
  if (out.empty()) return InvalidArgument("a token needs at least one role");
  return out;
}

std::string GrantsString(const std::vector<Grant>& grants) {
  std::string out;
  for (const Grant& g : grants) {
    if (!out.empty()) out += ";";
    out += g.str();
  }
  return out;
}

Identity Identity::Admin(std::string name, std::string id) {
  return Identity{std::move(name), {Grant{.role = Role::kAdmin}}, std::move(id)};
}

bool Identity::IsAdmin() const {
  for (const Grant& g : grants) {
    if (g.role == Role::kAdmin) return true;
  }
  return false;
}

bool Identity::MayTake(Action action) const {
  const ActionRule& rule = RuleOf(action);
  for (const Grant& g : grants) {
    if (std::find(rule.roles.begin(), rule.roles.end(), g.role) != rule.roles.end()) return true;
  }
  return false;
}

bool Identity::Allows(Action action, std::string_view subject) const {
  const ActionRule& rule = RuleOf(action);
  for (const Grant& g : grants) {
    if (std::find(rule.roles.begin(), rule.roles.end(), g.role) == rule.roles.end()) continue;
    // A role's patterns decide only the actions about what it covers (a deployer of dev
    // reads recorded state of every environment, applies only to dev).
    Scope covers = ScopeOf(g.role);
    if (covers == Scope::kNone || rule.scope == Scope::kNone) return true;
    if (covers == rule.scope && g.covers.Matches(subject)) return true;
  }
  return false;
}

Status Identity::Check(Action action, std::string_view subject) const {
  if (Allows(action, subject)) return Status::Ok();
  const ActionRule& rule = RuleOf(action);
  if (subject.empty() && rule.scope != Scope::kNone) subject = "anything";
  std::string needs;
  for (size_t i = 0; i < rule.roles.size(); ++i) {
    if (i > 0) needs += i + 1 == rule.roles.size() ? " or " : ", ";
    needs += RoleName(rule.roles[i]);
    if (ScopeOf(rule.roles[i]) != Scope::kNone && rule.scope != Scope::kNone) {
      needs += " covering " + std::string(subject);
    }
  }
  std::string what(TextOf(action).verb);
  if (rule.scope != Scope::kNone) what += " " + std::string(subject);
  return PermissionDenied("token " + name + " (" + GrantsString(grants) + ") may not " + what +
                          ": that needs " + needs);
}

}  // namespace lockstep
