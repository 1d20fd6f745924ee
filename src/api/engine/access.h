// The git webhook's shared secret as git hosts send it. (What a token may call is the route
// table's, engine_api.h, and core/access.h's.) Internal to api/engine/.
#pragma once

#include <string>

#include "base/status.h"
#include "http/exchange.h"

namespace lockstep::api {

// A push event from a git host, authenticated by the shared secret as the host sends it:
// GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the body), GitLab's X-Gitlab-Token, or
// X-Lockstep-Secret from anything else (curl in a CI job). Compared in constant time.
Status WebhookAllowed(const http::Request& req, const std::string& body, const std::string& secret);

}  // namespace lockstep::api
