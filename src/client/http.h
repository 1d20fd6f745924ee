// A thin libcurl layer: one easy handle per HttpClient, reused so connections stay
// alive between requests. TLS is verified unless the client was made insecure (plain
// HTTP on loopback during development). Only http and https are spoken, for requests and
// redirects alike, and a redirect from https stays on https. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace lockstep::client {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // a small body...
  int body_fd = -1;                  // ...or a file range
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  bool send_body = false;
  // Streams the body of a 2xx response (with its status, so a caller that asked for a
  // range can tell 206 from 200); when unset the body is collected into
  // HttpResponse::body.
  std::function<Status(long status, std::string_view data)> on_data;
  // The most bytes of a 2xx body collected into HttpResponse::body; a longer one fails
  // the request (kOutOfRange) rather than arrive cut short. Error bodies are only read
  // for their message and are cut at 1 MiB.
  uint64_t max_body = uint64_t{1} << 20;
  // Reports bytes moved so far (up or down) and the expected total (0 if unknown).
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

struct HttpResponse {
  long status = 0;
  std::multimap<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string Header(const std::string& lowercase_name) const;
};

struct HttpOptions {
  bool verify_tls = true;
  std::string ca_file;  // extra trust anchors (PEM)
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // kUnavailable for transport failures (refused, reset, timeout, TLS); the sink's own
  // error if it refused data. kFailedPrecondition, which retrying cannot change, for an
  // untrusted certificate, a URL or redirect of another protocol, and an https URL whose
  // server answers plain HTTP (the message says so). Any HTTP status is a successful Do.
  Result<HttpResponse> Do(const HttpRequest& request);

 private:
  HttpOptions options_;
  void* curl_;  // CURL*
};

// Resolves a Location header against the URL it came from.
std::string ResolveUrl(const std::string& base, const std::string& location);

}  // namespace lockstep::client
