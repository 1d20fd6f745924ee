#include "core/semver.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "base/strings.h"

namespace lockstep {

namespace {

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsIdentifierChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

Status Bad(std::string_view text, const std::string& why) {
  return InvalidArgument("version '" + std::string(text) +
                         "' is not SemVer (MAJOR.MINOR.PATCH, e.g. 1.5.4 or 2.0.0-rc.1): " + why);
}

Result<std::vector<std::string>> Identifiers(std::string_view text, std::string_view part,
                                             std::string_view what, bool numeric_no_leading_zero) {
  std::vector<std::string> out;
  for (std::string_view id : Split(part, '.')) {
    if (id.empty()) return Bad(text, std::string(what) + " has an empty identifier");
    for (char c : id) {
      if (!IsIdentifierChar(c)) return Bad(text, std::string(what) + " may only hold [0-9A-Za-z-]");
    }
    if (numeric_no_leading_zero && IsDigits(id) && id.size() > 1 && id[0] == '0') {
      return Bad(text,
                 std::string(what) + " identifier '" + std::string(id) + "' has a leading zero");
    }
    out.emplace_back(id);
  }
  return out;
}

}  // namespace

Result<SemVer> SemVer::Parse(std::string_view text) {
  SemVer v;
  std::string_view rest = text;
  if (size_t plus = rest.find('+'); plus != std::string_view::npos) {
    LS_ASSIGN_OR_RETURN(v.build, Identifiers(text, rest.substr(plus + 1), "build metadata", false));
    rest = rest.substr(0, plus);
  }
  if (size_t dash = rest.find('-'); dash != std::string_view::npos) {
    LS_ASSIGN_OR_RETURN(v.prerelease,
                        Identifiers(text, rest.substr(dash + 1), "pre-release", true));
    rest = rest.substr(0, dash);
  }
  std::vector<std::string_view> core = Split(rest, '.');
  if (core.size() != 3) return Bad(text, "it needs exactly three numbers");
  const char* names[] = {"major", "minor", "patch"};
  uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
  for (int i = 0; i < 3; ++i) {
    if (!IsDigits(core[i])) return Bad(text, std::string(names[i]) + " version is not a number");
    if (core[i].size() > 1 && core[i][0] == '0') {
      return Bad(text, std::string(names[i]) + " version '" + std::string(core[i]) +
                           "' has a leading zero");
    }
    std::optional<uint64_t> n = ParseUint(core[i]);
    if (!n) return Bad(text, std::string(names[i]) + " version is too large");
    *fields[i] = *n;
  }
  return v;
}

std::string SemVer::str() const {
  std::string out =
      std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (size_t i = 0; i < prerelease.size(); ++i) out += (i ? "." : "-") + prerelease[i];
  for (size_t i = 0; i < build.size(); ++i) out += (i ? "." : "+") + build[i];
  return out;
}

std::strong_ordering SemVer::Compare(const SemVer& o) const {
  if (auto c = std::tie(major, minor, patch) <=> std::tie(o.major, o.minor, o.patch); c != 0)
    return c;
  // A version without pre-release identifiers ranks above one with them.
  if (prerelease.empty() != o.prerelease.empty()) {
    return prerelease.empty() ? std::strong_ordering::greater : std::strong_ordering::less;
  }
  for (size_t i = 0; i < std::min(prerelease.size(), o.prerelease.size()); ++i) {
    const std::string& a = prerelease[i];
    const std::string& b = o.prerelease[i];
    bool an = IsDigits(a), bn = IsDigits(b);
    if (an && bn) {
      if (auto c = ParseUint(a).value_or(0) <=> ParseUint(b).value_or(0); c != 0) return c;
    } else if (an != bn) {
      return an ? std::strong_ordering::less
                : std::strong_ordering::greater;  // numeric ranks lower
    } else if (auto c = a <=> b; c != 0) {
      return c;
    }
  }
  return prerelease.size() <=> o.prerelease.size();
}

}  // namespace lockstep
