// Beast/Asio transport for the HTTP server.
//
// Three habits of Beast are corrected here (see docs/DEPENDENCIES.md):
// - `Expect: 100-continue` is answered before the body is read (clients stall otherwise);
// - the read buffer is reserved at 256 KiB, so large uploads arrive in large reads
//   rather than one 512-byte read after the header;
// - file bodies go out with sendfile(2) after Beast writes the header, instead of
//   http::file_body's 4 KiB reads.
#include "server/http_server.h"

#include <sys/sendfile.h>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <thread>

#include "base/strings.h"

namespace lockstep::server {

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

  Task<Status> ReadBody(const BodySink& sink) override {
    if (!body_pending_) co_return Status::Ok();
    co_await MaybeContinue();
    http::request_parser<http::buffer_body> parser(std::move(header_));
    parser.body_limit(boost::none);
    std::vector<char> chunk(kReadBufferBytes);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      stream_.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, kTuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        must_close_ = true;
        co_return Aborted("request body ended early: " + ec.message());
      }
      size_t got = chunk.size() - parser.get().body().size;
      if (got == 0) continue;
      Status s = sink(std::string_view(chunk.data(), got));
      if (!s.ok()) {
        must_close_ = true;  // the rest of the body is not read
        co_return s;
      }
    }
    body_pending_ = false;
    co_return Status::Ok();
  }

  Task<Result<std::string>> ReadSmallBody(uint64_t limit) override {
    if (req_.content_length && *req_.content_length > limit) {
      must_close_ = true;
      co_return OutOfRange("request body of " + std::to_string(*req_.content_length) +
                           " bytes exceeds the limit of " + std::to_string(limit));
    }
    std::string body;
    Status s = co_await ReadBody([&](std::string_view part) {
      if (body.size() + part.size() > limit) {
        return OutOfRange("request body exceeds the limit of " + std::to_string(limit) + " bytes");
      }
      body.append(part);
      return Status::Ok();
    });
    if (!s.ok()) co_return s;
    co_return body;
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
};

class BeastServer final : public HttpServer {
 public:
  BeastServer(int threads, Handler handler)
      : threads_(threads), handler_(std::move(handler)), acceptor_(io_) {}

  Status Listen(const HttpServerOptions& o) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(o.address, ec);
    if (ec) return InvalidArgument("listen address '" + o.address + "' is not an IP address");
    tcp::endpoint endpoint(address, o.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                         ec.message());
    }
    return Status::Ok();
  }

  uint16_t port() const override { return acceptor_.local_endpoint().port(); }

  void Run(std::function<void()> every_minute) override {
    asio::co_spawn(io_, Accept(), asio::detached);
    asio::co_spawn(io_, Housekeeping(std::move(every_minute)), asio::detached);
    asio::signal_set signals(io_, SIGINT, SIGTERM);
    signals.async_wait([this](auto, int) { Stop(); });
    std::vector<std::thread> pool;
    for (int i = 1; i < threads_; ++i) pool.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : pool) t.join();
  }

  void Stop() override { io_.stop(); }

 private:
  Task<void> Accept() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io_, Connection(std::move(socket)), asio::detached);
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
      co_await handler_(exchange);
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
  }

  Task<void> Housekeeping(std::function<void()> work) {
    asio::steady_timer timer(io_);
    while (work) {
      timer.expires_after(std::chrono::minutes(1));
      auto [ec] = co_await timer.async_wait(kTuple);
      if (ec) co_return;
      work();
    }
  }

  int threads_;
  Handler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Bind(const HttpServerOptions& options,
                                                     Handler handler) {
  auto server = std::make_unique<BeastServer>(std::max(1, options.threads), std::move(handler));
  LS_RETURN_IF_ERROR(server->Listen(options));
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace lockstep::server
