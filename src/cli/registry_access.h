// Options and set-up shared by the commands that talk to registries (pack --push, push,
// pull, copy, inspect, tags).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "client/credentials.h"
#include "client/registry_client.h"
#include "core/image_ref.h"

namespace CLI {
class App;
}

namespace lockstep::cli {

struct RegistryFlags {
  bool insecure = false;
  std::string ca_file;
  std::string chunk_size;  // e.g. "16MiB"; empty: one PATCH per blob
  bool quiet = false;
};

// Adds --insecure, --ca-file, --chunk-size and --quiet to `sub`.
void AddRegistryFlags(CLI::App& sub, RegistryFlags& flags);

// A reference in the registry named by it, or by $LOCKSTEP_REGISTRY.
Result<ImageRef> ParseImageRef(const std::string& text);

// Holds what a registry client needs for as long as it is used.
class RegistryAccess {
 public:
  static Result<RegistryAccess> Create(const RegistryFlags& flags);
  client::RegistryClient& For(const std::string& registry);

 private:
  RegistryAccess() = default;
  RegistryFlags flags_;
  client::ClientOptions options_;
  std::shared_ptr<client::CredentialStore> credentials_;
  std::vector<std::unique_ptr<client::RegistryClient>> clients_;
};

}  // namespace lockstep::cli
