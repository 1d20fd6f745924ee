// `lockstep serve`: wires the registry, the token store and the HTTP transport together
// and runs until interrupted.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>

#include "base/status.h"

namespace lockstep::server {

struct ServeOptions {
  std::string listen = "127.0.0.1:5000";
  std::filesystem::path data_dir;
  std::filesystem::path config_file;  // empty: <data_dir>/config.toml if present
  bool dev = false;
  int threads = 0;  // 0: one per core
};

// Serves until SIGINT/SIGTERM. Prints where it listens (with the real port when 0 was
// asked for) and where its data lives to `out` before serving.
Status Serve(const ServeOptions& options, std::ostream& out);

}  // namespace lockstep::server
