#include "runtime/local/runc_version.h"

#include <algorithm>

#include "base/strings.h"

namespace lockstep::runtime::local {

namespace {

// An escape open in every runc older than `fixed_in`, unless the package revision starts
// with `backport_prefix` and ends in a number at least `backport_min` (Debian's "+debNuM").
struct KnownEscape {
  std::string_view cve;
  std::string_view what;
  std::string_view fixed_in;
  std::string_view backport_prefix = {};
  int backport_min = 0;
};

// Escapes lockstep's config does not make unreachable, oldest first. (Sources: runc's
// security advisories GHSA-gxmr-w5mj-v8hh, GHSA-c3xm-pvg7-gh7r, GHSA-g2j6-57v7-gm8c,
// GHSA-xr7r-f8xq-vfvv; Debian's runc changelog.)
constexpr KnownEscape kEscapes[] = {
    {"CVE-2019-5736", "a container running as root overwrites the host's runc binary", "1.0.0-rc7"},
    {"CVE-2021-30465", "a mount destination swapped for a symlink mounts a host path",
     "1.0.0-rc95"},
    {"CVE-2023-27561", "an image's /proc symlink redirects runc's writes", "1.1.5"},
    {"CVE-2024-21626", "a file descriptor leaked into the container reaches the host's files",
     "1.1.12", "1.1.5+ds1-1+deb12u", 1},
};

int Compare(const RuncVersion& a, const RuncVersion& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.pre == b.pre) return 0;
  if (a.pre.empty()) return 1;
  if (b.pre.empty()) return -1;
  // "rc7" < "rc95", "rc.2" < "rc.3": compare the numbers at the end.
  auto number = [](const std::string& pre) {
    size_t digits = pre.find_last_not_of("0123456789") + 1;
    return ParseUint(std::string_view(pre).substr(digits)).value_or(0);
  };
  return number(a.pre) < number(b.pre) ? -1 : number(a.pre) > number(b.pre) ? 1 : 0;
}

bool Backported(const KnownEscape& e, const std::string& package) {
  if (e.backport_prefix.empty() || !StartsWith(package, e.backport_prefix)) return false;
  std::optional<uint64_t> n = ParseUint(std::string_view(package).substr(e.backport_prefix.size()));
  return n && *n >= static_cast<uint64_t>(e.backport_min);
}

}  // namespace

Result<RuncVersion> ParseRuncVersion(std::string_view output) {
  RuncVersion v;
  for (std::string_view line : Split(output, '\n')) {
    if (StartsWith(line, "runc version ")) v.text = std::string(line.substr(13));
    if (StartsWith(line, "commit: ")) v.package = std::string(line.substr(8));
  }
  // "1.1.5+ds1", "1.0.0-rc6", "1.4.0-rc.3+dev", "1.1.12-0ubuntu2~22.04.1": numbers, then
  // a pre-release (only runc's own "-rc" ones; any other suffix is a distribution's
  // revision of that release), then build metadata.
  std::string_view rest = std::string_view(v.text).substr(0, v.text.find('+'));
  size_t dash = rest.find('-');
  if (dash != std::string_view::npos && rest.substr(dash + 1).starts_with("rc")) {
    v.pre = std::string(rest.substr(dash + 1));
  }
  std::vector<std::string_view> parts = Split(rest.substr(0, dash), '.');
  std::optional<uint64_t> n[3];
  for (size_t i = 0; i < 3 && i < parts.size(); ++i) n[i] = ParseUint(parts[i]);
  if (parts.size() != 3 || !n[0] || !n[1] || !n[2] || *n[0] > 1000 || *n[1] > 1000 ||
      *n[2] > 1000) {
    return InvalidArgument("runc --version printed no version lockstep can read: '" +
                           std::string(output.substr(0, 200)) + "'");
  }
  v.major = static_cast<int>(*n[0]);
  v.minor = static_cast<int>(*n[1]);
  v.patch = static_cast<int>(*n[2]);
  return v;
}

bool OlderThan(const RuncVersion& a, const RuncVersion& b) { return Compare(a, b) < 0; }

Status CheckRuncVersion(const RuncVersion& v) {
  std::string open;
  std::string_view needed;
  for (const KnownEscape& e : kEscapes) {
    Result<RuncVersion> fixed = ParseRuncVersion("runc version " + std::string(e.fixed_in));
    if (!OlderThan(v, *fixed) || Backported(e, v.package)) continue;
    open += (open.empty() ? "" : "; ") + std::string(e.cve) + " (" + std::string(e.what) + ")";
    needed = e.fixed_in;
  }
  if (open.empty()) return Status::Ok();
  return FailedPrecondition("runc " + v.text + (v.package.empty() ? "" : " (" + v.package + ")") +
                                " has known container escapes: " + open,
                            "install runc " + std::string(needed) +
                                " or later (or a distribution package that carries the fixes)");
}

}  // namespace lockstep::runtime::local
