// The HTTP server's connections: read a request header, hand the Exchange
// (beast_exchange.h) to the handler, keep the connection while it can carry another
// request, and close it lingeringly.
#include "http/http_server.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include "http/accept_loop.h"
#include "http/beast_exchange.h"
#include "http/tls_context.h"

namespace lockstep::http {

namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// One io_context per thread, each run by exactly one thread (no locking inside Asio,
// no cross-thread wakeups); the acceptor deals connections out round-robin, and a
// connection stays on its thread for its whole life.
class BeastServer final : public HttpServer {
 public:
  BeastServer(int threads, Handler handler, ConnectionLimits limits,
              std::unique_ptr<TlsContext> tls)
      : handler_(std::move(handler)), limits_(limits), tls_(std::move(tls)) {
    for (int i = 0; i < threads; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
    acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
  }

  Status Listen(const HttpServerOptions& o) {
    return lockstep::http::Listen(*acceptor_, o.address, o.port);
  }

  uint16_t port() const override { return acceptor_->local_endpoint().port(); }

  void Run() override {
    asio::io_context& first = *contexts_[0];
    std::vector<asio::io_context*> homes;
    for (auto& c : contexts_) homes.push_back(c.get());
    asio::co_spawn(first,
                   AcceptConnections(*acceptor_, std::move(homes),
                                     [this](asio::io_context& home, auto socket) {
                                       Slot slot = Admit();
                                       if (!slot) return;  // the socket closes here
                                       asio::co_spawn(
                                           home, Connection(std::move(socket), std::move(slot)),
                                           asio::detached);
                                     }),
                   asio::detached);
    asio::signal_set signals(first, SIGINT, SIGTERM);
    signals.async_wait([this](auto, int) { Stop(); });
    asio::signal_set hangup(first, SIGHUP);
    std::function<void()> await_hangup = [&] {
      hangup.async_wait([&](boost::system::error_code ec, int) {
        if (ec) return;
        if (!tls_) {
          std::cerr << "lockstep: SIGHUP: no TLS credentials to read again\n";
        } else if (Status s = tls_->Reload(); !s.ok()) {
          std::cerr << "lockstep: SIGHUP: keeping the TLS certificate in use: " << s.ToString()
                    << "\n";
        } else {
          std::cerr << "lockstep: SIGHUP: TLS certificate and key read again\n";
        }
        await_hangup();
      });
    };
    await_hangup();
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
  // One admitted connection, counted in `open_` until the slot goes. It is a parameter of
  // the connection's coroutine, so it is released however the coroutine ends, even one
  // destroyed before it first ran.
  class Slot {
   public:
    Slot() = default;
    explicit Slot(std::atomic<int>* count) : count_(count) {}
    Slot(Slot&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (count_ != nullptr) count_->fetch_sub(1);
    }
    explicit operator bool() const { return count_ != nullptr; }

   private:
    std::atomic<int>* count_ = nullptr;
  };

  // Counts a new connection in, unless the limit is reached: then it is refused, and said
  // so in the log at most once a minute.
  Slot Admit() {
    if (open_.fetch_add(1) < limits_.max_connections) return Slot(&open_);
    open_.fetch_sub(1);
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_refusal_log_.load();
    if (now - last > std::chrono::nanoseconds(std::chrono::minutes(1)).count() &&
        last_refusal_log_.compare_exchange_strong(last, now)) {
      std::cerr << "lockstep: refusing connections: " << limits_.max_connections
                << " are open, the limit (server.max_connections)\n";
    }
    return Slot();
  }

  // A kept-alive connection may wait idle_timeout for the next request (a new one only
  // header_timeout for its first); once a request's first byte is in, the whole header
  // must follow within header_timeout.
  template <class Stream>
  Task<beast::error_code> ReadHeader(Stream& stream, beast::flat_buffer& buffer,
                                     http::request_parser<http::empty_body>& header, bool first) {
    auto& tcp = beast::get_lowest_layer(stream);
    if (buffer.size() == 0) {
      tcp.expires_after(first ? limits_.header_timeout : limits_.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
      if (ec) co_return ec;
      buffer.commit(n);
    }
    tcp.expires_after(limits_.header_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, header, kTuple);
    co_return ec;
  }

  Task<void> Connection(tcp::socket socket, [[maybe_unused]] Slot slot) {
    if (!tls_) {
      beast::tcp_stream stream(std::move(socket));
      co_await Serve<BeastExchange>(stream);
      co_await LingeringClose(stream);
      co_return;
    }
    // The context in use when the connection came, kept as long as the connection is.
    std::shared_ptr<asio::ssl::context> context = tls_->Current();
    TlsStream stream(std::move(socket), *context);
    // The handshake is part of the first request's header time.
    beast::get_lowest_layer(stream).expires_after(limits_.header_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) co_return;  // not TLS (plain HTTP, a scanner), or too slow: closed
    co_await Serve<TlsBeastExchange>(stream);
    // close_notify, briefly: a client that has gone does not hold the connection.
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    (void)co_await stream.async_shutdown(kTuple);
  }

  template <class ExchangeType, class Stream>
  Task<void> Serve(Stream& stream) {
    // Grows only as far as a request needs (a header is at most 64 KiB; bodies go to their
    // sinks), and never past 1 MiB, whatever a chunked body's extensions say.
    beast::flat_buffer buffer(1 << 20);
    for (bool first = true;; first = false) {
      http::request_parser<http::empty_body> header;
      header.header_limit(64 * 1024);
      header.body_limit(boost::none);
      beast::error_code ec = co_await ReadHeader(stream, buffer, header, first);
      if (ec) {
        if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
            ec != asio::error::connection_reset && ec != asio::error::eof &&
            ec != asio::ssl::error::stream_truncated) {
          http::response<http::string_body> bad{http::status::bad_request, 11};
          bad.body() = "malformed request: " + ec.message() + "\n";
          bad.keep_alive(false);
          bad.prepare_payload();
          co_await http::async_write(stream, bad, kTuple);
        }
        break;
      }
      ExchangeType exchange(stream, buffer, header, limits_);
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
  }

  Task<void> LingeringClose(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Lingering close: a client still sending a body that was refused (413, 401...) reads
    // the answer instead of a reset, which closing with unread input would send it.
    stream.expires_after(std::chrono::seconds(2));
    std::vector<char> sink(16384);  // on the heap: an idle connection's frame stays small
    for (size_t drained = 0; drained < (4u << 20);) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      if (ec) break;
      drained += n;
    }
  }

  Handler handler_;
  ConnectionLimits limits_;
  std::unique_ptr<TlsContext> tls_;  // null: plain HTTP
  // Declared before contexts_ so it outlives them: destroying an io_context destroys the
  // connections' coroutine frames, whose Slots count themselves out here.
  std::atomic<int> open_{0};
  std::atomic<int64_t> last_refusal_log_{0};
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::unique_ptr<tcp::acceptor> acceptor_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Bind(const HttpServerOptions& options,
                                                     Handler handler) {
  std::unique_ptr<TlsContext> tls;
  if (options.tls) {
    LS_ASSIGN_OR_RETURN(tls, TlsContext::Load(*options.tls));
  }
  auto server = std::make_unique<BeastServer>(std::max(1, options.threads), std::move(handler),
                                              options.limits, std::move(tls));
  LS_RETURN_IF_ERROR(server->Listen(options));
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace lockstep::http
