#include "tests/support/flaky_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/http.h"

namespace lockstep::testing {

FlakyProxy::FlakyProxy(uint16_t upstream, uint64_t cut_after)
    : upstream_(upstream), cut_after_(cut_after) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listener_, 64);
  socklen_t len = sizeof addr;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FlakyProxy::~FlakyProxy() {
  stop_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  ::close(listener_);
  acceptor_.join();
  for (auto& t : pumps_) t.join();
}

void FlakyProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    int upstream = ConnectLoopback(upstream_);
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    pumps_.emplace_back([this, client, upstream] { Pump(client, upstream); });
  }
}

void FlakyProxy::Pump(int client, int upstream) {
  uint64_t moved[2] = {0, 0};
  char buf[64 * 1024];
  while (!stop_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (::poll(fds, 2, 100) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        closed = true;
        break;
      }
      moved[i] += static_cast<uint64_t>(n);
      if (moved[i] > cut_after_ && cuts_ == 0) {
        ++cuts_;  // forward nothing more on this connection
        closed = true;
        break;
      }
      int to = i == 0 ? upstream : client;
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) break;
        off += w;
      }
      (i == 0 ? up_ : down_) += static_cast<uint64_t>(n);
    }
    if (closed) break;
  }
  ::close(client);
  ::close(upstream);
}

}  // namespace lockstep::testing
