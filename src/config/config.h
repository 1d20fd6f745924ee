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
//
//   [deploy]                     # the deploy repository the engine applies
//   repo = "/srv/deploy.git"     # a path, file://, ssh://user@host/path or https:// URL
//   branch = "main"
//   fetch_interval = "60s"       # also fetched on POST /api/v1/hooks/git
//   webhook_secret = "…"         # the webhook's shared secret (X-Lockstep-Secret)
//   ssh_key = "/root/.ssh/deploy_ed25519"   # for ssh:// (ed25519 or ECDSA)
//   known_hosts = "/root/.ssh/known_hosts"  # the pinned host keys for ssh://
//   https_token_file = "/etc/lockstep/git-token"  # for https://
//   health_timeout = "120s"      # new instances of an apply are healthy within this
//   max_plan_age = "24h"         # an older saved plan is not applied
//   approval_max_age = "24h"     # an older approval of a plan no longer counts
//
//   [server]
//   public_url = "https://registry.example"  # where clients reach this server (behind a
//                                            # TLS-terminating proxy, say); it names the
//                                            # bearer-token endpoint in 401 challenges.
//                                            # Default: http://<listen address>
//   max_connections = 1024       # more are closed at once (and logged)
//   idle_timeout = "60s"         # a kept-alive connection waits this long for a request
//   header_timeout = "10s"       # a request header must arrive whole within this
//   send_timeout = "120s"        # grace for a response to go out
//   body_min_rate = "4KiB"       # per second: a slower body is cut off (after the
//                                # header_timeout as grace), and so is a reader slower
//                                # than this (after the send_timeout)
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

struct DeployConfig {
  std::string repo;  // empty: no deploy repository (the engine has nothing to plan)
  std::string branch = "main";
  int64_t fetch_interval_seconds = 60;
  std::string webhook_secret;
  std::string ssh_key;
  std::string known_hosts;
  std::string https_token_file;
  int64_t health_timeout_ms = 120'000;
  int64_t max_plan_age_seconds = 86400;
  int64_t approval_max_age_seconds = 86400;
};

struct ServerConfig {
  DeployConfig deploy;
  registry::RegistryOptions registry;
  int64_t upload_ttl_seconds = 86400;
  RuntimeConfig runtime;
  std::string public_url;  // as ParsePublicUrl returns it; empty: from the listen address
  // The HTTP server's limits on connections before they authenticate (http::ConnectionLimits).
  int max_connections = 1024;
  int64_t idle_timeout_ms = 60'000;
  int64_t header_timeout_ms = 10'000;
  int64_t send_timeout_ms = 120'000;
  uint64_t body_min_rate = 4096;
};

// Errors name the file, line and column, and what was expected.
Result<ServerConfig> LoadConfig(const std::filesystem::path& path, bool must_exist);

// The URL clients reach the server at, as SCHEME://HOST[:PORT] without a trailing slash,
// so that "/auth/token" can follow. kInvalidArgument, naming `key` (a config key or a
// flag), unless `url` is http or https with a host and no user information, path other
// than "/", query or fragment.
Result<std::string> ParsePublicUrl(std::string_view url, std::string_view key);

}  // namespace lockstep::config
