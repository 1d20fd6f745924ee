// Beast/Asio transport of the front proxy. One io_context per thread, as in
// http_server.cc: each port's acceptor deals connections out round-robin and a connection
// (with its upstream connection) stays on one thread.
//
// The hot path is kept cheap: sockets use the io_context's own executor type (no
// polymorphic executor per operation), and timeouts are not timers per operation but one
// deadline per connection that a sweeper checks once a second.
#include "proxy/proxy.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "os/netns.h"

namespace lockstep::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Executor = asio::io_context::executor_type;
template <class T = void>
using Task = asio::awaitable<T, Executor>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable_t<Executor>{});

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
void StripHopByHop(http::fields& f) {
  for (auto field :
       {http::field::connection, http::field::keep_alive, http::field::proxy_authenticate,
        http::field::proxy_authorization, http::field::te, http::field::trailer,
        http::field::transfer_encoding, http::field::upgrade}) {
    f.erase(field);
  }
  f.erase("Proxy-Connection");
}

Response Error(http::status status, unsigned version, std::string text) {
  Response res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::server, "lockstep-proxy");
  res.body() = std::move(text) + "\n";
  res.prepare_payload();
  return res;
}

// One client connection and the upstream connection it reuses while the same instance
// is routed. `deadline` is when the sweeper gives up on whatever the connection waits for.
struct Conn {
  explicit Conn(Socket s) : client(std::move(s)), upstream(client.get_executor()) {}
  Socket client;
  Socket upstream;
  beast::flat_buffer client_buffer;
  beast::flat_buffer upstream_buffer;
  std::string upstream_instance;  // empty: no open upstream connection
  Clock::time_point deadline = Clock::time_point::max();
  bool timed_out = false;

  void CloseUpstream() {
    beast::error_code ignored;
    upstream.close(ignored);
    upstream_buffer.clear();
    upstream_instance.clear();
  }
};

// Bodies up to this size are held whole (and a request may be sent twice); larger or
// chunked ones are streamed through.
constexpr uint64_t kBufferedBody = 1 << 20;

struct Worker {
  asio::io_context io{1};
  std::list<Conn*> conns;  // touched only on io's thread
};

