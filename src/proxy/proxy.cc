// The proxy's listeners, sweeper and connection loop. One io_context per thread, as in
// the HTTP server (http/accept_loop.h): each port's acceptor deals connections out
// round-robin and a connection (with its upstream connection) stays on one thread. What
// a request does once read is in forward.cc; the header rules are in header_rules.cc.
//
// The hot path is kept cheap: sockets use the io_context's own executor type (no
// polymorphic executor per operation), and timeouts are not timers per operation but one
// deadline per connection that a sweeper checks once a second.
#include "proxy/proxy.h"

#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "http/accept_loop.h"
#include "proxy/forward.h"
#include "proxy/header_rules.h"

namespace lockstep::proxy {

namespace {

struct Worker {
  // Declared first, destroyed last: destroying `io` destroys the connections' coroutine
  // frames, and each takes itself out of this list as it goes.
  std::list<Conn*> conns;  // touched only on io's thread
  asio::io_context io{1};
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
      Status listening = lockstep::http::Listen(*acceptor, options_.address, port);
      if (!listening.ok()) {
        std::cerr << "lockstep: proxy: " << listening.message() << " (for " << backend->environment
                  << "/" << backend->service << ")\n";
        continue;
      }
      Acceptor* raw = acceptor.get();
      acceptors_[port] = std::move(acceptor);
      std::vector<asio::io_context*> homes;
      for (auto& w : workers_) homes.push_back(&w->io);
      asio::co_spawn(workers_[0]->io,
                     lockstep::http::AcceptConnections(
                         *raw, std::move(homes),
                         [this, port](asio::io_context& home, Socket socket) {
                           asio::co_spawn(home, Connection(WorkerOf(home), std::move(socket), port),
                                          asio::detached);
                         }),
                     asio::detached);
    }
  }

  std::vector<uint16_t> Ports() const override {
    std::lock_guard lock(mutex_);
    std::vector<uint16_t> ports;
    for (const auto& [port, acceptor] : acceptors_) ports.push_back(port);
    return ports;
  }

 private:
  Worker& WorkerOf(asio::io_context& io) {
    for (auto& w : workers_) {
      if (&w->io == &io) return *w;
    }
    return *workers_.front();  // not reached: every home is a worker's
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

  // Keeps a connection in its worker's list exactly as long as the connection lives, however
  // its coroutine ends: the sweeper must never see a connection that is gone.
  class Listed {
   public:
    Listed(std::list<Conn*>& list, Conn* conn) : list_(list), it_(list.insert(list.end(), conn)) {}
    ~Listed() { list_.erase(it_); }
    Listed(const Listed&) = delete;
    Listed& operator=(const Listed&) = delete;

   private:
    std::list<Conn*>& list_;
    std::list<Conn*>::iterator it_;
  };

  Task<void> Connection(Worker& w, Socket socket, uint16_t port) {
    beast::error_code ec;
    std::string client_ip = socket.remote_endpoint(ec).address().to_string();
    Conn conn(std::move(socket));
    Listed listed(w.conns, &conn);
    try {
      co_await Serve(conn, client_ip, port);
    } catch (const std::exception& e) {
      // A bug, or memory exhausted: this connection ends, the proxy goes on.
      std::cerr << "lockstep: proxy: connection from " << client_ip << " to port " << port
                << " ended by an error: " << e.what() << "\n";
    }
    conn.CloseUpstream();
    conn.client.shutdown(tcp::socket::shutdown_send, ec);
  }

  // The requests of one client connection, one after another, until it closes.
  Task<void> Serve(Conn& conn, const std::string& client_ip, uint16_t port) {
    Forwarder forward(router_, options_);
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
        Response too_big = ErrorResponse(http::status::payload_too_large, head.get().version(),
                                         "request body exceeds the proxy's limit of " +
                                             std::to_string(options_.max_request_bytes) + " bytes");
        co_await forward.Reply(conn, too_big, false, false);
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
        ok = co_await forward.Exchange(req, port, client_ip, conn, keep_alive);
      } else {
        http::request_parser<http::buffer_body> parser(std::move(head));
        parser.body_limit(options_.max_request_bytes);
        ok = co_await forward.StreamExchange(parser, port, client_ip, conn, keep_alive);
      }
      if (!ok || !keep_alive || conn.timed_out) break;
    }
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
