// hello_http: a small keep-alive HTTP/1.1 server on 127.0.0.1:$PORT answering every GET
// with "hello from $VERSION". Static, single-threaded, poll-based: a backend fast enough
// that benchmarks of the proxy measure the proxy. $WORK_US makes each answer cost that many
// microseconds of CPU first, like a handler that does something.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t stopping = 0;
void Stop(int) { stopping = 1; }

}  // namespace

int main() {
  const char* port_text = std::getenv("PORT");
  const char* version = std::getenv("VERSION");
  if (port_text == nullptr) {
    std::fprintf(stderr, "hello_http: PORT is not set\n");
    return 2;
  }
  std::string body = std::string("hello from ") + (version ? version : "?") + "\n";
  std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
  const char* work_text = std::getenv("WORK_US");
  const auto work = std::chrono::microseconds(work_text ? std::atol(work_text) : 0);
  signal(SIGTERM, Stop);
  signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(port_text)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 1024) != 0) {
    std::perror("hello_http: listen");
    return 1;
  }
  std::printf("hello_http %s on %s\n", version ? version : "?", port_text);
  std::fflush(stdout);

  std::vector<pollfd> fds = {{listener, POLLIN, 0}};
  std::vector<std::string> pending(1);
  char buf[16384];
  while (!stopping) {
    if (poll(fds.data(), fds.size(), 500) < 0) continue;
    if (fds[0].revents & POLLIN) {
      int c = accept(listener, nullptr, nullptr);
      if (c >= 0) {
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fds.push_back({c, POLLIN, 0});
        pending.emplace_back();
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      bool closed = n <= 0;
      if (!closed) {
        pending[i].append(buf, static_cast<size_t>(n));
        // Answer every complete request head (bodies are not expected).
        size_t end;
        std::string out;
        while ((end = pending[i].find("\r\n\r\n")) != std::string::npos) {
          pending[i].erase(0, end + 4);
          auto until = std::chrono::steady_clock::now() + work;
          while (std::chrono::steady_clock::now() < until) {
          }
          out += response;
        }
        if (!out.empty() && write(fds[i].fd, out.data(), out.size()) < 0) closed = true;
      }
      if (closed) {
        close(fds[i].fd);
        fds[i] = fds.back();
        pending[i] = std::move(pending.back());
        fds.pop_back();
        pending.pop_back();
        --i;
      }
    }
  }
  return 0;
}
