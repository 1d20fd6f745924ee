// The OCI distribution API at /v2/ and its token endpoint at /auth/token.
//
// Life of a request: the path is split into repository, kind and reference (from the
// right, since repository names contain '/'); names are validated before anything else;
// the caller is identified (Basic or Bearer) and checked against the action the route table
// (`Routes()`) names for the path and method; then one route group handles it. Failures become OCI
// error bodies.
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

#include <functional>
#include <span>
#include <string>

#include "auth/auth.h"
#include "http/blocking_pool.h"
#include "http/exchange.h"
#include "registry/registry.h"
#include "state/engine_state.h"

namespace lockstep::api {

// Writes one record of the audit log; called on a blocking pool.
using AuditSink = std::function<void(const state::AuditRecord&)>;

class RegistryApi {
 public:
  // `public_url` is SCHEME://HOST[:PORT] without a trailing slash, already validated
  // (config::ParsePublicUrl).
  // `audit` records each change of the registry's content (manifests put, manifests and
  // blobs deleted) with the token that made it; it runs on `commits`.
  RegistryApi(registry::Registry* registry, auth::Authenticator* auth, http::BlockingPool* commits,
              http::BlockingPool* lookups, std::string public_url, AuditSink audit = nullptr)
      : registry_(registry),
        auth_(auth),
        commits_(commits),
        lookups_(lookups),
        realm_(std::move(public_url) + "/auth/token"),
        audit_(std::move(audit)) {}

  http::Task<void> Handle(http::Exchange& ex);

  // A path form and method, and the action on NAME it needs. /v2/ and the catalog are about
  // no repository: any token may ask (the catalog lists what the token may pull).
  struct Route {
    std::string_view path;  // "/v2/NAME/manifests/REFERENCE"
    std::string_view method;
    Action action;
  };
  // Every path and method the registry answers, once.
  static std::span<const Route> Routes();

 private:
  http::Task<void> HandleToken(http::Exchange& ex,
                               const std::vector<std::pair<std::string, std::string>>& query);
  http::Task<void> HandleCatalog(http::Exchange& ex, const Identity& who);

  registry::Registry* registry_;
  auth::Authenticator* auth_;
  http::BlockingPool* commits_;
  http::BlockingPool* lookups_;
  std::string realm_;  // the bearer-token endpoint challenges name
  AuditSink audit_;
};

}  // namespace lockstep::api
