// The OCI distribution API at /v2/ and its token endpoint at /auth/token.
//
// Life of a request: the path is split into repository, kind and reference (from the
// right, since repository names contain '/'); names are validated before anything else;
// the caller is identified (Basic or Bearer) and checked against the action the method
// implies; then one route group handles it. Failures become OCI error bodies.
#pragma once

#include "auth/auth.h"
#include "http/exchange.h"
#include "registry/registry.h"

namespace lockstep::api {

class RegistryApi {
 public:
  RegistryApi(registry::Registry* registry, auth::Authenticator* auth)
      : registry_(registry), auth_(auth) {}

  http::Task<void> Handle(http::Exchange& ex);

 private:
  http::Task<void> HandleToken(http::Exchange& ex,
                               const std::vector<std::pair<std::string, std::string>>& query);
  http::Task<void> HandleCatalog(http::Exchange& ex, const Identity& who);

  registry::Registry* registry_;
  auth::Authenticator* auth_;
};

}  // namespace lockstep::api
