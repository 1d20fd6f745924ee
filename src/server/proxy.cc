// Beast/Asio transport of the front proxy. One io_context per thread, as in
// http_server.cc: each port's acceptor deals connections out round-robin and a connection
// (with its upstream connection) stays on one thread.
#include "server/proxy.h"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

namespace lockstep::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

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

// The upstream side of one client connection: reused while the same instance is routed.
struct Upstream {
  explicit Upstream(const asio::any_io_executor& ex) : stream(ex) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::string instance;
  bool open = false;

  void Close() {
    beast::error_code ignored;
    stream.socket().close(ignored);
    buffer.clear();
    instance.clear();
    open = false;
  }
};

class BeastProxy final : public Proxy {
 public:
  BeastProxy(runtime::Router& router, ProxyOptions options)
      : router_(router), options_(std::move(options)) {
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.push_back(asio::make_work_guard(*contexts_.back()));
    }
  }

  ~BeastProxy() override {
    router_.Unsubscribe(subscription_);
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
  }

  void Subscribe() {
    subscription_ = router_.Subscribe([this](const runtime::RoutingTable& t) { Follow(t); });
  }

  void Run() {
    for (auto& c : contexts_) threads_.emplace_back([ctx = c.get()] { ctx->run(); });
  }

  // Opens listeners for ports of `table` not listened on yet. Called on the publishing
  // thread; a port that cannot be bound is reported and tried again at the next publish.
  void Follow(const runtime::RoutingTable& table) {
    std::lock_guard lock(mutex_);
    for (const auto& [port, backend] : table.by_port) {
      if (acceptors_.contains(port)) continue;
      auto acceptor = std::make_unique<tcp::acceptor>(*contexts_[0]);
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
      tcp::acceptor* raw = acceptor.get();
      acceptors_[port] = std::move(acceptor);
      asio::co_spawn(*contexts_[0], Accept(*raw, port), asio::detached);
    }
  }

  std::vector<uint16_t> Ports() const override {
    std::lock_guard lock(mutex_);
    std::vector<uint16_t> ports;
    for (const auto& [port, acceptor] : acceptors_) ports.push_back(port);
    return ports;
  }

 private:
  asio::awaitable<void> Accept(tcp::acceptor& acceptor, uint16_t port) {
    size_t next = 0;
    for (;;) {
      asio::io_context& home = *contexts_[next];
      next = (next + 1) % contexts_.size();
      auto [ec, socket] = co_await acceptor.async_accept(home, kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(home, Connection(std::move(socket), port), asio::detached);
    }
  }

  asio::awaitable<void> Connection(tcp::socket socket, uint16_t port) {
    beast::error_code ec;
    std::string client_ip = socket.remote_endpoint(ec).address().to_string();
    beast::tcp_stream client(std::move(socket));
    beast::flat_buffer buffer;
    Upstream upstream(client.get_executor());
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      client.expires_after(options_.idle_timeout);
      auto [read_ec, n] = co_await http::async_read_header(client, buffer, parser, kTuple);
      if (read_ec) break;
      if (parser.get()[http::field::expect] == "100-continue") {
        Response go{http::status::continue_, parser.get().version()};
        co_await http::async_write(client, go, kTuple);
      }
      if (!parser.is_done()) {
        auto [body_ec, m] = co_await http::async_read(client, buffer, parser, kTuple);
        if (body_ec) {
          if (body_ec == http::error::body_limit) {
            Response too_big = Error(http::status::payload_too_large, parser.get().version(),
                                     "request body exceeds the proxy's limit");
            too_big.keep_alive(false);
            co_await http::async_write(client, too_big, kTuple);
          }
          break;
        }
      }
      Request req = parser.release();
      bool keep_alive = req.keep_alive();
      bool head = req.method() == http::verb::head;

      Response res = co_await Forward(req, port, client_ip, upstream);
      StripHopByHop(res);
      res.keep_alive(keep_alive);
      if (!head) res.prepare_payload();
      client.expires_after(options_.upstream_timeout);
      auto [write_ec, w] = co_await http::async_write(client, res, kTuple);
      if (write_ec || !keep_alive) break;
    }
    upstream.Close();
    client.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // Sends `req` to the backend routed at `port` and returns its answer, or the proxy's
  // own 502/503/504.
  asio::awaitable<Response> Forward(Request& req, uint16_t port, const std::string& client_ip,
                                    Upstream& upstream) {
    unsigned version = req.version();
    std::shared_ptr<const runtime::Backend> backend;
    {
      std::shared_ptr<const runtime::RoutingTable> table = router_.Current();
      auto it = table->by_port.find(port);
      if (it != table->by_port.end()) backend = it->second;
    }
    if (backend == nullptr) {
      co_return Error(http::status::service_unavailable, version,
                      "no service is routed at port " + std::to_string(port));
    }
    StripHopByHop(req);
    std::string forwarded = std::string(req["X-Forwarded-For"]);
    req.set("X-Forwarded-For", forwarded.empty() ? client_ip : forwarded + ", " + client_ip);
    req.keep_alive(true);
    req.prepare_payload();

    // A reused connection may have been closed by the backend while idle; then (and only
    // if nothing came back) the request is sent once more on a fresh connection.
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = upstream.open && upstream.instance == backend->instance_id;
      if (!reused) {
        upstream.Close();
        beast::error_code ec;
        tcp::endpoint to(asio::ip::make_address(backend->host, ec), backend->port);
        upstream.stream.expires_after(options_.upstream_timeout);
        auto [connect_ec] = co_await upstream.stream.async_connect(to, kTuple);
        if (connect_ec) {
          co_return Error(http::status::bad_gateway, version,
                          backend->environment + "/" + backend->service + " (" +
                              backend->instance_id +
                              ") refused the connection: " + connect_ec.message());
        }
        upstream.stream.socket().set_option(tcp::no_delay(true), ec);
        upstream.open = true;
        upstream.instance = backend->instance_id;
      }
      upstream.stream.expires_after(options_.upstream_timeout);
      auto [write_ec, w] = co_await http::async_write(upstream.stream, req, kTuple);
      http::response_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      if (req.method() == http::verb::head) parser.skip(true);
      beast::error_code read_ec = write_ec;
      if (!write_ec) {
        auto [ec, r] = co_await http::async_read(upstream.stream, upstream.buffer, parser, kTuple);
        read_ec = ec;
      }
      if (read_ec) {
        bool nothing_back = !parser.got_some();
        upstream.Close();
        if (reused && nothing_back) continue;
        if (read_ec == beast::error::timeout) {
          co_return Error(
              http::status::gateway_timeout, version,
              backend->environment + "/" + backend->service + " did not answer in time");
        }
        co_return Error(http::status::bad_gateway, version,
                        backend->environment + "/" + backend->service + " (" +
                            backend->instance_id + ") failed: " + read_ec.message());
      }
      Response res = parser.release();
      if (!res.keep_alive()) upstream.Close();
      co_return res;
    }
    co_return Error(http::status::bad_gateway, version, "upstream connection lost");
  }

  runtime::Router& router_;
  int subscription_ = 0;
  ProxyOptions options_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::map<uint16_t, std::unique_ptr<tcp::acceptor>> acceptors_;
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

}  // namespace lockstep::server