class BeastProxy final : public Proxy {
 public:
  BeastProxy(runtime::Router& router, ProxyOptions options)
      : router_(router), options_(std::move(options)) {
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      workers_.push_back(std::make_unique<Worker>());
      guards_.push_back(asio::make_work_guard(workers_.back()->io));
    }
  }

  ~BeastProxy() override {
    router_.Unsubscribe(subscription_);
    for (auto& w : workers_) w->io.stop();
    for (auto& t : threads_) t.join();
  }

  void Subscribe() {
    subscription_ = router_.Subscribe([this](const runtime::RoutingTable& t) { Follow(t); });
  }

  void Run() {
    for (auto& w : workers_) {
      asio::co_spawn(w->io, Sweep(*w), asio::detached);
      threads_.emplace_back([io = &w->io] { io->run(); });
    }
  }

  // Opens listeners for ports of `table` not listened on yet. Called on the publishing
  // thread; a port that cannot be bound is reported and tried again at the next publish.
  void Follow(const runtime::RoutingTable& table) {
    std::lock_guard lock(mutex_);
    for (const auto& [port, backend] : table.by_port) {
      if (acceptors_.contains(port)) continue;
      auto acceptor = std::make_unique<Acceptor>(workers_[0]->io.get_executor());
      beast::error_code ec;
      tcp::endpoint endpoint(asio::ip::make_address(options_.address, ec), port);
      if (!ec) acceptor->open(endpoint.protocol(), ec);
      if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor->bind(endpoint, ec);
      if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        std::cerr << "lockstep: proxy cannot listen on " << options_.address << ":" << port
                  << " for " << backend->environment << "/" << backend->service << ": "
                  << ec.message() << "\n";
        continue;
      }
      Acceptor* raw = acceptor.get();
      acceptors_[port] = std::move(acceptor);
      asio::co_spawn(workers_[0]->io, Accept(*raw, port), asio::detached);
    }
  }

  std::vector<uint16_t> Ports() const override {
    std::lock_guard lock(mutex_);
    std::vector<uint16_t> ports;
    for (const auto& [port, acceptor] : acceptors_) ports.push_back(port);
    return ports;
  }

 private:
  Task<void> Accept(Acceptor& acceptor, uint16_t port) {
    size_t next = 0;
    for (;;) {
      Worker& home = *workers_[next];
      next = (next + 1) % workers_.size();
      auto [ec, socket] = co_await acceptor.async_accept(home.io.get_executor(), kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(home.io, Connection(home, std::move(socket), port), asio::detached);
    }
  }

  // Once a second: connections past their deadline have their operations cancelled.
  Task<void> Sweep(Worker& w) {
    asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor> timer(
        w.io.get_executor());
    for (;;) {
      timer.expires_after(std::chrono::seconds(1));
      auto [ec] = co_await timer.async_wait(kTuple);
      if (ec) co_return;
      Clock::time_point now = Clock::now();
      for (Conn* c : w.conns) {
        if (now < c->deadline) continue;
        c->timed_out = true;
        c->deadline = Clock::time_point::max();
        beast::error_code ignored;
        c->client.cancel(ignored);
        c->upstream.cancel(ignored);
      }
    }
  }

  Task<void> Connection(Worker& w, Socket socket, uint16_t port) {
    beast::error_code ec;
    std::string client_ip = socket.remote_endpoint(ec).address().to_string();
    Conn conn(std::move(socket));
    auto listed = w.conns.insert(w.conns.end(), &conn);
    for (;;) {
      http::request_parser<http::empty_body> head;
      head.header_limit(64 * 1024);
      head.body_limit(boost::none);  // checked below; Beast would refuse past 1 MB
      conn.deadline = Clock::now() + options_.idle_timeout;
      auto [read_ec, n] =
          co_await http::async_read_header(conn.client, conn.client_buffer, head, kTuple);
      if (read_ec) break;
      if (head.get()[http::field::expect] == "100-continue") {
        Response go{http::status::continue_, head.get().version()};
        co_await http::async_write(conn.client, go, kTuple);
      }
      bool keep_alive = head.get().keep_alive();
      boost::optional<uint64_t> length = head.content_length();
      bool streamed = head.chunked() || (length && *length > kBufferedBody);
      if (length && *length > options_.max_request_bytes) {
        Response too_big = Error(http::status::payload_too_large, head.get().version(),
                                 "request body exceeds the proxy's limit of " +
                                     std::to_string(options_.max_request_bytes) + " bytes");
        co_await Reply(conn, too_big, false, false);
        break;
      }
      bool ok = false;
      if (!streamed) {
        http::request_parser<http::string_body> parser(std::move(head));
        if (!parser.is_done()) {
          auto [body_ec, m] =
              co_await http::async_read(conn.client, conn.client_buffer, parser, kTuple);
          if (body_ec) break;
        }
        Request req = parser.release();
        ok = co_await Exchange(req, port, client_ip, conn, keep_alive);
      } else {
        http::request_parser<http::buffer_body> parser(std::move(head));
        parser.body_limit(options_.max_request_bytes);
        ok = co_await StreamExchange(parser, port, client_ip, conn, keep_alive);
      }
      if (!ok || !keep_alive || conn.timed_out) break;
    }
    w.conns.erase(listed);
    conn.CloseUpstream();
    conn.client.shutdown(tcp::socket::shutdown_send, ec);
  }

  std::shared_ptr<const runtime::Backend> RouteOf(uint16_t port) const {
    std::shared_ptr<const runtime::RoutingTable> table = router_.Current();
    auto it = table->by_port.find(port);
    return it == table->by_port.end() ? nullptr : it->second;
  }

  // The proxy's own answer when the backend cannot give one.
  Response Failure(const runtime::Backend& backend, const Conn& conn, unsigned version,
                   std::string_view what, const beast::error_code& ec) const {
    if (conn.timed_out) {
      return Error(http::status::gateway_timeout, version,
                   backend.environment + "/" + backend.service + " did not answer in time");
    }
    return Error(http::status::bad_gateway, version,
                 backend.environment + "/" + backend.service + " (" + backend.instance_id + ") " +
                     std::string(what) + ": " + ec.message());
  }

  template <class Fields>
  static void PrepareForUpstream(Fields& f, const std::string& client_ip) {
    StripHopByHop(f);
    std::string forwarded = std::string(f["X-Forwarded-For"]);
    f.set("X-Forwarded-For", forwarded.empty() ? client_ip : forwarded + ", " + client_ip);
  }

  Task<beast::error_code> ConnectUpstream(const runtime::Backend& backend, Conn& conn) {
    conn.CloseUpstream();
    beast::error_code ec;
    tcp::endpoint to(asio::ip::make_address(backend.host, ec), backend.port);
    if (!backend.netns.empty()) {
      // An isolated instance listens on the loopback of its own namespace: the socket is
      // made there (and keeps that namespace) before it connects.
      Result<os::UniqueFd> fd = os::SocketIn(backend.netns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
      if (!fd.ok()) co_return asio::error::make_error_code(asio::error::host_unreachable);
      conn.upstream.assign(tcp::v4(), fd->release(), ec);
      if (ec) co_return ec;
    }
    auto [connect_ec] = co_await conn.upstream.async_connect(to, kTuple);
    if (connect_ec) co_return connect_ec;
    conn.upstream.set_option(tcp::no_delay(true), ec);
    conn.upstream_instance = backend.instance_id;
    co_return beast::error_code{};
  }

  // Writes `res` to the client; false when the client connection is done for.
  Task<bool> Reply(Conn& conn, Response& res, bool keep_alive, bool head) {
    StripHopByHop(res);
    res.keep_alive(keep_alive);
    if (!head) res.prepare_payload();
    auto [write_ec, written] = co_await http::async_write(conn.client, res, kTuple);
    co_return !write_ec;
  }

  // A request small enough to hold (and so to send again): sends it to the routed backend,
  // once more on a fresh connection if a reused one turns out closed before any answer,
  // then passes the answer on. False when the client connection must close.
  Task<bool> Exchange(Request& req, uint16_t port, const std::string& client_ip, Conn& conn,
                      bool keep_alive) {
    unsigned version = req.version();
    bool head = req.method() == http::verb::head;
    std::shared_ptr<const runtime::Backend> backend = RouteOf(port);
    if (backend == nullptr) {
      Response none = Error(http::status::service_unavailable, version,
                            "no service is routed at port " + std::to_string(port));
      co_return co_await Reply(conn, none, keep_alive, false);
    }
    PrepareForUpstream(req, client_ip);
    req.keep_alive(true);
    req.prepare_payload();
    conn.deadline = Clock::now() + options_.upstream_timeout;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = conn.upstream_instance == backend->instance_id;
      if (!reused) {
        beast::error_code connect_ec = co_await ConnectUpstream(*backend, conn);
        if (connect_ec) {
          Response failed = Failure(*backend, conn, version, "refused the connection", connect_ec);
          co_return co_await Reply(conn, failed, keep_alive, false);
        }
      }
      auto [write_ec, w] = co_await http::async_write(conn.upstream, req, kTuple);
      http::response_parser<http::empty_body> answer;
      answer.body_limit(boost::none);  // Beast would refuse past 8 MB
      if (head) answer.skip(true);
      beast::error_code read_ec = write_ec;
      if (!write_ec) {
        auto [ec, r] =
            co_await http::async_read_header(conn.upstream, conn.upstream_buffer, answer, kTuple);
        read_ec = ec;
      }
      if (read_ec) {
        bool nothing_back = !answer.got_some();
        conn.CloseUpstream();
        if (reused && nothing_back && !conn.timed_out) continue;
        Response failed = Failure(*backend, conn, version, "failed", read_ec);
        co_return co_await Reply(conn, failed, keep_alive, false);
      }
      co_return co_await PassAnswer(answer, *backend, conn, version, keep_alive, head);
    }
    Response lost = Error(http::status::bad_gateway, version, "upstream connection lost");
    co_return co_await Reply(conn, lost, keep_alive, false);
  }

  // A request too large to hold (or chunked): streamed to a fresh upstream connection
  // while it arrives; it cannot be sent twice.
  Task<bool> StreamExchange(http::request_parser<http::buffer_body>& parser, uint16_t port,
                            const std::string& client_ip, Conn& conn, bool keep_alive) {
    auto& req = parser.get();
    unsigned version = req.version();
    std::shared_ptr<const runtime::Backend> backend = RouteOf(port);
    if (backend == nullptr) {
      Response none = Error(http::status::service_unavailable, version,
                            "no service is routed at port " + std::to_string(port));
      co_await Reply(conn, none, false, false);
      co_return false;  // the unread body makes the connection unusable
    }
    bool chunked = req.chunked();
    PrepareForUpstream(req, client_ip);
    req.keep_alive(true);
    if (chunked) req.chunked(true);
    conn.deadline = Clock::now() + options_.upstream_timeout;
    beast::error_code ec = co_await ConnectUpstream(*backend, conn);
    if (!ec) ec = co_await Relay(conn.client, conn.client_buffer, parser, conn.upstream, conn);
    if (ec) {
      conn.CloseUpstream();
      Response failed = Failure(*backend, conn, version, "failed while receiving the request", ec);
      co_await Reply(conn, failed, false, false);
      co_return false;
    }
    http::response_parser<http::empty_body> answer;
    answer.body_limit(boost::none);
    auto [read_ec, r] =
        co_await http::async_read_header(conn.upstream, conn.upstream_buffer, answer, kTuple);
    if (read_ec) {
      conn.CloseUpstream();
      Response failed = Failure(*backend, conn, version, "failed", read_ec);
      co_return co_await Reply(conn, failed, keep_alive, false);
    }
    co_return co_await PassAnswer(answer, *backend, conn, version, keep_alive, false);
  }

  // Passes the backend's answer, whose header `answer` has read, to the client: held
  // whole when small, streamed otherwise.
  Task<bool> PassAnswer(http::response_parser<http::empty_body>& answer,
                        const runtime::Backend& backend, Conn& conn, unsigned version,
                        bool keep_alive, bool head) {
    boost::optional<uint64_t> length = answer.content_length();
    bool small = answer.is_done() || (length && *length <= kBufferedBody);
    if (small) {
      http::response_parser<http::string_body> parser(std::move(answer));
      if (!parser.is_done()) {
        auto [ec, r] =
            co_await http::async_read(conn.upstream, conn.upstream_buffer, parser, kTuple);
        if (ec) {
          conn.CloseUpstream();
          Response failed = Failure(backend, conn, version, "failed", ec);
          co_return co_await Reply(conn, failed, keep_alive, false);
        }
      }
      Response res = parser.release();
      if (!res.keep_alive()) conn.CloseUpstream();
      co_return co_await Reply(conn, res, keep_alive, head);
    }
    http::response_parser<http::buffer_body> parser(std::move(answer));
    parser.body_limit(boost::none);
    auto& res = parser.get();
    bool upstream_keeps = res.keep_alive();
    StripHopByHop(res);
    // Without a length the body ends with chunking, or (for an HTTP/1.0 client) with
    // the connection.
    if (!res.has_content_length()) {
      if (version >= 11) {
        res.chunked(true);
      } else {
        keep_alive = false;
      }
    }
    res.keep_alive(keep_alive);
    beast::error_code ec =
        co_await Relay(conn.upstream, conn.upstream_buffer, parser, conn.client, conn);
    if (ec || !upstream_keeps) conn.CloseUpstream();
    co_return !ec && keep_alive;
  }

  // Moves the message whose header `parser` has read from `from` to `to` through a 64 KiB
  // buffer, header first (Beast's relay pattern): memory stays flat whatever the size.
  template <bool isRequest>
  Task<beast::error_code> Relay(Socket& from, beast::flat_buffer& buffer,
                                http::parser<isRequest, http::buffer_body>& parser, Socket& to,
                                Conn& conn) {
    std::vector<char> chunk(64 * 1024);
    http::serializer<isRequest, http::buffer_body> serializer(parser.get());
    do {
      conn.deadline = Clock::now() + options_.upstream_timeout;
      if (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        auto [read_ec, n] = co_await http::async_read(from, buffer, parser, kTuple);
        if (read_ec && read_ec != http::error::need_buffer) co_return read_ec;
        parser.get().body().size = chunk.size() - parser.get().body().size;
        parser.get().body().data = chunk.data();
        parser.get().body().more = !parser.is_done();
      } else {
        parser.get().body().data = nullptr;
        parser.get().body().size = 0;
      }
      auto [write_ec, m] = co_await http::async_write(to, serializer, kTuple);
      if (write_ec && write_ec != http::error::need_buffer) co_return write_ec;
    } while (!parser.is_done() || !serializer.is_done());
    co_return beast::error_code{};
  }

  runtime::Router& router_;
  int subscription_ = 0;
  ProxyOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<asio::executor_work_guard<Executor>> guards_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::map<uint16_t, std::unique_ptr<Acceptor>> acceptors_;
};

}  // namespace

Result<std::unique_ptr<Proxy>> Proxy::Start(runtime::Router& router, ProxyOptions options) {
  auto proxy = std::make_unique<BeastProxy>(router, std::move(options));
  proxy->Run();
  BeastProxy* raw = proxy.get();
  raw->Subscribe();
  raw->Follow(*router.Current());
  return std::unique_ptr<Proxy>(std::move(proxy));
}

}  // namespace lockstep::proxy
