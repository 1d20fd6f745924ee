// An in-memory Exchange for unit tests of route handlers: the request and its body are
// given, the response is recorded. Run() drives a handler to completion on a private
// io_context, so a test reads like a call. Not thread-safe.
#pragma once

#include <optional>
#include <string>

#include "http/exchange.h"

namespace lockstep::http {

class FakeExchange final : public Exchange {
 public:
  // `target` is path and query; `headers` as "name" → "value" (names lowercased here).
  FakeExchange(std::string method, std::string target, std::string body = "", Headers headers = {});

  // Runs `handler` on this exchange until it returns.
  void Run(const Handler& handler);

  // What the handler sent (status 0 when it sent nothing), and how often it sent.
  const Response& response() const { return response_; }
  int responses() const { return responses_; }
  // The first response header of that name (case-insensitive), or empty.
  std::string ResponseHeader(std::string_view name) const;

  const Request& request() const override { return request_; }
  Task<Status> ReadBody(BodySink& sink) override;
  Task<Result<std::string>> ReadSmallBody(uint64_t limit) override;
  Task<void> Send(Response response) override;
  Task<void> SendFile(Response head, int fd, uint64_t offset, uint64_t length) override;

 private:
  Request request_;
  std::string body_;
  bool body_read_ = false;
  Response response_;
  int responses_ = 0;
};

}  // namespace lockstep::http
