#include "tests/support/load_loop.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "tests/support/http.h"

namespace lockstep::testing {

namespace {

struct Reply {
  int status = 0;
  std::string body;
  bool close = false;
};

// One request on a keep-alive connection; nullopt when the connection failed.
std::optional<Reply> Exchange(int fd, std::string& carry, std::string* error) {
  static const std::string kRequest =
      "GET / HTTP/1.1\r\nHost: load\r\nUser-Agent: loadloop\r\n\r\n";
  if (send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(kRequest.size())) {
    *error = std::string("send: ") + std::strerror(errno);
    return std::nullopt;
  }
  char buf[4096];
  size_t header_end;
  while ((header_end = carry.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *error = n == 0 ? "connection closed before a response"
                      : std::string("recv: ") + std::strerror(errno);
      return std::nullopt;
    }
    carry.append(buf, static_cast<size_t>(n));
  }
  std::string head = carry.substr(0, header_end);
  Reply reply;
  reply.status = std::atoi(head.substr(head.find(' ') + 1, 3).c_str());
  size_t length = 0;
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (size_t at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
    length = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
  }
  reply.close = lower.find("\r\nconnection: close") != std::string::npos;
  carry.erase(0, header_end + 4);
  while (carry.size() < length) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *error = "connection closed inside a body";
      return std::nullopt;
    }
    carry.append(buf, static_cast<size_t>(n));
  }
  reply.body = carry.substr(0, length);
  carry.erase(0, length);
  return reply;
}

}  // namespace

LoadLoop::LoadLoop(std::vector<uint16_t> ports, int threads, Checker checker)
    : ports_(std::move(ports)), checker_(std::move(checker)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

LoadLoop::~LoadLoop() { Stop(); }

LoadResult LoadLoop::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  std::lock_guard lock(mutex_);
  return result_;
}

void LoadLoop::Run(int) {
  std::vector<int> fds(ports_.size(), -1);
  std::vector<std::string> carry(ports_.size());
  std::vector<std::string> history;
  LoadResult mine;
  while (!stop_) {
    for (size_t p = 0; p < ports_.size() && !stop_; ++p) {
      if (fds[p] < 0) {
        fds[p] = ConnectLoopback(ports_[p]);
        carry[p].clear();
        timeval limit{10, 0};  // a hung proxy fails the request instead of the test
        if (fds[p] >= 0) setsockopt(fds[p], SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      }
      std::string error;
      std::optional<Reply> reply = fds[p] < 0 ? std::nullopt : Exchange(fds[p], carry[p], &error);
      ++requests_;
      if (!reply) {
        ++mine.failed;
        if (mine.errors.size() < 5) mine.errors.push_back(fds[p] < 0 ? "connect failed" : error);
        if (fds[p] >= 0) close(fds[p]);
        fds[p] = -1;
        continue;
      }
      if (reply->status / 100 != 2) {
        ++mine.non_2xx;
        if (mine.errors.size() < 5) {
          mine.errors.push_back("status " + std::to_string(reply->status) + ": " + reply->body);
        }
      } else {
        ++mine.ok;
        ++mine.bodies[reply->body];
        history.push_back(std::to_string(ports_[p]) + ":" + reply->body);
        if (checker_ && !checker_(history)) ++mine.out_of_order;
      }
      if (reply->close) {
        close(fds[p]);
        fds[p] = -1;
      }
    }
  }
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  std::lock_guard lock(mutex_);
  result_.ok += mine.ok;
  result_.non_2xx += mine.non_2xx;
  result_.failed += mine.failed;
  result_.out_of_order += mine.out_of_order;
  for (const auto& [body, n] : mine.bodies) result_.bodies[body] += n;
  for (std::string& e : mine.errors) {
    if (result_.errors.size() < 10) result_.errors.push_back(std::move(e));
  }
}

}  // namespace lockstep::testing
