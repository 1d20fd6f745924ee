// The OCI distribution API at /v2/ and its token endpoint at /auth/token.
//
// Life of a request: the path is split into repository, kind and reference (from the
// right, since repository names contain '/'); names are validated before anything else;
// the caller is identified (Basic or Bearer) and checked against the action the method
// implies; then one route group handles it. Failures become OCI error bodies.
#pragma once

#include "oci/registry.h"
#include "server/auth.h"
#include "server/exchange.h"

namespace lockstep::server {

class RegistryApi {
 public:
  RegistryApi(oci::Registry* registry, Authenticator* auth) : registry_(registry), auth_(auth) {}

  // True if the path belongs to this API (/v2, /v2/..., /auth/token).
  static bool Owns(std::string_view path);
  Task<void> Handle(Exchange& ex);

 private:
  Task<void> HandleToken(Exchange& ex,
                         const std::vector<std::pair<std::string, std::string>>& query);
  Task<void> HandleCatalog(Exchange& ex, const Identity& who);

  oci::Registry* registry_;
  Authenticator* auth_;
};

}  // namespace lockstep::server
