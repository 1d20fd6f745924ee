#include "proxy/forward.h"

#include <sys/socket.h>

#include <array>
#include <iostream>

#include "os/netns.h"
#include "proxy/header_rules.h"
#include "proxy/wire.h"

namespace lockstep::proxy {

std::shared_ptr<const runtime::Backend> Forwarder::RouteOf(uint16_t port) const {
  std::shared_ptr<const runtime::RoutingTable> table = router_.Current();
  auto it = table->by_port.find(port);
  return it == table->by_port.end() ? nullptr : it->second;
}

Response Forwarder::Failure(const runtime::Backend& backend, const Conn& conn, unsigned version,
                            std::string_view what, const beast::error_code& ec) const {
  std::string service = backend.environment + "/" + backend.service;
  // The details (which instance, which OS error) are for the operator's log; the public
  // answer names only the service.
  std::cerr << "lockstep: proxy: " << service << " (instance " << backend.instance_id << ") "
            << (conn.timed_out ? "did not answer in time" : std::string(what) + ": " + ec.message())
            << "\n";
  if (conn.timed_out) {
    return ErrorResponse(http::status::gateway_timeout, version,
                         service + " did not answer in time");
  }
  return ErrorResponse(http::status::bad_gateway, version, service + " is not answering");
}

template <class Fields>
void Forwarder::PrepareForUpstream(Fields& f, const std::string& client_ip) {
  StripHopByHop(f);
  // The proxy answered the client's Expect itself; a backend's 100 Continue is not wanted.
  f.erase(http::field::expect);
  SetForwardingHeaders(f, client_ip);
}

Task<ReadHeader> Forwarder::ReadFinalHeader(Conn& conn, AnswerParser& answer, bool head) {
  bool got_some = false;
  for (int interim = 0; interim <= kMaxInterimAnswers; ++interim) {
    answer.emplace();
    answer->body_limit(boost::none);  // Beast would refuse past 8 MB
    if (head) answer->skip(true);
    auto [ec, n] =
        co_await http::async_read_header(conn.upstream, conn.upstream_buffer, *answer, kTuple);
    got_some = got_some || answer->got_some();
    if (ec) co_return ReadHeader{ec, got_some};
    unsigned status = answer->get().result_int();
    // 1xx answers (100 Continue, 103 Early Hints) come before the real one and carry no
    // body; the client gets only the final answer.
    if (status < 100 || status > 199) co_return ReadHeader{{}, true};
  }
  co_return ReadHeader{http::error::bad_status, true};
}

Task<beast::error_code> Forwarder::ConnectUpstream(const runtime::Backend& backend, Conn& conn) {
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

template <class Message>
Task<beast::error_code> Forwarder::Send(Socket& to, Conn& conn, const Message& message) {
  if (!RenderHead(message, conn.out)) co_return http::error::bad_value;
  std::array<asio::const_buffer, 2> both = {asio::buffer(conn.out), asio::buffer(message.body())};
  auto [ec, written] = co_await asio::async_write(to, both, kTuple);
  // A head with huge fields is not kept for the rest of a kept-alive connection's life.
  if (conn.out.capacity() > kKeptOutBytes) std::string().swap(conn.out);
  co_return ec;
}

Task<bool> Forwarder::Reply(Conn& conn, Response& res, bool keep_alive, bool head) {
  StripHopByHop(res);
  res.keep_alive(keep_alive);
  if (!head) res.prepare_payload();
  co_return !co_await Send(conn.client, conn, res);
}

Task<bool> Forwarder::Exchange(Request& req, uint16_t port, const std::string& client_ip,
                               Conn& conn, bool keep_alive) {
  unsigned version = req.version();
  bool head = req.method() == http::verb::head;
  std::shared_ptr<const runtime::Backend> backend = RouteOf(port);
  if (backend == nullptr) {
    Response none = ErrorResponse(http::status::service_unavailable, version,
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
    beast::error_code write_ec = co_await Send(conn.upstream, conn, req);
    if (write_ec == http::error::bad_value) {
      // Nothing was sent, and the backend is not to blame.
      Response refused = ErrorResponse(http::status::bad_request, version,
                                       "the request's header holds a line break or NUL");
      co_return co_await Reply(conn, refused, false, false);
    }
    AnswerParser answer;
    ReadHeader read{write_ec, false};
    if (!write_ec) read = co_await ReadFinalHeader(conn, answer, head);
    if (read.ec) {
      conn.CloseUpstream();
      // A kept-alive connection the backend closed before answering is normal; the request
      // goes again on a fresh one, if sending it twice cannot do anything twice.
      if (reused && !read.got_some && !conn.timed_out && IsIdempotent(req.method())) continue;
      Response failed = Failure(*backend, conn, version, "failed", read.ec);
      co_return co_await Reply(conn, failed, keep_alive, false);
    }
    co_return co_await PassAnswer(*answer, *backend, conn, version, keep_alive, head);
  }
  Response lost = ErrorResponse(http::status::bad_gateway, version, "upstream connection lost");
  co_return co_await Reply(conn, lost, keep_alive, false);
}

Task<bool> Forwarder::StreamExchange(http::request_parser<http::buffer_body>& parser, uint16_t port,
                                     const std::string& client_ip, Conn& conn, bool keep_alive) {
  auto& req = parser.get();
  unsigned version = req.version();
  std::shared_ptr<const runtime::Backend> backend = RouteOf(port);
  if (backend == nullptr) {
    Response none = ErrorResponse(http::status::service_unavailable, version,
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
  AnswerParser answer;
  ReadHeader read = co_await ReadFinalHeader(conn, answer, false);
  if (read.ec) {
    conn.CloseUpstream();
    Response failed = Failure(*backend, conn, version, "failed", read.ec);
    co_return co_await Reply(conn, failed, keep_alive, false);
  }
  co_return co_await PassAnswer(*answer, *backend, conn, version, keep_alive, false);
}

Task<bool> Forwarder::PassAnswer(http::response_parser<http::empty_body>& answer,
                                 const runtime::Backend& backend, Conn& conn, unsigned version,
                                 bool keep_alive, bool head) {
  boost::optional<uint64_t> length = answer.content_length();
  bool small = answer.is_done() || (length && *length <= kBufferedBody);
  if (small) {
    http::response_parser<http::string_body> parser(std::move(answer));
    if (!parser.is_done()) {
      auto [ec, r] = co_await http::async_read(conn.upstream, conn.upstream_buffer, parser, kTuple);
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

template <bool isRequest>
Task<beast::error_code> Forwarder::Relay(Socket& from, beast::flat_buffer& buffer,
                                         http::parser<isRequest, http::buffer_body>& parser,
                                         Socket& to, Conn& conn) {
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

}  // namespace lockstep::proxy
