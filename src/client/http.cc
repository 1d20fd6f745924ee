#include "client/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lockstep::client {

namespace {

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  uint64_t sent = 0;
  Status sink_failure;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // a new response (after a redirect or 100 Continue)
    long status = 0;
    size_t space = line.find(' ');
    if (space != std::string::npos) status = std::strtol(line.c_str() + space + 1, nullptr, 10);
    t->response->status = status;
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    size_t start = line.find_first_not_of(' ', colon + 1);
    std::string value = start == std::string::npos ? "" : line.substr(start);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    t->response->headers.emplace(std::move(name), std::move(value));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view bytes(data, size * n);
  bool success = t->response->status >= 200 && t->response->status < 300;
  if (t->request->on_data && success) {
    Status s = t->request->on_data(t->response->status, bytes);
    if (!s.ok()) {
      t->sink_failure = s;
      return 0;  // aborts the transfer
    }
  } else if (success) {
    if (t->response->body.size() + bytes.size() > t->request->max_body) {
      t->sink_failure = OutOfRange("the answer to " + t->request->method + " " + t->request->url +
                                   " is larger than the " + std::to_string(t->request->max_body) +
                                   " bytes it may have");
      return 0;
    }
    t->response->body.append(bytes);
  } else if (t->response->body.size() < (1 << 20)) {
    t->response->body.append(bytes);
  }
  return size * n;
}

size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const HttpRequest& r = *t->request;
  uint64_t left = (r.body_fd >= 0 ? r.body_length : r.body.size()) - t->sent;
  size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * n));
  if (want == 0) return 0;
  if (r.body_fd < 0) {
    std::copy_n(r.body.data() + t->sent, want, buffer);
    t->sent += want;
    return want;
  }
  ssize_t got;
  do {
    got = ::pread(r.body_fd, buffer, want, static_cast<off_t>(r.body_offset + t->sent));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return CURL_READFUNC_ABORT;
  t->sent += static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
               curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  if (ultotal > 0 || ulnow > 0) {
    t->request->on_progress(static_cast<uint64_t>(ulnow), static_cast<uint64_t>(ultotal));
  } else {
    t->request->on_progress(static_cast<uint64_t>(dlnow), static_cast<uint64_t>(dltotal));
  }
  return 0;
}

bool StartsWithHttps(const std::string& url) { return url.rfind("https://", 0) == 0; }

// Only http and https, for the request and every redirect; a redirect from https stays on
// https (a downgrade would let a network attacker answer in the registry's name).
void RestrictProtocols(CURL* curl, const std::string& url) {
  bool https = StartsWithHttps(url);
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0 has the string forms and deprecates the others
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS,
                   static_cast<long>(https ? CURLPROTO_HTTPS : CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// After a failed TLS handshake with `https_url`'s server: whether the same host and port
// answer a plain HTTP request (an HTTP status line), i.e. serve no TLS at all. The probe
// carries no header, credential or body of the failed request, only "GET /".
bool AnswersPlainHttp(CURL* curl, const std::string& https_url) {
  std::string origin = https_url.substr(std::strlen("https://"));
  origin = origin.substr(0, origin.find_first_of("/?#"));
  std::string probe = "http://" + origin + "/";
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, probe.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L);
  RestrictProtocols(curl, probe);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  long status = 0;
  if (curl_easy_perform(curl) != CURLE_OK) return false;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return status >= 100;
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)), curl_(curl_easy_init()) {}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Result<HttpResponse> HttpClient::Do(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Internal("libcurl could not be initialised");
  curl_easy_reset(curl);
  HttpResponse response;
  Transfer t{&request, &response};

  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 KiB/s for 60 s) fails instead of hanging.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);  // blob GETs may redirect to storage
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  RestrictProtocols(curl, request.url);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (request.send_body) {
    uint64_t length = request.body_fd >= 0 ? request.body_length : request.body.size();
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(length));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  }
  if (request.on_progress) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (!t.sink_failure.ok()) return t.sink_failure;
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    // Not transient: retrying cannot make an untrusted certificate trusted.
    return FailedPrecondition(request.method + " " + request.url + ": " + curl_easy_strerror(rc) +
                              " (trust the registry's CA with --ca-file)");
  }
  if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
    return FailedPrecondition(request.method + " " + request.url +
                              ": refused a URL or redirect that is not http or https");
  }
  if (rc == CURLE_SSL_CONNECT_ERROR && StartsWithHttps(request.url) &&
      AnswersPlainHttp(curl, request.url)) {
    // Not transient either: the server speaks no TLS on this port.
    return FailedPrecondition(request.method + " " + request.url +
                              ": the server answered plain HTTP; use --insecure for a loopback "
                              "development server");
  }
  if (rc != CURLE_OK) {
    return Unavailable(request.method + " " + request.url + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string ResolveUrl(const std::string& base, const std::string& location) {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
  size_t scheme_end = base.find("://");
  size_t host_end = base.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  std::string origin = host_end == std::string::npos ? base : base.substr(0, host_end);
  if (!location.empty() && location[0] == '/') return origin + location;
  return origin + "/" + location;
}

}  // namespace lockstep::client
