// Forwarding one request from a client connection to the instance routed at its port
// (internal to proxy/: it pulls in Beast). Small requests are held whole and, when their
// method is idempotent, may be sent twice (a reused upstream connection can turn out
// closed before it answers); large and chunked ones stream through, both ways, in 64 KiB.
// Interim 1xx answers of a backend are skipped; the proxy's failure answers name only the
// service (instance and OS error go to the log).
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proxy/proxy.h"
#include "runtime/router.h"

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
inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable_t<Executor>{});

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Interim (1xx) answers skipped before a backend's final answer, at most.
inline constexpr int kMaxInterimAnswers = 8;

using AnswerParser = std::optional<http::response_parser<http::empty_body>>;
struct ReadHeader {
  beast::error_code ec;
  bool got_some = false;  // any byte of an answer arrived
};

// Bodies up to this size are held whole (and a request may be sent twice); larger or
// chunked ones are streamed through.
inline constexpr uint64_t kBufferedBody = 1 << 20;
// What a connection keeps of its head buffer between messages.
inline constexpr size_t kKeptOutBytes = 64 * 1024;

// One client connection and the upstream connection it reuses while the same instance
// is routed. `deadline` is when the sweeper gives up on whatever the connection waits for.
struct Conn {
  explicit Conn(Socket s) : client(std::move(s)), upstream(client.get_executor()) {}
  Socket client;
  Socket upstream;
  beast::flat_buffer client_buffer;
  beast::flat_buffer upstream_buffer;
  std::string out;                // the wire form of the message being sent (proxy/wire.h), reused
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

// Forwards requests of client connections to the instances the routing table names.
// Used on the connection's thread only; holds no state of its own across requests.
class Forwarder {
 public:
  Forwarder(runtime::Router& router, const ProxyOptions& options)
      : router_(router), options_(options) {}

  // Writes `res` to the client; false when the client connection is done for.
  Task<bool> Reply(Conn& conn, Response& res, bool keep_alive, bool head);

  // A request small enough to hold (and so to send again): sends it to the routed backend,
  // once more on a fresh connection if a reused one turns out closed before any answer,
  // then passes the answer on. False when the client connection must close.
  Task<bool> Exchange(Request& req, uint16_t port, const std::string& client_ip, Conn& conn,
                      bool keep_alive);

  // A request too large to hold (or chunked): streamed to a fresh upstream connection
  // while it arrives; it cannot be sent twice.
  Task<bool> StreamExchange(http::request_parser<http::buffer_body>& parser, uint16_t port,
                            const std::string& client_ip, Conn& conn, bool keep_alive);

 private:
  std::shared_ptr<const runtime::Backend> RouteOf(uint16_t port) const;

  // The proxy's own answer when the backend cannot give one.
  Response Failure(const runtime::Backend& backend, const Conn& conn, unsigned version,
                   std::string_view what, const beast::error_code& ec) const;

  template <class Fields>
  static void PrepareForUpstream(Fields& f, const std::string& client_ip);

  // Writes a message held whole to `to`: its head rendered into conn.out, then its body,
  // in one write (proxy/wire.h). bad_value, with nothing sent, for a head that cannot be.
  template <class Message>
  static Task<beast::error_code> Send(Socket& to, Conn& conn, const Message& message);

  Task<beast::error_code> ConnectUpstream(const runtime::Backend& backend, Conn& conn);

  // Reads the header of the backend's final answer into `answer` (made afresh for each
  // interim 1xx answer skipped).
  Task<ReadHeader> ReadFinalHeader(Conn& conn, AnswerParser& answer, bool head);

  // Passes the backend's answer, whose header `answer` has read, to the client: held
  // whole when small, streamed otherwise.
  Task<bool> PassAnswer(http::response_parser<http::empty_body>& answer,
                        const runtime::Backend& backend, Conn& conn, unsigned version,
                        bool keep_alive, bool head);

  // Moves the message whose header `parser` has read from `from` to `to` through a 64 KiB
  // buffer, header first (Beast's relay pattern): memory stays flat whatever the size.
  template <bool isRequest>
  Task<beast::error_code> Relay(Socket& from, beast::flat_buffer& buffer,
                                http::parser<isRequest, http::buffer_body>& parser, Socket& to,
                                Conn& conn);

  runtime::Router& router_;
  const ProxyOptions& options_;
};

}  // namespace lockstep::proxy
