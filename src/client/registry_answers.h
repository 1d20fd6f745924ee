// What registries answer, read as pure functions: auth challenges, token answers, error
// bodies, tag lists and pagination links. Everything here comes from a server that may be
// hostile, so each parser tolerates any bytes and says what it could not read.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep::client {

// A WWW-Authenticate challenge: the scheme (lowercased) and its key="value" parameters.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
Challenge ParseChallenge(std::string_view header);

// The token of a token endpoint's answer ("token", else "access_token"); nullopt when the
// answer holds neither.
std::optional<std::string> ParseTokenAnswer(std::string_view body);

// "CODE: message" of the first entry of an OCI error body, else the start of the body,
// else "no details".
std::string ErrorDetail(std::string_view body);

// The tags of one page of a tag list (non-string entries are skipped).
std::vector<std::string> ParseTagPage(std::string_view body);

// The target of a Link header's rel="next", or empty.
std::string NextLink(std::string_view link_header);

// The mediaType a manifest body declares, or empty.
std::string DeclaredMediaType(std::string_view body);

}  // namespace lockstep::client
