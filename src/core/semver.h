// Semantic Versioning 2.0.0 (semver.org): MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep {

struct SemVer {
  uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers
  std::vector<std::string> build;       // ignored for precedence

  // Errors say which part is wrong ("minor version '01' has a leading zero").
  static Result<SemVer> Parse(std::string_view text);
  std::string str() const;
  // Precedence as the spec defines it (build metadata ignored).
  std::strong_ordering Compare(const SemVer& other) const;
};

}  // namespace lockstep
