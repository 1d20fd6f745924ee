#include "runtime/local/seccomp.h"

#include <sched.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "base/json.h"

namespace lockstep::runtime::local {

extern const std::string_view kDefaultSeccompPolicyJson;  // seccomp_policy_data.cc

namespace bj = boost::json;

namespace {

const std::map<std::string_view, int>& Errnos() {
  static const std::map<std::string_view, int> errnos = {
      {"EPERM", EPERM}, {"EACCES", EACCES}, {"ENOSYS", ENOSYS}, {"EINVAL", EINVAL}};
  return errnos;
}

const std::map<std::string_view, uint64_t>& CloneFlags() {
  static const std::map<std::string_view, uint64_t> flags = {
      {"CLONE_NEWNS", CLONE_NEWNS},        {"CLONE_NEWUTS", CLONE_NEWUTS},
      {"CLONE_NEWIPC", CLONE_NEWIPC},      {"CLONE_NEWUSER", CLONE_NEWUSER},
      {"CLONE_NEWPID", CLONE_NEWPID},      {"CLONE_NEWNET", CLONE_NEWNET},
      {"CLONE_NEWCGROUP", CLONE_NEWCGROUP}};
  return flags;
}

bool IsSyscallName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Reads one section's groups: an array of objects, each with a `names` array.
class Reader {
 public:
  explicit Reader(const json::ObjectView& root) : root_(root) {}

  Result<std::vector<json::ObjectView>> Groups(std::string_view key) {
    LS_ASSIGN_OR_RETURN(std::optional<json::ArrayView> groups, root_.OptionalArray(key));
    if (!groups) return std::vector<json::ObjectView>{};
    return groups->Objects();
  }

  // Records `name` as listed at `where`; a second listing anywhere is an error.
  Status Claim(const std::string& name, const std::string& where) {
    if (!IsSyscallName(name)) {
      return InvalidArgument(where + ": '" + name + "' is not a system call name");
    }
    auto [it, fresh] = seen_.emplace(name, where);
    if (!fresh) return InvalidArgument(where + ": " + name + " is listed already at " + it->second);
    return Status::Ok();
  }

  Result<std::vector<std::string>> Names(const json::ObjectView& group) {
    LS_ASSIGN_OR_RETURN(std::vector<std::string> names, group.Strings("names"));
    if (names.empty()) return InvalidArgument(group.PathOf("names") + " lists no system call");
    for (const std::string& name : names) LS_RETURN_IF_ERROR(Claim(name, group.PathOf("names")));
    return names;
  }

  static Result<int> Errno(const json::ObjectView& o, std::string_view key) {
    LS_ASSIGN_OR_RETURN(std::string name, o.String(key));
    auto it = Errnos().find(name);
    if (it == Errnos().end()) {
      return InvalidArgument(o.PathOf(key) + ": '" + name + "' is not an errno this policy knows",
                             "use EPERM, EACCES, ENOSYS or EINVAL");
    }
    return it->second;
  }

 private:
  const json::ObjectView& root_;
  std::map<std::string, std::string> seen_;
};

Result<std::vector<uint64_t>> Numbers(const json::ObjectView& o, std::string_view key) {
  LS_ASSIGN_OR_RETURN(json::ArrayView a, o.Array(key));
  std::vector<uint64_t> out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a.at(i).is_uint64() && !(a.at(i).is_int64() && a.at(i).as_int64() >= 0)) {
      return InvalidArgument(a.PathOf(i) + " must be a non-negative integer");
    }
    out.push_back(a.at(i).to_number<uint64_t>());
  }
  if (out.empty()) return InvalidArgument(o.PathOf(key) + " lists no value");
  return out;
}

Result<SeccompPolicy::Conditional> ReadConditional(const json::ObjectView& o) {
  SeccompPolicy::Conditional c;
  LS_ASSIGN_OR_RETURN(c.name, o.String("name"));
  LS_ASSIGN_OR_RETURN(uint64_t arg, o.Uint("arg"));
  if (arg > 5) return InvalidArgument(o.PathOf("arg") + " must be 0 to 5");
  c.arg = static_cast<uint32_t>(arg);
  if (o.Has("mask")) {
    LS_ASSIGN_OR_RETURN(std::vector<std::string> flags, o.Strings("mask"));
    uint64_t mask = 0;
    for (const std::string& flag : flags) {
      auto it = CloneFlags().find(flag);
      if (it == CloneFlags().end()) {
        return InvalidArgument(o.PathOf("mask") + ": '" + flag +
                               "' is not a flag this policy knows");
      }
      mask |= it->second;
    }
    c.mask = mask;
    LS_ASSIGN_OR_RETURN(uint64_t equals, o.Uint("equals"));
    c.values = {equals};
  } else {
    LS_ASSIGN_OR_RETURN(c.values, Numbers(o, "equals_any"));
  }
  return c;
}

