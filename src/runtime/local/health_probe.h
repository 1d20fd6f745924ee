// One HTTP health check: GET `path` from 127.0.0.1:`port` with HTTP/1.0, passed when the
// status is 2xx within `timeout`. Plain sockets: the check must not depend on the proxy
// or any client library state. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace lockstep::runtime::local {

// Ok, or why the check failed ("connect: Connection refused", "status 503", "timed out").
// With `netns` (a file holding a network namespace), the connection is made inside it.
Status ProbeHttp(uint16_t port, const std::string& path, std::chrono::milliseconds timeout,
                 const std::string& netns = "");

// A loopback TCP port that was free a moment ago (the kernel's pick).
Result<uint16_t> PickFreePort();

}  // namespace lockstep::runtime::local
