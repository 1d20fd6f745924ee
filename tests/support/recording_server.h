// A scripted HTTP peer on loopback for tests that play a hostile registry, a token endpoint
// or anything else a client should (or should never) talk to: it records every connection
// and every request byte for byte, and answers each request with what its handler returns.
// Bound to port 0; one request per connection (answers carry "Connection: close"); served
// by one thread, so it suits one client at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lockstep::testing {

struct RecordedRequest {
  std::string raw;  // request line, headers and body as received
  std::string method;
  std::string target;
  // The first header of that name (case-insensitive), or empty.
  std::string Header(const std::string& name) const;
};

class RecordingServer {
 public:
  // Returns the whole answer; Answer() builds one.
  using Handler = std::function<std::string(const RecordedRequest&)>;
  explicit RecordingServer(Handler handler);
  ~RecordingServer();
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  uint16_t port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Every request received so far.
  std::vector<RecordedRequest> requests() const;
  // Connections accepted so far, whether or not a request came over them.
  int connections() const { return connections_; }

  // "HTTP/1.1 STATUS Reason", the headers ("Name: value"), Content-Length and
  // "Connection: close", then the body.
  static std::string Answer(int status, const std::vector<std::string>& headers = {},
                            const std::string& body = "");

 private:
  void Serve();
  void ServeConnection(int fd);

  Handler handler_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace lockstep::testing
