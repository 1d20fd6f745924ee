// Registry credentials, never from the command line (where `ps` would show them).
//
// LOCKSTEP_REGISTRY_USERNAME / LOCKSTEP_REGISTRY_PASSWORD are the credentials of the one
// registry LOCKSTEP_REGISTRY names (HOST[:PORT], as in image references) and of no other;
// with LOCKSTEP_REGISTRY unset they apply to no registry at all.
//
// Otherwise the `auths` of the files podman, skopeo and buildah read, in the order
// containers-auth.json(5) gives, the first file holding an entry for the registry winning:
//   1. $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json (`podman login`)
//   2. $XDG_CONFIG_HOME/containers/auth.json (~/.config/containers/auth.json)
//   3. $DOCKER_CONFIG/config.json, else ~/.docker/config.json (`docker login`)
//   4. ~/.dockercfg (Docker's legacy format: the entries without the `auths` wrapper)
// Entries are keyed by registry ("127.0.0.1:5000", "https://index.docker.io/v1/"). Entries
// for a namespace ("quay.io/team") are not used, since credentials are chosen per
// registry, and neither are entries that name a credential helper instead of an `auth`.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/status.h"

namespace lockstep::client {

struct Credentials {
  std::string username;
  std::string password;
};

class CredentialStore {
 public:
  // Reads the environment and the files above. A malformed file is an error that names
  // it; a missing one is not.
  static Result<CredentialStore> FromEnvironment();
  // Exactly these credentials, by registry (HOST[:PORT]).
  static CredentialStore Fixed(const std::map<std::string, Credentials>& by_registry);

  // The credentials of `registry` (HOST[:PORT]; a scheme or path is ignored), or nullopt.
  std::optional<Credentials> For(const std::string& registry) const;

 private:
  std::map<std::string, Credentials> per_registry_;  // normalised registry → credentials
};

}  // namespace lockstep::client
