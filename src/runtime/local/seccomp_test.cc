#include "runtime/local/seccomp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>

namespace lockstep::runtime::local {
namespace {

namespace bj = boost::json;

bool Contains(const std::vector<std::string>& v, std::string_view name) {
  return std::find(v.begin(), v.end(), name) != v.end();
}

// The rules of `spec` for `name`.
std::vector<bj::object> RulesFor(const bj::object& spec, std::string_view name) {
  std::vector<bj::object> rules;
  for (const bj::value& rule : spec.at("syscalls").as_array()) {
    for (const bj::value& n : rule.at("names").as_array()) {
      if (n.as_string() == name) rules.push_back(rule.as_object());
    }
  }
  return rules;
}

TEST(SeccompPolicy, TheBuiltInPolicyRefusesWhatWouldUndoIsolation) {
  const SeccompPolicy& policy = DefaultSeccompPolicy();
  EXPECT_GT(policy.allow.size(), 250u);
  for (std::string_view refused :
       {"unshare", "setns", "mount", "umount2", "pivot_root", "keyctl", "add_key", "request_key",
        "bpf", "perf_event_open", "init_module", "kexec_load", "open_by_handle_at", "ptrace",
        "reboot"}) {
    EXPECT_FALSE(Contains(policy.allow, refused)) << refused;
    EXPECT_TRUE(Contains(policy.never, refused)) << refused;
  }
  for (std::string_view needed : {"read", "write", "openat", "execve", "futex", "epoll_wait",
                                  "accept4", "mmap", "exit_group", "rt_sigreturn"}) {
    EXPECT_TRUE(Contains(policy.allow, needed)) << needed;
  }
}

TEST(SeccompSpec, CloneRunsOnlyWithoutNamespaceFlagsAndClone3FallsBack) {
  bj::object spec = SeccompSpec(DefaultSeccompPolicy(), {});
  EXPECT_EQ(spec.at("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(spec.at("defaultErrnoRet"), EPERM);
  std::vector<bj::object> clone = RulesFor(spec, "clone");
  ASSERT_EQ(clone.size(), 1u);
  const bj::object& condition = clone[0].at("args").at(0).as_object();
  EXPECT_EQ(condition.at("op"), "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(condition.at("value").to_number<uint64_t>(), 0x7e020000u);
  EXPECT_EQ(condition.at("valueTwo").to_number<uint64_t>(), 0u);
  std::vector<bj::object> clone3 = RulesFor(spec, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0].at("action"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0].at("errnoRet"), ENOSYS);
  // One rule per socket family: runc would OR conditions on one argument within a rule.
  EXPECT_EQ(RulesFor(spec, "socket").size(), 4u);
  std::vector<bj::object> socketpair = RulesFor(spec, "socketpair");
  ASSERT_EQ(socketpair.size(), 1u);
  EXPECT_EQ(socketpair[0].at("args").at(0).at("value").to_number<int>(), 1) << "AF_UNIX only";
  EXPECT_TRUE(RulesFor(spec, "unshare").empty());
  EXPECT_TRUE(RulesFor(spec, "socketcall").empty());
  // Only the native table: through the 32-bit one socketcall would carry any family.
  ASSERT_EQ(spec.at("architectures").as_array().size(), 1u);
  std::string arch(spec.at("architectures").at(0).as_string());
  EXPECT_TRUE(arch == "SCMP_ARCH_X86_64" || arch == "SCMP_ARCH_AARCH64") << arch;
}

TEST(SeccompSpec, AGrantRunsUnconditionallyAndDropsTheRulesItReplaces) {
  std::vector<std::string> granted = {"ptrace", "clone3", "clone"};
  bj::object spec = SeccompSpec(DefaultSeccompPolicy(), granted);
  for (std::string_view name : {"ptrace", "clone3", "clone"}) {
    std::vector<bj::object> rules = RulesFor(spec, name);
    ASSERT_EQ(rules.size(), 1u) << name;
    EXPECT_EQ(rules[0].at("action"), "SCMP_ACT_ALLOW") << name;
    EXPECT_FALSE(rules[0].contains("args")) << name;
  }
}

TEST(SeccompPolicy, AMalformedPolicyIsRefusedNamingWhere) {
  auto error = [](std::string_view text) {
    Result<SeccompPolicy> p = ParseSeccompPolicy(text, "policy.json");
    return p.ok() ? std::string("accepted") : p.status().message();
  };
  EXPECT_NE(error(R"({"default_errno":"EPERM","allow":[{"names":["read","read"]}]})")
                .find("read is listed already at allow[0].names"),
            std::string::npos);
  EXPECT_NE(error(R"({"default_errno":"EPERM","allow":[{"names":["read"]}],
                     "never":[{"names":["read"]}]})")
                .find("listed already"),
            std::string::npos);
  EXPECT_NE(error(R"({"default_errno":"EBOGUS","allow":[{"names":["read"]}]})").find("EBOGUS"),
            std::string::npos);
  EXPECT_NE(error(R"({"default_errno":"EPERM","allow":[{"names":["rm -rf"]}]})")
                .find("not a system call name"),
            std::string::npos);
  EXPECT_NE(error(R"({"default_errno":"EPERM","allow":[{"names":["read"]}],
                     "allow_if":[{"name":"clone","arg":0,"mask":["CLONE_EVERYTHING"],"equals":0}]})")
                .find("CLONE_EVERYTHING"),
            std::string::npos);
  EXPECT_NE(error("[1,2]").find("policy.json"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::runtime::local
