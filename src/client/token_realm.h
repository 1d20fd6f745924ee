// Which credentials a bearer-token endpoint (the `realm` of a registry's 401 challenge)
// may receive.
//
// The realm is whatever URL the registry names, so a hostile or compromised registry could
// name a host of its choosing and collect the password the client holds for the registry.
// Credentials therefore go to a realm only
//   - over https, or over plain http to a loopback host when the client runs --insecure
//     (a development server on this machine), and
//   - when the realm is on the registry's own host and port (loopback names of one port
//     count as one host), with the registry's credentials.
// Otherwise the token is asked for anonymously, which is what a registry that allows
// anonymous pulls expects anyway. A login the user holds for the realm's host is not used
// either: the token it would buy goes to the registry that named the realm, so a hostile
// registry could buy itself a token for another registry, of a scope it chose. Registries
// whose token service lives on another host (Docker Hub's auth.docker.io) are therefore
// reached anonymously.
//
// The same holds for every URL a registry names (an upload's Location, a Link to the next
// page): credentials and answers to challenges go only to the registry's own origin.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "client/credentials.h"

namespace lockstep::client {

// An absolute http or https URL's scheme and authority, normalised for comparison.
struct HttpOrigin {
  std::string scheme;     // "http" or "https"
  std::string host;       // lowercased; an IPv6 address in brackets
  uint16_t port = 0;      // the scheme's default when the URL names none
  bool loopback = false;  // 127.0.0.0/8, ::1 (also IPv4-mapped) or "localhost"; nothing resolved
  // HOST, or HOST:PORT when the port is not the scheme's default: how registries and
  // credential entries are named.
  std::string Authority() const;
};

// kInvalidArgument unless `url` is an absolute http(s) URL with a host and no user
// information.
Result<HttpOrigin> ParseHttpOrigin(std::string_view url);

// True when `url` has the scheme, host and port of `origin` (both absolute http(s) URLs).
bool SameOrigin(std::string_view url, std::string_view origin);

// Whether the registry HOST[:PORT] is on loopback (as HttpOrigin::loopback).
bool IsLoopbackRegistry(std::string_view registry);

// The credentials to send to `realm` for `registry` (reached over verified https, or over
// http without verification when `insecure`), or nullopt to ask anonymously. kFailedPrecondition
// when the realm is not an http(s) URL. `store` may be null (no credentials).
Result<std::optional<Credentials>> CredentialsForRealm(std::string_view realm,
                                                       std::string_view registry, bool insecure,
                                                       const CredentialStore* store);

}  // namespace lockstep::client
