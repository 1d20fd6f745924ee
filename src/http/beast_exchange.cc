#include "http/beast_exchange.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>

#include "base/strings.h"

namespace lockstep::http {

namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string_view Request::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

namespace {

// Collects a small body into a string, refusing more than `limit` bytes. It offers one
// byte past the limit so a body of exactly `limit` bytes can still be read to its end.
class StringSink final : public BodySink {
 public:
  explicit StringSink(uint64_t limit) : limit_(limit) {}
  Result<std::span<char>> Space() override {
    size_t grow = static_cast<size_t>(std::min<uint64_t>(64 * 1024, limit_ + 1 - size_));
    body_.resize(size_ + grow);
    return std::span<char>(body_.data() + size_, grow);
  }
  Status Received(size_t n) override {
    size_ += n;
    if (size_ > limit_) {
      return OutOfRange("request body exceeds the limit of " + std::to_string(limit_) + " bytes");
    }
    return Status::Ok();
  }
  std::string Take() && {
    body_.resize(size_);
    return std::move(body_);
  }

 private:
  uint64_t limit_;
  std::string body_;
  size_t size_ = 0;
};

}  // namespace

BeastExchange::BeastExchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                             http::request_parser<http::empty_body>& header,
                             const ConnectionLimits& limits)
    : stream_(stream), buffer_(buffer), header_(header), limits_(limits) {
  const auto& h = header.get();
  req_.method = std::string(h.method_string());
  req_.target = std::string(h.target());
  for (const auto& field : h) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req_.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  req_.host = std::string(req_.Header("host"));
  req_.chunked = header.chunked();
  if (auto len = header.content_length()) req_.content_length = *len;
  keep_alive_ = h.keep_alive();
  body_pending_ = !header.is_done();
}

void BeastExchange::ArmBodyDeadline(uint64_t awaiting) {
  uint64_t rate = std::max<uint64_t>(1, limits_.body_min_rate);
  // The read in flight waits for `awaiting` bytes at once (SO_RCVLOWAT), so its deadline
  // counts them as if they had come at the minimum rate. Bodies are at most a few TiB, so
  // the product does not wrap.
  auto earned = std::chrono::milliseconds((body_received_ + awaiting) * 1000 / rate);
  stream_.expires_at(body_start_ + limits_.header_timeout + earned);
}

Task<Status> BeastExchange::ReadBody(BodySink& sink) {
  if (!body_pending_) co_return Status::Ok();
  co_await MaybeContinue();
  body_start_ = std::chrono::steady_clock::now();
  if (!req_.chunked && req_.content_length) co_return co_await ReadSizedBody(sink);
  http::request_parser<http::buffer_body> parser(std::move(header_));
  parser.body_limit(boost::none);
  while (!parser.is_done()) {
    Result<std::span<char>> space = sink.Space();
    if (!space.ok()) {
      must_close_ = true;
      co_return space.status();
    }
    parser.get().body().data = space->data();
    parser.get().body().size = space->size();
    // async_read returns once the space is full (or the body ends): that is what it awaits.
    ArmBodyDeadline(space->size());
    auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      must_close_ = true;
      co_return Aborted("request body ended early: " + ec.message());
    }
    size_t got = space->size() - parser.get().body().size;
    if (got == 0) continue;
    if (Status s = Deliver(sink, got); !s.ok()) co_return s;
  }
  body_pending_ = false;
  co_return Status::Ok();
}

Status BeastExchange::Deliver(BodySink& sink, size_t n) {
  body_received_ += n;
  Status s = sink.Received(n);
  if (!s.ok()) must_close_ = true;
  return s;
}

Task<Status> BeastExchange::ReadSizedBody(BodySink& sink) {
  // The low-water mark must not outlive the body: the next request's header may be
  // smaller than it, and would then never be reported readable.
  struct RestoreLowWater {
    BeastExchange* self;
    ~RestoreLowWater() { self->SetLowWater(1); }
  } restore{this};
  uint64_t remaining = *req_.content_length;
  while (remaining > 0) {
    Result<std::span<char>> space = sink.Space();
    if (!space.ok()) {
      must_close_ = true;
      co_return space.status();
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(space->size(), remaining));
    size_t got = 0;
    if (buffer_.size() > 0) {
      got = asio::buffer_copy(asio::buffer(space->data(), want), buffer_.data());
      buffer_.consume(got);
    } else {
      Result<size_t> n = co_await ReceiveInto(space->data(), want);
      if (!n.ok()) {
        must_close_ = true;
        co_return n.status();
      }
      got = *n;
    }
    remaining -= got;
    if (Status s = Deliver(sink, got); !s.ok()) co_return s;
  }
  body_pending_ = false;
  co_return Status::Ok();
}

Task<Result<size_t>> BeastExchange::ReceiveInto(char* data, size_t want) {
  SetLowWater(static_cast<int>(std::min<size_t>(want, kReadBufferBytes)));
  ArmBodyDeadline(static_cast<uint64_t>(lowat_));
  auto [ec, n] = co_await stream_.async_read_some(asio::buffer(data, want), kTuple);
  if (ec) co_return Aborted("request body ended early: " + ec.message());
  co_return n;
}

