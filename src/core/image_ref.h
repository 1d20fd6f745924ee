// Image references as users type them: [REGISTRY/]REPOSITORY[:TAG][@DIGEST].
// The first component is a registry when it has a '.' or a ':' or is "localhost"
// (the Docker convention), or is "embedded": the registry of the lockstep serve that reads
// the reference, whatever its address (as a deploy repository's `registry = "embedded"`);
// otherwise the default registry applies.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "core/digest.h"

namespace lockstep {

struct ImageRef {
  std::string registry;    // host[:port]
  std::string repository;  // validated against the distribution-spec grammar
  std::optional<std::string> tag;
  std::optional<Digest> digest;

  // `default_registry` (e.g. from LOCKSTEP_REGISTRY) is used when the text names none;
  // it is an error if both are empty.
  static Result<ImageRef> Parse(std::string_view text, std::string_view default_registry);
  // The reference a manifest request uses: the digest if known, else the tag.
  std::string reference() const;
  std::string str() const;
};

}  // namespace lockstep
