// Names that arrive from requests and end up as paths on disk. Everything here is
// validated against the OCI distribution-spec grammar before any file is touched:
//   repository  [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//   tag         [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
// Neither can contain "..", an absolute path or an empty component, and no component
// can begin with '_', which the stores reserve for their own directories.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "base/status.h"
#include "core/digest.h"

namespace lockstep {

constexpr size_t kMaxRepositoryNameLength = 255;

Status ValidateRepositoryName(std::string_view name);
Status ValidateTag(std::string_view tag);

// A manifest reference: a tag or a digest.
struct Reference {
  std::variant<std::string, Digest> value;

  static Result<Reference> Parse(std::string_view text);
  bool is_digest() const { return std::holds_alternative<Digest>(value); }
  const std::string& tag() const { return std::get<std::string>(value); }
  const Digest& digest() const { return std::get<Digest>(value); }
  std::string str() const { return is_digest() ? digest().str() : tag(); }
};

}  // namespace lockstep
