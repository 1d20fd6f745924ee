// The system calls a container may make. Every container runs under one allow-list, kept
// as data in the repository (seccomp/default.json, built into the binary) so that it is
// read and reviewed as a list rather than as code. A call the list does not name fails
// with EPERM; the list also says which calls run only with certain arguments (clone
// without namespace flags, sockets of ordinary families) and which are answered as if the
// kernel lacked them (clone3, io_uring), so programs fall back. A release is granted more
// by naming calls in its `syscalls` grant; those run unconditionally.
//
// The policy is turned into the OCI runtime spec's linux.seccomp, which runc loads with
// libseccomp before the container's program starts (and after no_new_privileges is set).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep::runtime::local {

struct SeccompPolicy {
  // A call allowed only when argument `arg` matches: (arg & mask) == values[0] when `mask`
  // is set, else arg equals one of `values`.
  struct Conditional {
    std::string name;
    uint32_t arg = 0;
    std::optional<uint64_t> mask;
    std::vector<uint64_t> values;
  };
  // A call answered with an errno of its own instead of running.
  struct Answer {
    std::string name;
    int errno_value = 0;
  };

  int default_errno = 0;
  std::vector<std::string> allow;  // sorted, unique
  std::vector<Conditional> allow_if;
  std::vector<Answer> answers;
  std::vector<std::string> never;  // refused on purpose (they fall to default_errno)
};

// Parses a policy in the format of seccomp/default.json. Errors name the JSON path; a
// name listed twice (in one section or across sections), an unknown errno or clone flag,
// and a name outside [a-z0-9_] are errors.
Result<SeccompPolicy> ParseSeccompPolicy(std::string_view text, std::string_view source);

// The built-in policy. Its text is checked by unit tests; a built-in policy that does not
// parse is a bug, and aborts.
const SeccompPolicy& DefaultSeccompPolicy();

// linux.seccomp of the runtime spec: `policy` for this machine's own 64-bit architecture
// only (32-bit calls are refused whole), with each name in `granted` allowed
// unconditionally.
boost::json::object SeccompSpec(const SeccompPolicy& policy, std::span<const std::string> granted);

}  // namespace lockstep::runtime::local
