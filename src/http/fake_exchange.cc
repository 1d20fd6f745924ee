#include "http/fake_exchange.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstring>
#include <exception>

#include "base/strings.h"

namespace lockstep::http {

FakeExchange::FakeExchange(std::string method, std::string target, std::string body,
                           Headers headers)
    : body_(std::move(body)) {
  request_.method = std::move(method);
  request_.target = std::move(target);
  for (auto& [name, value] : headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request_.headers.emplace_back(std::move(lower), std::move(value));
  }
  request_.host = std::string(request_.Header("host"));
  if (request_.host.empty()) request_.host = "127.0.0.1:5000";
  if (!body_.empty()) request_.content_length = body_.size();
}

void FakeExchange::Run(const Handler& handler) {
  // One io_context for every run, destroyed only at exit: a blocking pool's thread that
  // posted a handler's completion may still be inside that post (signalling the context's
  // wakeup) when the handler has finished and run() returned, so a context per run would be
  // destroyed under it. (The server's contexts outlive its pools, which are joined first.)
  static boost::asio::io_context io;
  io.restart();
  std::exception_ptr failure;
  boost::asio::co_spawn(io, handler(*this), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

std::string FakeExchange::ResponseHeader(std::string_view name) const {
  for (const auto& [n, v] : response_.headers) {
    if (IEquals(n, name)) return v;
  }
  return "";
}

Task<Status> FakeExchange::ReadBody(BodySink& sink) {
  if (body_read_) co_return Status::Ok();
  body_read_ = true;
  size_t at = 0;
  while (at < body_.size()) {
    Result<std::span<char>> space = sink.Space();
    if (!space.ok()) co_return space.status();
    if (space->empty()) co_return Internal("the body sink offered no space");
    size_t n = std::min(space->size(), body_.size() - at);
    std::memcpy(space->data(), body_.data() + at, n);
    at += n;
    if (Status s = sink.Received(n); !s.ok()) co_return s;
  }
  co_return Status::Ok();
}

Task<Result<std::string>> FakeExchange::ReadSmallBody(uint64_t limit) {
  if (body_.size() > limit) {
    co_return OutOfRange("request body exceeds the limit of " + std::to_string(limit) + " bytes");
  }
  if (body_read_) co_return std::string();
  body_read_ = true;
  co_return body_;
}

Task<void> FakeExchange::Send(Response response) {
  ++responses_;
  response_ = std::move(response);
  co_return;
}

Task<void> FakeExchange::SendFile(Response head, int fd, uint64_t offset, uint64_t length) {
  ++responses_;
  response_ = std::move(head);
  response_.body.resize(static_cast<size_t>(std::min<uint64_t>(length, 64 << 20)));
  ssize_t n = ::pread(fd, response_.body.data(), response_.body.size(), static_cast<off_t>(offset));
  response_.body.resize(n < 0 ? 0 : static_cast<size_t>(n));
  co_return;
}

}  // namespace lockstep::http
