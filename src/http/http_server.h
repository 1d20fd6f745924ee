// The HTTP/1.1 server under `lockstep serve`: Boost.Beast over Asio, one coroutine per
// connection, one io_context per thread (accept_loop.h). Beast code lives in http/ only
// (http_server.cc, beast_exchange.cc); handlers see exchange.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "http/exchange.h"

namespace lockstep::http {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks a free port
  int threads = 2;
};

class HttpServer {
 public:
  // Binds the listening socket (so the port is known before Run).
  static Result<std::unique_ptr<HttpServer>> Bind(const HttpServerOptions& options,
                                                  Handler handler);
  virtual ~HttpServer() = default;

  virtual uint16_t port() const = 0;
  // Serves until Stop() or SIGINT/SIGTERM.
  virtual void Run() = 0;
  virtual void Stop() = 0;
};

}  // namespace lockstep::http
