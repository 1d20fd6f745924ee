// One HTTP request/response exchange, as route handlers see it. Handlers are written
// against this interface only, so they never include Beast (whose headers are heavy to
// compile) and can be driven by any transport.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace lockstep::http {

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

// Receives a request body as it arrives, without an intermediate copy: the transport
// reads straight into the sink's Space() and reports how much landed.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Where the next bytes go; never empty.
  virtual Result<std::span<char>> Space() = 0;
  // `n` bytes were written at the start of the last Space(). An error stops the read.
  virtual Status Received(size_t n) = 0;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  // Streams the request body to `sink`. Fails with kAborted when the client goes away or
  // the body is truncated or malformed, and with the sink's own error when it refuses a
  // chunk; the connection is then closed after the response.
  virtual Task<Status> ReadBody(BodySink& sink) = 0;
  // Reads a whole body of at most `limit` bytes (kOutOfRange past it).
  virtual Task<Result<std::string>> ReadSmallBody(uint64_t limit) = 0;
  virtual Task<void> Send(Response response) = 0;
  // Sends `head` and then `length` bytes of `fd` from `offset` with sendfile(2).
  virtual Task<void> SendFile(Response head, int fd, uint64_t offset, uint64_t length) = 0;
};

// Handles one exchange; must send exactly one response.
using Handler = std::function<Task<void>(Exchange&)>;

}  // namespace lockstep::http
