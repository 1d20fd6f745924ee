// One HTTP request/response exchange, as route handlers see it. Handlers are written
// against this interface only, so they never include Beast (whose headers are heavy to
// compile) and can be driven by any transport.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace lockstep::server {

template <class T>
using Task = boost::asio::awaitable<T>;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // as received: path and query
  std::string host;    // the Host header
  Headers headers;     // names lowercased
  std::optional<uint64_t> content_length;
  bool chunked = false;

  // The first header of that (lowercase) name, or empty.
  std::string_view Header(std::string_view lowercase_name) const;
  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // For HEAD: the Content-Length to announce without sending a body.
  std::optional<uint64_t> head_length;

  // A response with only a status line (and a zero Content-Length).
  static Response Empty(int status) {
    Response r;
    r.status = status;
    return r;
  }

  Response& Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Receives body bytes as they arrive; an error stops the read.
using BodySink = std::function<Status(std::string_view)>;

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  // Streams the request body to `sink`. Fails with kAborted when the client goes away or
  // the body is truncated or malformed, and with the sink's own error when it refuses a
  // chunk; the connection is then closed after the response.
  virtual Task<Status> ReadBody(const BodySink& sink) = 0;
  // Reads a whole body of at most `limit` bytes (kOutOfRange past it).
  virtual Task<Result<std::string>> ReadSmallBody(uint64_t limit) = 0;
  virtual Task<void> Send(Response response) = 0;
  // Sends `head` and then `length` bytes of `fd` from `offset` with sendfile(2).
  virtual Task<void> SendFile(Response head, int fd, uint64_t offset, uint64_t length) = 0;
};

// Handles one exchange; must send exactly one response.
using Handler = std::function<Task<void>(Exchange&)>;

}  // namespace lockstep::server
