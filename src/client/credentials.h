// Registry credentials, never from the command line (where `ps` would show them):
// LOCKSTEP_REGISTRY_USERNAME / LOCKSTEP_REGISTRY_PASSWORD apply to every registry;
// otherwise the `auths` of the Docker config ($DOCKER_CONFIG/config.json or
// ~/.docker/config.json), as `docker login` and `podman login` write it.
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
  // Reads the environment and the Docker config. A malformed config is an error that
  // names the file; a missing one is not.
  static Result<CredentialStore> FromEnvironment();
  static CredentialStore Fixed(Credentials c);

  std::optional<Credentials> For(const std::string& registry) const;

 private:
  std::optional<Credentials> everywhere_;
  std::map<std::string, Credentials> per_registry_;
};

}  // namespace lockstep::client
