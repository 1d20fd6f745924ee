// OCI distribution-spec error responses: {"errors":[{"code":..,"message":..,"detail":..}]}
// with the HTTP status that matches the failure. A client's mistake is never a 500.
#pragma once

#include <string_view>

#include "base/status.h"
#include "server/exchange.h"

namespace lockstep::server {

// `fallback_code` names the OCI code when the Status carries no reason of its own.
Response OciError(const Status& status, std::string_view fallback_code);
Response OciError(int http_status, std::string_view code, std::string_view message);

}  // namespace lockstep::server
