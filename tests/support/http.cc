#include "tests/support/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace lockstep::testing {

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::multimap<std::string, std::string>*>(user);
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    headers->emplace(name, value);
  } else if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100 Continue or a redirect)
  }
  return size * n;
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpResponse::Describe() const {
  std::string out = "HTTP " + std::to_string(status) + "\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\n";
  return out + body.substr(0, 2000);
}

HttpResponse Send(const HttpRequest& request) {
  HttpResponse response;
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!request.body.empty() || request.send_body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  if (!request.basic_user.empty() || !request.basic_password.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.basic_user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.basic_password.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, request.timeout_seconds);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  } else {
    response.body = std::string("curl: ") + curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return response;
}

HttpResponse Get(const std::string& url, std::vector<std::string> headers) {
  return Send({.method = "GET", .url = url, .headers = std::move(headers)});
}

HttpResponse Head(const std::string& url, std::vector<std::string> headers) {
  return Send({.method = "HEAD", .url = url, .headers = std::move(headers)});
}

int ConnectLoopback(uint16_t port, int receive_buffer) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t LocalPort(int fd) {
  sockaddr_in me{};
  socklen_t len = sizeof me;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len);
  return ntohs(me.sin_port);
}

std::optional<unsigned long> ServerEndInode(uint16_t server_port, uint16_t client_port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the column names
  char local[64], remote[64];
  while (std::getline(tcp, line)) {
    unsigned long inode = 0;
    unsigned state = 0;
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    if (std::sscanf(line.c_str(), "%*d: %63s %63s %x %*s %*s %*s %*d %*d %lu", local, remote,
                    &state, &inode) != 4) {
      continue;
    }
    if (state == 0x06) continue;  // TIME_WAIT: no process holds it
    unsigned lport = 0, rport = 0;
    std::sscanf(std::strchr(local, ':') + 1, "%x", &lport);
    std::sscanf(std::strchr(remote, ':') + 1, "%x", &rport);
    if (lport == server_port && rport == client_port) return inode;
  }
  return std::nullopt;
}

bool ClosedByServerWithin(int fd, std::chrono::seconds limit, std::string* answer) {
  auto end = std::chrono::steady_clock::now() + limit;
  char sink[4096];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    end - std::chrono::steady_clock::now())
                                    .count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
    ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n <= 0) return true;  // EOF or reset
    if (answer != nullptr) answer->append(sink, static_cast<size_t>(n));
  }
  return false;
}

bool HoldsSocket(pid_t pid, unsigned long inode) {
  std::string want = "socket:[" + std::to_string(inode) + "]";
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(e.path(), link_ec).string() == want) return true;
  }
  return false;
}

bool SendRawAndHangUp(uint16_t port, const std::string& raw) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return false;
  (void)!::write(fd, raw.data(), raw.size());
  linger l{1, 0};  // reset, as a crashed client would
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
  return true;
}

std::string SendRaw(uint16_t port, const std::string& raw) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  (void)!::write(fd, raw.data(), raw.size());
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (out.size() < 65536) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace lockstep::testing