Result<SeccompPolicy> Parse(const json::ObjectView& root) {
  SeccompPolicy policy;
  Reader reader(root);
  LS_ASSIGN_OR_RETURN(policy.default_errno, Reader::Errno(root, "default_errno"));
  LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> allow, reader.Groups("allow"));
  for (const json::ObjectView& group : allow) {
    LS_ASSIGN_OR_RETURN(std::vector<std::string> names, reader.Names(group));
    policy.allow.insert(policy.allow.end(), names.begin(), names.end());
  }
  std::sort(policy.allow.begin(), policy.allow.end());
  LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> allow_if, reader.Groups("allow_if"));
  for (const json::ObjectView& rule : allow_if) {
    LS_ASSIGN_OR_RETURN(SeccompPolicy::Conditional c, ReadConditional(rule));
    LS_RETURN_IF_ERROR(reader.Claim(c.name, rule.PathOf("name")));
    policy.allow_if.push_back(std::move(c));
  }
  LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> answers, reader.Groups("errno"));
  for (const json::ObjectView& group : answers) {
    LS_ASSIGN_OR_RETURN(int value, Reader::Errno(group, "errno"));
    LS_ASSIGN_OR_RETURN(std::vector<std::string> names, reader.Names(group));
    for (std::string& name : names) policy.answers.push_back({std::move(name), value});
  }
  LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> never, reader.Groups("never"));
  for (const json::ObjectView& group : never) {
    LS_ASSIGN_OR_RETURN(std::vector<std::string> names, reader.Names(group));
    policy.never.insert(policy.never.end(), names.begin(), names.end());
  }
  if (policy.allow.empty()) return InvalidArgument("the policy allows no system call");
  return policy;
}

// The native table only. With the 32-bit one (x86, or ARM on aarch64) in the filter, a
// program could reach calls through it whose arguments the rules cannot see (socketcall
// takes the address family in memory); without it, every 32-bit call is refused.
bj::array Architectures() {
#if defined(__x86_64__)
  return {"SCMP_ARCH_X86_64"};
#elif defined(__aarch64__)
  return {"SCMP_ARCH_AARCH64"};
#else
#error "lockstep's seccomp policy knows x86_64 and aarch64"
#endif
}

bj::object Rule(std::vector<std::string> names, std::string_view action) {
  bj::array a;
  for (std::string& n : names) a.emplace_back(std::move(n));
  return {{"names", std::move(a)}, {"action", action}};
}

}  // namespace

Result<SeccompPolicy> ParseSeccompPolicy(std::string_view text, std::string_view source) {
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(text, source));
  Result<json::ObjectView> root = json::ObjectView::Of(doc, "");
  Result<SeccompPolicy> policy = root.ok() ? Parse(*root) : Result<SeccompPolicy>(root.status());
  if (!policy.ok()) return InvalidArgument(std::string(source) + ": " + policy.status().message());
  return policy;
}

const SeccompPolicy& DefaultSeccompPolicy() {
  static const SeccompPolicy policy = [] {
    Result<SeccompPolicy> parsed =
        ParseSeccompPolicy(kDefaultSeccompPolicyJson, "built-in seccomp policy");
    if (!parsed.ok()) {
      std::fprintf(stderr, "lockstep: bug: %s\n", parsed.status().ToString().c_str());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return policy;
}

bj::object SeccompSpec(const SeccompPolicy& policy, std::span<const std::string> granted) {
  std::set<std::string> allowed(policy.allow.begin(), policy.allow.end());
  allowed.insert(granted.begin(), granted.end());
  bj::array syscalls;
  syscalls.push_back(Rule({allowed.begin(), allowed.end()}, "SCMP_ACT_ALLOW"));
  // A granted name runs unconditionally; a second rule for it would conflict in libseccomp.
  for (const SeccompPolicy::Conditional& c : policy.allow_if) {
    if (allowed.contains(c.name)) continue;
    // runc ORs the conditions of one rule on the same argument, so each value is a rule.
    for (uint64_t value : c.values) {
      bj::object condition = {{"index", c.arg}};
      if (c.mask) {
        condition["value"] = *c.mask;
        condition["valueTwo"] = value;
        condition["op"] = "SCMP_CMP_MASKED_EQ";
      } else {
        condition["value"] = value;
        condition["op"] = "SCMP_CMP_EQ";
      }
      bj::object rule = Rule({c.name}, "SCMP_ACT_ALLOW");
      rule["args"] = bj::array{std::move(condition)};
      syscalls.push_back(std::move(rule));
    }
  }
  for (const SeccompPolicy::Answer& a : policy.answers) {
    if (allowed.contains(a.name)) continue;
    bj::object rule = Rule({a.name}, "SCMP_ACT_ERRNO");
    rule["errnoRet"] = a.errno_value;
    syscalls.push_back(std::move(rule));
  }
  return {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"defaultErrnoRet", policy.default_errno},
          {"architectures", Architectures()},
          {"syscalls", std::move(syscalls)}};
}

}  // namespace lockstep::runtime::local
