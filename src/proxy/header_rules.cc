#include "proxy/header_rules.h"

namespace lockstep::proxy {

namespace http = boost::beast::http;

void StripHopByHop(http::fields& f) {
  for (auto field :
       {http::field::connection, http::field::keep_alive, http::field::proxy_authenticate,
        http::field::proxy_authorization, http::field::te, http::field::trailer,
        http::field::transfer_encoding, http::field::upgrade}) {
    f.erase(field);
  }
  f.erase("Proxy-Connection");
}

std::string ForwardedFor(std::string_view existing, std::string_view client_ip) {
  if (existing.empty()) return std::string(client_ip);
  return std::string(existing) + ", " + std::string(client_ip);
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
