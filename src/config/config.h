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
//
//   [runtime]                    # the local target: runc containers on this host
//   enabled = true               # false: serve the registry only
//   proxy_address = "127.0.0.1"  # where the front proxy opens services' public ports
//   log_size = "1MiB"            # kept per instance and per invocation
#pragma once

#include <filesystem>
#include <string>

#include "base/status.h"
#include "registry/registry.h"

namespace lockstep::config {

struct RuntimeConfig {
  bool enabled = true;
  std::string proxy_address = "127.0.0.1";
  uint64_t log_bytes = 1 << 20;
};

struct ServerConfig {
  registry::RegistryOptions registry;
  int64_t upload_ttl_seconds = 86400;
  RuntimeConfig runtime;
};

// Errors name the file, line and column, and what was expected.
Result<ServerConfig> LoadConfig(const std::filesystem::path& path, bool must_exist);

}  // namespace lockstep::config
