// OCI distribution-spec error responses: {"errors":[{"code":..,"message":..,"detail":..}]}
// with the HTTP status that matches the failure. A client's mistake is never a 500.
#pragma once

#include <string_view>

#include "base/status.h"
#include "http/exchange.h"

namespace lockstep::api {

// `fallback_code` names the OCI code when the Status carries no reason of its own.
http::Response OciError(const Status& status, std::string_view fallback_code);
http::Response OciError(int http_status, std::string_view code, std::string_view message);

}  // namespace lockstep::api
