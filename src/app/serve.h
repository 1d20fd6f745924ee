// `lockstep serve`: wires the registry, auth, the /v2/ API, the local target and its front
// proxy together, and runs until interrupted.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

#include "base/status.h"
#include "cli/cli.h"

namespace lockstep::app {

struct ServeOptions {
  std::string listen = "127.0.0.1:5000";
  std::filesystem::path data_dir;
  std::filesystem::path config_file;  // empty: <data_dir>/config.toml if present
  bool dev = false;
  bool dev_anywhere = false;       // --dev on an address other machines can reach
  int threads = 0;                 // 0: one per core
  std::string public_url;          // empty: [server] public_url, else http(s)://<listen address>
  std::filesystem::path tls_cert;  // both or neither: serve HTTPS (read again on SIGHUP)
  std::filesystem::path tls_key;
};

// Serves until SIGINT/SIGTERM. Prints where it listens (with the real port when 0 was
// asked for) and where its data lives to `out` before serving.
Status Serve(const ServeOptions& options, std::ostream& out);

// How the `serve` command runs: in this process, or by handing over (exec) to the
// lockstep-server binary beside this one, which links only what the server needs and so
// stays small.
enum class ServeMode { kInProcess, kExecServerBinary };

// Adds `serve` to the command line.
void AddServeCommand(CLI::App& app, cli::Globals& g, cli::ExitCode* exit, ServeMode mode);

}  // namespace lockstep::app
