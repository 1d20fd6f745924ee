// The one accept loop of lockstep's HTTP listeners (the server and the front proxy), for
// the transports' own files only: it pulls in Asio.
//
// Each listener runs one io_context per thread, each run by exactly one thread (no locking
// inside Asio, no wakeups across threads): the acceptor deals connections out round-robin
// and a connection stays on its thread for its whole life.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "base/status.h"

namespace lockstep::http {

// Opens `acceptor` on address:port (0: the kernel picks) with SO_REUSEADDR, and listens.
template <class Acceptor>
Status Listen(Acceptor& acceptor, const std::string& address, uint16_t port) {
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(address, ec);
  if (ec) return InvalidArgument("listen address '" + address + "' is not an IP address");
  boost::asio::ip::tcp::endpoint endpoint(ip, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + address + ":" + std::to_string(port) + ": " +
                       ec.message());
  }
  return Status::Ok();
}

// Accepts until the acceptor is closed, dealing connections round-robin to `homes` (one
// io_context per thread). Each accepted socket (TCP_NODELAY set) is handed to
// `serve(home, socket)`, which spawns its connection on that io_context. A failed accept
// is skipped: the connections already open keep being served. Out of descriptors or
// memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), the pending connection cannot be taken and
// the listener stays readable, so the loop pauses (50 ms, doubling to 1 s) instead of
// spinning, and says so once per episode.
template <class Acceptor, class Serve>
boost::asio::awaitable<void, typename Acceptor::executor_type> AcceptConnections(
    Acceptor& acceptor, std::vector<boost::asio::io_context*> homes, Serve serve) {
  using Executor = typename Acceptor::executor_type;
  constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable_t<Executor>{});
  size_t next = 0;
  auto pause = std::chrono::milliseconds(0);
  boost::asio::steady_timer timer(acceptor.get_executor());
  for (;;) {
    boost::asio::io_context& home = *homes[next];
    next = (next + 1) % homes.size();
    auto [ec, socket] = co_await acceptor.async_accept(home.get_executor(), kTuple);
    if (ec) {
      if (ec == boost::asio::error::operation_aborted) co_return;
      int e = ec.value();
      if (ec.category() == boost::system::system_category() &&
          (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)) {
        if (pause.count() == 0) {
          std::cerr << "lockstep: cannot accept connections: " << ec.message()
                    << "; pausing the listener until some close\n";
        }
        pause = std::min<std::chrono::milliseconds>(
            std::max<std::chrono::milliseconds>(pause * 2, std::chrono::milliseconds(50)),
            std::chrono::seconds(1));
        timer.expires_after(pause);
        auto [wait_ec] = co_await timer.async_wait(kTuple);
        if (wait_ec) co_return;
      }
      continue;
    }
    pause = std::chrono::milliseconds(0);
    socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    serve(home, std::move(socket));
  }
}

}  // namespace lockstep::http
