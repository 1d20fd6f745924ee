// Who may call what of the engine's API: the role a token needs for each kind of call, and
// the git webhook's shared secret as git hosts send it. Internal to api/engine/.
#pragma once

#include <string>

#include "base/status.h"
#include "core/access.h"
#include "http/exchange.h"

namespace lockstep::api {

// What `who`'s role may do: read any role, except logs (push or admin: a log can hold
// what a service prints); invoke a function push or admin (the function's repository is
// checked where it is known); every other change admin.
Status RoleAllows(const Identity& who, const std::string& method, bool invoke, bool logs);

// A push event from a git host, authenticated by the shared secret as the host sends it:
// GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the body), GitLab's X-Gitlab-Token, or
// X-Lockstep-Secret from anything else (curl in a CI job). Compared in constant time.
Status WebhookAllowed(const http::Request& req, const std::string& body, const std::string& secret);

}  // namespace lockstep::api
