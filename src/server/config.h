// Server configuration, read from a TOML file (by default <data>/config.toml; absent
// means defaults). Example:
//
//   [registry]
//   upload_ttl = "24h"           # abandoned upload sessions expire after this
//   max_upload_size = "64GiB"    # no single blob may exceed this
//
//   [[registry.mutable_tags]]    # tags are immutable unless a rule names them
//   repos = "dev/*"
//   tags = "latest"
#pragma once

#include <filesystem>

#include "base/status.h"
#include "oci/registry.h"

namespace lockstep::server {

struct ServerConfig {
  oci::RegistryOptions registry;
  int64_t upload_ttl_seconds = 86400;
};

// Errors name the file, line and column, and what was expected.
Result<ServerConfig> LoadConfig(const std::filesystem::path& path, bool must_exist);

}  // namespace lockstep::server
