// Which tags may move. Tags are immutable unless a rule names them: a rule pairs a
// repository glob with a tag glob (e.g. "dev/*" + "latest"). No rules by default.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/access.h"

namespace lockstep::registry {

struct MutableTagRule {
  std::string repos;  // glob over repository names
  std::string tags;   // glob over tags
};

class TagPolicy {
 public:
  TagPolicy() = default;
  explicit TagPolicy(std::vector<MutableTagRule> rules) : rules_(std::move(rules)) {}

  bool IsMutable(std::string_view repo, std::string_view tag) const {
    for (const auto& r : rules_) {
      if (GlobMatch(r.repos, repo) && GlobMatch(r.tags, tag)) return true;
    }
    return false;
  }
  const std::vector<MutableTagRule>& rules() const { return rules_; }

 private:
  std::vector<MutableTagRule> rules_;
};

}  // namespace lockstep::registry
