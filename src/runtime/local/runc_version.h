// Which runc lockstep agrees to run containers with. A runc with a known container escape
// that lockstep's own container config does not close is refused when the target opens,
// naming the CVE and the version that fixes it. Distributions backport fixes without
// changing the upstream version (Debian 12's 1.1.5+ds1-1+deb12u1 carries the fix for
// CVE-2024-21626), so a fix also counts when the package revision runc prints as its
// commit is one known to carry it.
//
// Escapes that lockstep's config makes unreachable are not refused; docs/ARCHITECTURE.md
// ("Which runc") lists them with the reason, since a change to the config may make them
// reachable again.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep::runtime::local {

struct RuncVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string pre;      // "rc6", "rc.3"; empty for a release
  std::string text;     // as printed: "1.1.5+ds1"
  std::string package;  // the "commit:" line: a git commit, or a package revision
};

// Parses `runc --version` output; kInvalidArgument when it has no "runc version X.Y.Z".
Result<RuncVersion> ParseRuncVersion(std::string_view output);

// True when `a` is an older version than `b` (a pre-release is older than its release).
bool OlderThan(const RuncVersion& a, const RuncVersion& b);

// kFailedPrecondition naming each known escape `v` is open to, and what to install.
Status CheckRuncVersion(const RuncVersion& v);

}  // namespace lockstep::runtime::local
