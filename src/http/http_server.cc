// Beast/Asio transport for the HTTP server.
//
// Three habits of Beast are corrected here (see docs/DEPENDENCIES.md):
// - `Expect: 100-continue` is answered before the body is read (clients stall otherwise);
// - the read buffer is reserved at 256 KiB, so large uploads arrive in large reads
//   rather than one 512-byte read after the header;
// - file bodies go out with sendfile(2) after Beast writes the header, instead of
//   http::file_body's 4 KiB reads.
#include "http/http_server.h"

#include <sys/sendfile.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <thread>

#include "base/strings.h"

namespace lockstep::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
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

constexpr size_t kReadBufferBytes = 256 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(120);

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

class BeastExchange final : public Exchange {
 public:
  BeastExchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                http::request_parser<http::empty_body>& header)
      : stream_(stream), buffer_(buffer), header_(header) {
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

  const Request& request() const override { return req_; }
  bool responded() const { return responded_; }
  bool reusable() const { return keep_alive_ && !must_close_ && !body_pending_; }
  void ForceClose() { must_close_ = true; }

  Task<Status> ReadBody(BodySink& sink) override {
    if (!body_pending_) co_return Status::Ok();
    co_await MaybeContinue();
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
      stream_.expires_after(kIdleTimeout);
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

  // Hands `n` received bytes to the sink. A refusal leaves the rest of the body unread,
  // so the connection cannot carry another request.
  Status Deliver(BodySink& sink, size_t n) {
    Status s = sink.Received(n);
    if (!s.ok()) must_close_ = true;
    return s;
  }

  // A body of known length bypasses the parser: bytes already buffered past the header
  // are handed over first, then the socket is read straight into the sink's space, so a
  // large upload crosses user space exactly once.
  Task<Status> ReadSizedBody(BodySink& sink) {
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

  // Receives up to `want` bytes. SO_RCVLOWAT makes the kernel report the socket readable
  // only once a worthwhile amount has arrived, so a large upload costs about one wakeup
  // per buffer rather than one per TCP segment.
  Task<Result<size_t>> ReceiveInto(char* data, size_t want) {
    SetLowWater(static_cast<int>(std::min<size_t>(want, kReadBufferBytes)));
    stream_.expires_after(kIdleTimeout);
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(data, want), kTuple);
    if (ec) co_return Aborted("request body ended early: " + ec.message());
    co_return n;
  }

  void SetLowWater(int bytes) {
    if (bytes == lowat_) return;
    ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
    lowat_ = bytes;
  }

  Task<Result<std::string>> ReadSmallBody(uint64_t limit) override {
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

  Task<void> Send(Response r) override {
    responded_ = true;
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

  Task<void> SendFile(Response head, int fd, uint64_t offset, uint64_t length) override {
    responded_ = true;
    http::response<http::empty_body> res{static_cast<http::status>(head.status), 11};
    Fill(res, head.headers);
    res.content_length(length);
    res.keep_alive(reusable());
    http::response_serializer<http::empty_body> sr{res};
    stream_.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_write_header(stream_, sr, kTuple);
    if (ec) {
      must_close_ = true;
      co_return;
    }
    auto& socket = stream_.socket();
    socket.native_non_blocking(true);
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
      if (sent < 0 && errno == EAGAIN) {
        stream_.expires_after(kIdleTimeout);
        auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_write, kTuple);
        if (!wait_ec) continue;
      }
      must_close_ = true;  // peer gone, or the file shrank: the framing is broken
      co_return;
    }
  }

 private:
  template <class Message>
  void Fill(Message& res, const Headers& headers) {
    res.set(http::field::server, "lockstep");
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(reusable());
  }

  template <class Message>
  Task<void> Write(Message& res) {
    res.keep_alive(reusable());
    stream_.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    if (ec) must_close_ = true;
  }

  Task<void> MaybeContinue() {
    if (continued_ || !IEquals(req_.Header("expect"), "100-continue")) co_return;
    continued_ = true;
    http::response<http::empty_body> res{http::status::continue_, 11};
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    if (ec) must_close_ = true;
  }

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::empty_body>& header_;
  Request req_;
  bool keep_alive_ = true;
  bool body_pending_ = false;
  bool must_close_ = false;
  bool responded_ = false;
  bool continued_ = false;
  int lowat_ = 1;  // the socket's SO_RCVLOWAT
};

// One io_context per thread, each run by exactly one thread (no locking inside Asio,
// no cross-thread wakeups); the acceptor deals connections out round-robin, and a
// connection stays on its thread for its whole life.
class BeastServer final : public HttpServer {
 public:
  BeastServer(int threads, Handler handler) : handler_(std::move(handler)) {
    for (int i = 0; i < threads; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
    acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
  }

  Status Listen(const HttpServerOptions& o) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(o.address, ec);
    if (ec) return InvalidArgument("listen address '" + o.address + "' is not an IP address");
    tcp::endpoint endpoint(address, o.port);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                         ec.message());
    }
    return Status::Ok();
  }

  uint16_t port() const override { return acceptor_->local_endpoint().port(); }

  void Run(std::function<void()> every_minute) override {
    asio::io_context& first = *contexts_[0];
    asio::co_spawn(first, Accept(), asio::detached);
    asio::co_spawn(first, Housekeeping(std::move(every_minute)), asio::detached);
    asio::signal_set signals(first, SIGINT, SIGTERM);
    signals.async_wait([this](auto, int) { Stop(); });
    std::vector<std::thread> pool;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_alive;
    for (size_t i = 1; i < contexts_.size(); ++i) {
      keep_alive.push_back(asio::make_work_guard(*contexts_[i]));
      pool.emplace_back([this, i] { contexts_[i]->run(); });
    }
    first.run();
    Stop();
    for (auto& t : pool) t.join();
  }

  void Stop() override {
    for (auto& c : contexts_) c->stop();
  }

 private:
  Task<void> Accept() {
    size_t next = 0;
    while (true) {
      asio::io_context& home = *contexts_[next];
      next = (next + 1) % contexts_.size();
      auto [ec, socket] = co_await acceptor_->async_accept(home, kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(home, Connection(std::move(socket)), asio::detached);
    }
  }

  Task<void> Connection(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    buffer.reserve(kReadBufferBytes);
    while (true) {
      http::request_parser<http::empty_body> header;
      header.header_limit(64 * 1024);
      header.body_limit(boost::none);
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, header, kTuple);
      if (ec) {
        if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
            ec != asio::error::connection_reset && ec != asio::error::eof) {
          http::response<http::string_body> bad{http::status::bad_request, 11};
          bad.body() = "malformed request: " + ec.message() + "\n";
          bad.keep_alive(false);
          bad.prepare_payload();
          co_await http::async_write(stream, bad, kTuple);
        }
        break;
      }
      BeastExchange exchange(stream, buffer, header);
      // Handlers report failures as Status values; an exception here is a bug in a
      // handler or a library. It costs this request, not the server.
      bool threw = false;
      try {
        co_await handler_(exchange);
      } catch (const std::exception& e) {
        std::cerr << "lockstep: request " << exchange.request().method << " "
                  << exchange.request().target << " failed: " << e.what() << "\n";
        threw = true;
      }
      if (threw) {
        exchange.ForceClose();
        if (!exchange.responded()) {
          Response r;
          r.status = 500;
          r.body = "internal error; see the server log\n";
          co_await exchange.Send(std::move(r));
        }
        break;
      }
      if (!exchange.responded()) {
        Response r;
        r.status = 500;
        r.body = "handler sent no response\n";
        co_await exchange.Send(std::move(r));
      }
      if (!exchange.reusable()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Lingering close: a client still sending a body that was refused (413, 401...) reads
    // the answer instead of a reset, which closing with unread input would send it.
    stream.expires_after(std::chrono::seconds(2));
    std::array<char, 16384> sink;
    for (size_t drained = 0; drained < (4u << 20);) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      if (ec) break;
      drained += n;
    }
  }

  Task<void> Housekeeping(std::function<void()> work) {
    asio::steady_timer timer(*contexts_[0]);
    while (work) {
      timer.expires_after(std::chrono::minutes(1));
      auto [ec] = co_await timer.async_wait(kTuple);
      if (ec) co_return;
      work();
    }
  }

  Handler handler_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::unique_ptr<tcp::acceptor> acceptor_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Bind(const HttpServerOptions& options,
                                                     Handler handler) {
  auto server = std::make_unique<BeastServer>(std::max(1, options.threads), std::move(handler));
  LS_RETURN_IF_ERROR(server->Listen(options));
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace lockstep::http
