#include "tests/support/recording_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace lockstep::testing {

namespace {

// A client that sends no complete request (another protocol waiting for a greeting, say)
// is dropped after this long without a byte.
constexpr int kIdleMs = 2000;

}  // namespace

std::string RecordedRequest::Header(const std::string& name) const {
  size_t end = raw.find("\r\n\r\n");
  size_t pos = raw.find("\r\n");
  while (pos != std::string::npos && pos < end) {
    size_t next = raw.find("\r\n", pos + 2);
    std::string line = raw.substr(pos + 2, next - pos - 2);
    size_t colon = line.find(':');
    if (colon == name.size() && ::strncasecmp(line.c_str(), name.c_str(), colon) == 0) {
      size_t start = line.find_first_not_of(' ', colon + 1);
      return start == std::string::npos ? "" : line.substr(start);
    }
    pos = next;
  }
  return "";
}

RecordingServer::RecordingServer(Handler handler) : handler_(std::move(handler)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("RecordingServer: cannot listen on loopback");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

RecordingServer::~RecordingServer() {
  stop_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  thread_.join();
  ::close(listener_);
}

std::vector<RecordedRequest> RecordingServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::string RecordingServer::Answer(int status, const std::vector<std::string>& headers,
                                    const std::string& body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\n";
  for (const std::string& h : headers) out += h + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  return out + body;
}

void RecordingServer::Serve() {
  while (!stop_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    ServeConnection(fd);
    ::close(fd);
  }
}

void RecordingServer::ServeConnection(int fd) {
  RecordedRequest request;
  auto last_byte = std::chrono::steady_clock::now();
  size_t body_at = std::string::npos;
  size_t length = 0;
  char buf[16 * 1024];
  while (!stop_) {
    if (body_at != std::string::npos && request.raw.size() >= body_at + length) break;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready <= 0) {
      if (std::chrono::steady_clock::now() - last_byte > std::chrono::milliseconds(kIdleMs)) {
        break;
      }
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    last_byte = std::chrono::steady_clock::now();
    request.raw.append(buf, static_cast<size_t>(n));
    if (body_at == std::string::npos) {
      size_t end = request.raw.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      body_at = end + 4;
      std::string cl = request.Header("content-length");
      length = cl.empty() ? 0 : std::stoul(cl);
    }
  }
  bool complete = body_at != std::string::npos && request.raw.size() >= body_at + length;
  if (complete) {
    size_t sp1 = request.raw.find(' ');
    size_t sp2 = request.raw.find(' ', sp1 + 1);
    request.method = request.raw.substr(0, sp1);
    request.target = request.raw.substr(sp1 + 1, sp2 - sp1 - 1);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!request.raw.empty()) requests_.push_back(request);
  }
  if (!complete) return;
  std::string answer = handler_(request);
  size_t off = 0;
  while (off < answer.size()) {
    ssize_t w = ::send(fd, answer.data() + off, answer.size() - off, MSG_NOSIGNAL);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  ::shutdown(fd, SHUT_WR);
}

}  // namespace lockstep::testing