void BeastExchange::SetLowWater(int bytes) {
  if (bytes == lowat_) return;
  ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
  lowat_ = bytes;
}

Task<Result<std::string>> BeastExchange::ReadSmallBody(uint64_t limit) {
  if (req_.content_length && *req_.content_length > limit) {
    must_close_ = true;
    co_return OutOfRange("request body of " + std::to_string(*req_.content_length) +
                         " bytes exceeds the limit of " + std::to_string(limit));
  }
  StringSink sink(limit);
  Status s = co_await ReadBody(sink);
  if (!s.ok()) co_return s;
  co_return std::move(sink).Take();
}

Task<void> BeastExchange::Send(Response r) {
  responded_ = true;
  // No answer to HEAD carries a body (a kept-alive client would read it as the next
  // answer): it announces the length the GET's body would have.
  if (req_.method == "HEAD" && !r.head_length) r.head_length = r.body.size();
  if (r.head_length) {
    http::response<http::empty_body> res{static_cast<http::status>(r.status), 11};
    Fill(res, r.headers);
    res.content_length(*r.head_length);
    co_await Write(res);
    co_return;
  }
  http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
  Fill(res, r.headers);
  res.body() = std::move(r.body);
  res.prepare_payload();
  co_await Write(res);
}

Task<void> BeastExchange::SendFile(Response head, int fd, uint64_t offset, uint64_t length) {
  responded_ = true;
  http::response<http::empty_body> res{static_cast<http::status>(head.status), 11};
  Fill(res, head.headers);
  res.content_length(length);
  res.keep_alive(reusable());
  http::response_serializer<http::empty_body> sr{res};
  // A reader that takes the bytes slower than body_min_rate (after send_timeout of grace)
  // is cut off: each wait may last until the time the bytes sent so far have earned.
  const auto start = std::chrono::steady_clock::now();
  stream_.expires_at(SendDeadline(start, 0));
  auto [ec, n] = co_await http::async_write_header(stream_, sr, kTuple);
  if (ec) {
    must_close_ = true;
    co_return;
  }
  auto& socket = stream_.socket();
  socket.native_non_blocking(true);
  // The socket's own waits do not see the stream's deadline: a timer on the same
  // (single-threaded) io_context cancels the wait when it passes.
  asio::steady_timer timer(socket.get_executor());
  auto off = static_cast<off_t>(offset);
  uint64_t remaining = length;
  while (remaining > 0) {
    ssize_t sent = ::sendfile(socket.native_handle(), fd, &off,
                              static_cast<size_t>(std::min<uint64_t>(remaining, 1u << 30)));
    if (sent > 0) {
      remaining -= static_cast<uint64_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    // What the reader took: sent, less what still waits in the kernel's send queue (which
    // takes megabytes at once and would otherwise earn minutes).
    uint64_t taken = length - remaining;
    int queued = 0;
    if (::ioctl(socket.native_handle(), SIOCOUTQ, &queued) == 0 && queued > 0)
      taken -= std::min<uint64_t>(taken, static_cast<uint64_t>(queued));
    const auto deadline = SendDeadline(start, taken);
    if (sent < 0 && errno == EAGAIN && std::chrono::steady_clock::now() < deadline) {
      timer.expires_at(deadline);
      timer.async_wait([&socket](boost::system::error_code timer_ec) {
        if (!timer_ec) socket.cancel();
      });
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_write, kTuple);
      timer.cancel();
      if (!wait_ec) continue;
    }
    must_close_ = true;  // peer gone or too slow, or the file shrank: the framing is broken
    co_return;
  }
}

std::chrono::steady_clock::time_point BeastExchange::SendDeadline(
    std::chrono::steady_clock::time_point start, uint64_t bytes) const {
  auto earned =
      std::chrono::milliseconds(bytes / std::max<uint64_t>(limits_.body_min_rate, 1) * 1000);
  return start + limits_.send_timeout + earned;
}

template <class Message>
void BeastExchange::Fill(Message& res, const Headers& headers) {
  res.set(http::field::server, "lockstep");
  // insert, not set: a header may be given more than once (one OCI-Tag per tag).
  for (const auto& [name, value] : headers) res.insert(name, value);
  res.keep_alive(reusable());
}

template <class Message>
Task<void> BeastExchange::Write(Message& res) {
  res.keep_alive(reusable());
  stream_.expires_at(
      SendDeadline(std::chrono::steady_clock::now(), res.payload_size().value_or(0)));
  auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
  if (ec) must_close_ = true;
}

Task<void> BeastExchange::MaybeContinue() {
  if (continued_ || !IEquals(req_.Header("expect"), "100-continue")) co_return;
  continued_ = true;
  http::response<http::empty_body> res{http::status::continue_, 11};
  stream_.expires_at(SendDeadline(std::chrono::steady_clock::now(), 0));
  auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
  if (ec) must_close_ = true;
}

}  // namespace lockstep::http
