#include "runtime/local/health_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "os/file.h"
#include "os/netns.h"

namespace lockstep::runtime::local {

using Clock = std::chrono::steady_clock;

namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Waits for `events` on fd until `deadline`; false on timeout.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

Status ProbeHttp(uint16_t port, const std::string& path, std::chrono::milliseconds timeout,
                 const std::string& netns) {
  auto deadline = Clock::now() + timeout;
  os::UniqueFd fd;
  if (netns.empty()) {
    fd = os::UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return os::ErrnoStatus("socket", "");
  } else {
    LS_ASSIGN_OR_RETURN(fd, os::SocketIn(netns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK));
  }
  sockaddr_in addr = Loopback(port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    return Unavailable(std::string("connect: ") + std::strerror(errno));
  }
  if (!WaitFor(fd.get(), POLLOUT, deadline)) return Unavailable("connect timed out");
  int error = 0;
  socklen_t len = sizeof error;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  if (error != 0) return Unavailable(std::string("connect: ") + std::strerror(error));

  std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: lockstep-health\r\n\r\n";
  if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return Unavailable("could not send the health request");
  }
  std::string head;
  char buf[512];
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    if (!WaitFor(fd.get(), POLLIN, deadline)) return Unavailable("timed out");
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return Unavailable("connection closed before a status line");
    head.append(buf, static_cast<size_t>(n));
  }
  // "HTTP/1.x NNN reason"
  size_t space = head.find(' ');
  if (space == std::string::npos || head.size() < space + 4)
    return Unavailable("no HTTP status line");
  std::string status = head.substr(space + 1, 3);
  if (status[0] != '2') return Unavailable("status " + status);
  return Status::Ok();
}

Result<uint16_t> PickFreePort() {
  os::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return os::ErrnoStatus("socket", "");
  sockaddr_in addr = Loopback(0);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return os::ErrnoStatus("bind", "");
  }
  socklen_t len = sizeof addr;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace lockstep::runtime::local
