#include "http/beast_exchange.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <variant>

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

// How long `bytes` take at `rate` bytes per second, capped at a year: no rate and length
// make a deadline wrap.
std::chrono::milliseconds Earned(uint64_t bytes, uint64_t rate) {
  constexpr uint64_t kYearSeconds = 365ull * 24 * 3600;
  rate = std::clamp<uint64_t>(rate, 1, uint64_t{1} << 40);
  uint64_t seconds = bytes / rate;
  if (seconds >= kYearSeconds) return std::chrono::seconds(kYearSeconds);
  return std::chrono::milliseconds(seconds * 1000 + (bytes % rate) * 1000 / rate);
}

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

template <class Stream>
BasicBeastExchange<Stream>::BasicBeastExchange(Stream& stream, beast::flat_buffer& buffer,
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

template <class Stream>
void BasicBeastExchange<Stream>::ArmBodyDeadline(uint64_t awaiting) {
  // The read in flight waits for `awaiting` bytes at once (SO_RCVLOWAT), so its deadline
  // counts them as if they had come at the minimum rate.
  Lowest().expires_at(body_start_ + limits_.header_timeout +
                      Earned(body_received_ + awaiting, limits_.body_min_rate));
}

template <class Stream>
Task<Status> BasicBeastExchange<Stream>::ReadBody(BodySink& sink) {
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

template <class Stream>
Status BasicBeastExchange<Stream>::Deliver(BodySink& sink, size_t n) {
  body_received_ += n;
  Status s = sink.Received(n);
  if (!s.ok()) must_close_ = true;
  return s;
}

template <class Stream>
Task<Status> BasicBeastExchange<Stream>::ReadSizedBody(BodySink& sink) {
  // The low-water mark must not outlive the body: the next request's header may be
  // smaller than it, and would then never be reported readable.
  struct RestoreLowWater {
    BasicBeastExchange* self;
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

template <class Stream>
Task<Result<size_t>> BasicBeastExchange<Stream>::ReceiveInto(char* data, size_t want) {
  SetLowWater(static_cast<int>(std::min<size_t>(want, kReadBufferBytes)));
  ArmBodyDeadline(static_cast<uint64_t>(lowat_));
  auto [ec, n] = co_await stream_.async_read_some(asio::buffer(data, want), kTuple);
  if (ec) co_return Aborted("request body ended early: " + ec.message());
  co_return n;
}

template <class Stream>
void BasicBeastExchange<Stream>::SetLowWater(int bytes) {
  // Under TLS the socket carries records, not the body: no low-water mark there.
  if (!kPlain || bytes == lowat_) return;
  ::setsockopt(Lowest().socket().native_handle(), SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
  lowat_ = bytes;
}

template <class Stream>
Task<Result<std::string>> BasicBeastExchange<Stream>::ReadSmallBody(uint64_t limit) {
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

template <class Stream>
Task<void> BasicBeastExchange<Stream>::Send(Response r) {
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

template <class Stream>
Task<void> BasicBeastExchange<Stream>::SendFile(Response head, int fd, uint64_t offset,
                                                uint64_t length) {
  responded_ = true;
  http::response<http::empty_body> res{static_cast<http::status>(head.status), 11};
  Fill(res, head.headers);
  res.content_length(length);
  res.keep_alive(reusable());
  http::response_serializer<http::empty_body> sr{res};
  // A reader that takes the bytes slower than body_min_rate (after send_timeout of grace)
  // is cut off: each wait may last until the time the bytes sent so far have earned.
  const auto start = std::chrono::steady_clock::now();
  Lowest().expires_at(SendDeadline(start, 0));
  auto [ec, n] = co_await http::async_write_header(stream_, sr, kTuple);
  if (ec) {
    must_close_ = true;
    co_return;
  }
  if constexpr (kPlain) {
    co_await SendFileBody(fd, offset, length, start);
  } else {
    co_await CopyFileBody(fd, offset, length, start);
  }
}

template <class Stream>
uint64_t BasicBeastExchange<Stream>::Taken(uint64_t sent) {
  // Less what still waits in the kernel's send queue, which takes megabytes at once and
  // would otherwise earn minutes. (Under TLS the queue holds records, a little more than
  // their bytes: the reader is counted a little behind, never ahead.)
  int queued = 0;
  if (::ioctl(Lowest().socket().native_handle(), SIOCOUTQ, &queued) == 0 && queued > 0)
    return sent - std::min<uint64_t>(sent, static_cast<uint64_t>(queued));
  return sent;
}

template <class Stream>
Task<void> BasicBeastExchange<Stream>::FallenBehind(std::chrono::steady_clock::time_point start,
                                                    const uint64_t& sent) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    // Recomputed at each wake: a reader that keeps up moves its own deadline on.
    auto deadline = SendDeadline(start, Taken(sent));
    if (std::chrono::steady_clock::now() >= deadline) co_return;
    timer.expires_at(deadline);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;  // cancelled: what it guarded is done
  }
}

template <class Stream>
Task<void> BasicBeastExchange<Stream>::CopyFileBody(int fd, uint64_t offset, uint64_t length,
                                                    std::chrono::steady_clock::time_point start) {
  using namespace asio::experimental::awaitable_operators;
  // TLS encrypts in user space: the file is read in blocks and written through the stream,
  // each write raced against the reader falling behind.
  std::vector<char> block(64 * 1024);
  uint64_t done = 0;
  Lowest().expires_never();  // FallenBehind keeps the time
  while (done < length) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(block.size(), length - done));
    ssize_t got = ::pread(fd, block.data(), want, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      must_close_ = true;  // the file shrank or failed: the framing is broken
      co_return;
    }
    auto written = co_await (
        asio::async_write(stream_, asio::buffer(block.data(), static_cast<size_t>(got)), kTuple) ||
        FallenBehind(start, done));
    if (written.index() != 0 || std::get<0>(std::get<0>(written))) {
      must_close_ = true;  // too slow, or gone
      co_return;
    }
    done += static_cast<uint64_t>(got);
  }
}

template <class Stream>
Task<void> BasicBeastExchange<Stream>::SendFileBody(int fd, uint64_t offset, uint64_t length,
                                                    std::chrono::steady_clock::time_point start) {
  using namespace asio::experimental::awaitable_operators;
  auto& socket = Lowest().socket();
  socket.native_non_blocking(true);
  auto off = static_cast<off_t>(offset);
  uint64_t sent = 0;
  while (sent < length) {
    ssize_t n = ::sendfile(socket.native_handle(), fd, &off,
                           static_cast<size_t>(std::min<uint64_t>(length - sent, 1u << 30)));
    if (n > 0) {
      sent += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // The socket's own waits do not see the stream's deadline: the wait is raced
      // against the reader falling behind.
      auto ready = co_await (socket.async_wait(tcp::socket::wait_write, kTuple) ||
                             FallenBehind(start, sent));
      if (ready.index() == 0 && !std::get<0>(std::get<0>(ready))) continue;
    }
    must_close_ = true;  // peer gone or too slow, or the file shrank: the framing is broken
    co_return;
  }
}

template <class Stream>
std::chrono::steady_clock::time_point BasicBeastExchange<Stream>::SendDeadline(
    std::chrono::steady_clock::time_point start, uint64_t bytes) const {
  return start + limits_.send_timeout + Earned(bytes, limits_.body_min_rate);
}

template <class Stream>
template <class Message>
void BasicBeastExchange<Stream>::Fill(Message& res, const Headers& headers) {
  res.set(http::field::server, "lockstep");
  // insert, not set: a header may be given more than once (one OCI-Tag per tag).
  for (const auto& [name, value] : headers) res.insert(name, value);
  res.keep_alive(reusable());
}

template <class Stream>
template <class Message>
Task<void> BasicBeastExchange<Stream>::Write(Message& res) {
  res.keep_alive(reusable());
  Lowest().expires_at(
      SendDeadline(std::chrono::steady_clock::now(), res.payload_size().value_or(0)));
  auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
  if (ec) must_close_ = true;
}

template <class Stream>
Task<void> BasicBeastExchange<Stream>::MaybeContinue() {
  if (continued_ || !IEquals(req_.Header("expect"), "100-continue")) co_return;
  continued_ = true;
  http::response<http::empty_body> res{http::status::continue_, 11};
  Lowest().expires_at(SendDeadline(std::chrono::steady_clock::now(), 0));
  auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
  if (ec) must_close_ = true;
}

template class BasicBeastExchange<beast::tcp_stream>;
template class BasicBeastExchange<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace lockstep::http
