// The front proxy: owns the public port of every routed service and forwards each request
// to the instance the routing table names at that moment.
//
// A request loads the table once and holds the chosen Backend until the backend's
// response is complete; that is what lets Retire drain an instance (runtime/router.h).
// Bodies up to 1 MiB are held whole; larger and chunked ones stream through a 64 KiB
// buffer in both directions, so memory stays flat for uploads and downloads of any size.
// Client connections are kept alive across switches: each request picks its backend
// again, and an upstream connection to a backend that is no longer routed is closed.
// New public ports are listened on as soon as a table naming them is published.
//
// All Beast code of the proxy is in proxy.cc. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/router.h"

namespace lockstep::proxy {

struct ProxyOptions {
  std::string address = "127.0.0.1";
  int threads = 2;
  uint64_t max_request_bytes = 8ull << 30;    // a larger request body is refused (413)
  std::chrono::seconds upstream_timeout{60};  // connect, send and answer
  std::chrono::seconds idle_timeout{120};     // a keep-alive client connection
};

class Proxy {
 public:
  // Starts the proxy's threads and listens on the ports of the current table.
  static Result<std::unique_ptr<Proxy>> Start(runtime::Router& router, ProxyOptions options);
  virtual ~Proxy() = default;  // stops listening and closes every connection

  // The public ports listened on.
  virtual std::vector<uint16_t> Ports() const = 0;
};

}  // namespace lockstep::proxy
