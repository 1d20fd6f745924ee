// The HTTP/1.1 server under `lockstep serve`: Boost.Beast over Asio, one coroutine per
// connection, a pool of threads running one io_context. All Beast code of the server
// lives in http_server.cc; handlers see only exchange.h.
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
  // Serves until Stop() or SIGINT/SIGTERM. `every_minute` runs once a minute on a pool
  // thread (housekeeping).
  virtual void Run(std::function<void()> every_minute) = 0;
  virtual void Stop() = 0;
};

}  // namespace lockstep::http
