// The HTTP/1.1 server under `lockstep serve`: Boost.Beast over Asio, one coroutine per
// connection, one io_context per thread (accept_loop.h). Beast code lives in http/ only
// (http_server.cc, beast_exchange.cc); handlers see exchange.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "http/exchange.h"

namespace lockstep::http {

// What one client may hold of the server: a connection costs its coroutine frame and a small
// header buffer until a request needs more, the number of connections is capped, a request
// header must arrive whole within `header_timeout` of its first byte, a request body must keep
// up `body_min_rate` on average (after `header_timeout` of grace), and so must a response's
// reader (after `send_timeout` of grace), so a client trickling bytes either way cannot hold
// a connection forever.
struct ConnectionLimits {
  int max_connections = 1024;  // more are accepted and closed at once, with a log line
  std::chrono::milliseconds idle_timeout{60'000};    // a kept-alive connection's wait
  std::chrono::milliseconds header_timeout{10'000};  // from a header's first byte
  std::chrono::milliseconds send_timeout{120'000};   // grace for a response to go out
  uint64_t body_min_rate = 4096;                     // bytes per second, either way
};

// A certificate chain and its private key, PEM files. Read at start and again on SIGHUP.
struct TlsFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks a free port
  int threads = 2;
  ConnectionLimits limits;
  std::optional<TlsFiles> tls;  // serve HTTPS (HTTP/1.1 over TLS 1.2 or 1.3) only
};

class HttpServer {
 public:
  // Binds the listening socket (so the port is known before Run).
  static Result<std::unique_ptr<HttpServer>> Bind(const HttpServerOptions& options,
                                                  Handler handler);
  virtual ~HttpServer() = default;

  virtual uint16_t port() const = 0;
  // Serves until Stop() or SIGINT/SIGTERM; on SIGHUP reads the TLS files again (a failed
  // reload is logged and keeps the credentials in use).
  virtual void Run() = 0;
  virtual void Stop() = 0;
};

}  // namespace lockstep::http
