#include "proxy/header_rules.h"

#include <vector>

namespace lockstep::proxy {

namespace http = boost::beast::http;

namespace {

// The comma-separated tokens of a header value, trimmed.
std::vector<std::string> Tokens(std::string_view value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string_view token = value.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    size_t first = token.find_first_not_of(" \t");
    size_t last = token.find_last_not_of(" \t");
    if (first != std::string_view::npos) out.emplace_back(token.substr(first, last - first + 1));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

void StripHopByHop(http::fields& f) {
  std::vector<std::string> named;
  auto [first, last] = f.equal_range(http::field::connection);
  for (auto it = first; it != last; ++it) {
    for (std::string& token : Tokens(it->value())) named.push_back(std::move(token));
  }
  for (const std::string& name : named) f.erase(name);
  for (auto field :
       {http::field::connection, http::field::keep_alive, http::field::proxy_authenticate,
        http::field::proxy_authorization, http::field::te, http::field::trailer,
        http::field::transfer_encoding, http::field::upgrade}) {
    f.erase(field);
  }
  f.erase("Proxy-Connection");
}

void SetForwardingHeaders(http::fields& f, std::string_view client_ip) {
  std::string host(f[http::field::host]);
  for (std::string_view name :
       {"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP"}) {
    f.erase(name);
  }
  bool v6 = client_ip.find(':') != std::string_view::npos;
  std::string node = v6 ? "\"[" + std::string(client_ip) + "]\"" : std::string(client_ip);
  f.set("Forwarded", "for=" + node + ";proto=http");
  f.set("X-Forwarded-For", client_ip);
  f.set("X-Real-IP", client_ip);
  f.set("X-Forwarded-Proto", "http");
  if (!host.empty()) f.set("X-Forwarded-Host", host);
}

bool IsIdempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::options:
    case http::verb::trace:
      return true;
    default:
      return false;
  }
}

http::response<http::string_body> ErrorResponse(http::status status, unsigned version,
                                                std::string text) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::server, "lockstep-proxy");
  res.body() = std::move(text) + "\n";
  res.prepare_payload();
  return res;
}

}  // namespace lockstep::proxy
