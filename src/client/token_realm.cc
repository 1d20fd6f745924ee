#include "client/token_realm.h"

#include <boost/url/parse.hpp>
#include <cctype>

#include "base/strings.h"

namespace lockstep::client {

namespace urls = boost::urls;

std::string HttpOrigin::Authority() const {
  uint16_t standard = scheme == "https" ? 443 : 80;
  return port == standard ? host : host + ":" + std::to_string(port);
}

Result<HttpOrigin> ParseHttpOrigin(std::string_view url) {
  auto parsed = urls::parse_absolute_uri(url);
  if (!parsed) return InvalidArgument("'" + std::string(url) + "' is not an absolute URL");
  const urls::url_view& u = *parsed;
  HttpOrigin o;
  if (u.scheme_id() == urls::scheme::https) {
    o.scheme = "https";
    o.port = 443;
  } else if (u.scheme_id() == urls::scheme::http) {
    o.scheme = "http";
    o.port = 80;
  } else {
    return InvalidArgument("'" + std::string(url) + "' is not an http or https URL");
  }
  if (u.has_userinfo()) {
    return InvalidArgument("'" + std::string(url) + "' carries a user name or password");
  }
  switch (u.host_type()) {
    case urls::host_type::ipv4:
      o.host = u.host_ipv4_address().to_string();
      o.loopback = u.host_ipv4_address().is_loopback();
      break;
    case urls::host_type::ipv6: {
      urls::ipv6_address a = u.host_ipv6_address();
      o.host = "[" + a.to_string() + "]";
      o.loopback =
          a.is_loopback() || (a.is_v4_mapped() && StartsWith(a.to_string(), "::ffff:127."));
      break;
    }
    case urls::host_type::name:
      o.host = u.host();
      for (char& c : o.host) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
          return InvalidArgument("'" + std::string(url) + "' names no valid host");
        }
      }
      o.loopback = o.host == "localhost";
      break;
    default:
      break;
  }
  if (o.host.empty()) return InvalidArgument("'" + std::string(url) + "' names no host");
  if (u.has_port() && !u.port().empty()) {
    if (u.port_number() == 0) {
      return InvalidArgument("'" + std::string(url) + "' names no valid port");
    }
    o.port = u.port_number();
  }
  return o;
}

bool SameOrigin(std::string_view url, std::string_view origin) {
  Result<HttpOrigin> a = ParseHttpOrigin(url);
  Result<HttpOrigin> b = ParseHttpOrigin(origin);
  return a.ok() && b.ok() && a->scheme == b->scheme && a->host == b->host && a->port == b->port;
}

bool IsLoopbackRegistry(std::string_view registry) {
  Result<HttpOrigin> o = ParseHttpOrigin("http://" + std::string(registry) + "/");
  return o.ok() && o->loopback;
}

Result<std::optional<Credentials>> CredentialsForRealm(std::string_view realm,
                                                       std::string_view registry, bool insecure,
                                                       const CredentialStore* store) {
  Result<HttpOrigin> to = ParseHttpOrigin(realm);
  if (!to.ok()) {
    return FailedPrecondition(
        "registry " + std::string(registry) +
        " named a token endpoint that cannot be used: " + to.status().message());
  }
  if (store == nullptr) return std::optional<Credentials>();
  // --insecure also turns off certificate checks, so https is private only without it.
  bool private_channel = insecure ? to->loopback : to->scheme == "https";
  if (!private_channel) return std::optional<Credentials>();
  Result<HttpOrigin> own =
      ParseHttpOrigin((insecure ? "http://" : "https://") + std::string(registry) + "/");
  bool same_host = own.ok() && own->port == to->port &&
                   (own->host == to->host || (own->loopback && to->loopback));
  if (!same_host) return std::optional<Credentials>();
  return store->For(std::string(registry));
}

}  // namespace lockstep::client
