// The OCI distribution API at /v2/ and its token endpoint at /auth/token.
//
// Life of a request: the path is split into repository, kind and reference (from the
// right, since repository names contain '/'); names are validated before anything else;
// the caller is identified (Basic or Bearer) and checked against the action the method
// implies; then one route group handles it. Failures become OCI error bodies.
//
// A caller without credentials is challenged to fetch a bearer token at
// `<public_url>/auth/token`. The realm comes from the configured public URL, never from the
// request's Host header: a client told to send its password wherever Host pointed could be
// steered by anyone who can set that header, and the header's bytes would go unescaped into
// WWW-Authenticate.
//
// Whatever may block runs on a blocking pool, never on the thread serving the
// connection: commits (which wait for the locks a GC can hold, and fsync) on one, token
// lookups on another, so commits waiting out a sweep never hold up who-is-calling.
#pragma once

#include <string>

#include "auth/auth.h"
#include "http/blocking_pool.h"
#include "http/exchange.h"
#include "registry/registry.h"

namespace lockstep::api {

class RegistryApi {
 public:
  // `public_url` is SCHEME://HOST[:PORT] without a trailing slash, already validated
  // (config::ParsePublicUrl).
  RegistryApi(registry::Registry* registry, auth::Authenticator* auth, http::BlockingPool* commits,
              http::BlockingPool* lookups, std::string public_url)
      : registry_(registry),
        auth_(auth),
        commits_(commits),
        lookups_(lookups),
        realm_(std::move(public_url) + "/auth/token") {}

  http::Task<void> Handle(http::Exchange& ex);

 private:
  http::Task<void> HandleToken(http::Exchange& ex,
                               const std::vector<std::pair<std::string, std::string>>& query);
  http::Task<void> HandleCatalog(http::Exchange& ex, const Identity& who);

  registry::Registry* registry_;
  auth::Authenticator* auth_;
  http::BlockingPool* commits_;
  http::BlockingPool* lookups_;
  std::string realm_;  // the bearer-token endpoint challenges name
};

}  // namespace lockstep::api
