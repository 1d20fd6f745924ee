// A small HTTP client for end-to-end tests (libcurl underneath).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::testing {

struct HttpResponse {
  long status = 0;
  std::multimap<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string Header(const std::string& lowercase_name) const;
  std::string Describe() const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  bool send_body = false;  // send `body` even if empty (PUT/POST/PATCH)
  std::string basic_user;  // with basic_password: Basic auth
  std::string basic_password;
  long timeout_seconds = 120;  // the whole exchange
};

HttpResponse Send(const HttpRequest& request);

// Convenience wrappers.
HttpResponse Get(const std::string& url, std::vector<std::string> headers = {});
HttpResponse Head(const std::string& url, std::vector<std::string> headers = {});

// A TCP connection to 127.0.0.1:port (a descriptor the caller closes), or -1. A
// `receive_buffer` (bytes) keeps the receive window that small: a reader that stops.
int ConnectLoopback(uint16_t port, int receive_buffer = 0);
uint16_t LocalPort(int fd);
// The inode of the server's end of the connection from local port `client_port` to
// `server_port`, from /proc/net/tcp: 0 once the server has closed it (the kernel may keep
// an orphan sending what is queued), nullopt when there is no such connection.
std::optional<unsigned long> ServerEndInode(uint16_t server_port, uint16_t client_port);
// Waits up to `limit` for the server to close `fd` (a read sees EOF or a reset); what it
// sent before closing is added to `answer`.
bool ClosedByServerWithin(int fd, std::chrono::seconds limit, std::string* answer = nullptr);
// Whether process `pid` holds the socket `inode` open.
bool HoldsSocket(pid_t pid, unsigned long inode);

// Writes `raw` to a new TCP connection to 127.0.0.1:port, then closes it without reading
// (a client that vanishes mid-request). Returns false if it could not connect.
bool SendRawAndHangUp(uint16_t port, const std::string& raw);
// Writes `raw` and returns whatever the server answers before closing (up to 64 KiB).
std::string SendRaw(uint16_t port, const std::string& raw);

}  // namespace lockstep::testing
