// A real `lockstep serve` process for end-to-end tests, on a port the kernel picked and
// a fresh data directory; stopped (by its PID) when the object goes away.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace lockstep::testing {

// Path of the lockstep binary under test.
std::string LockstepBinary();

// Runs `lockstep ARGS...` with extra "NAME=VALUE" environment entries.
RunResult Lockstep(std::vector<std::string> args, const std::vector<std::string>& env = {});

// A fresh temporary directory, removed with the object.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct ServerOptions {
  bool dev = true;
  std::string config_toml;         // written to <data>/config.toml when not empty
  std::filesystem::path data_dir;  // empty: a fresh one, removed with the server
  std::vector<std::string> args;   // more arguments to `lockstep serve`
  std::vector<std::string> env;    // "NAME=VALUE" entries added to the server's environment
};

class LockstepServer {
 public:
  explicit LockstepServer(ServerOptions options = {});
  ~LockstepServer();

  uint16_t port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string& path) const { return "http://" + host() + path; }
  const std::filesystem::path& data_dir() const { return data_; }
  const std::filesystem::path& scratch() const { return scratch_.path(); }
  bool Running() { return process_->Running(); }
  // The server's process (`lockstep serve` execs lockstep-server, keeping the pid).
  pid_t pid() const { return process_->pid(); }
  // kill -9, as a crash or an OOM kill would.
  void Kill9();
  // Starts `lockstep serve` again on the same data directory (a new port).
  void Restart();
  // The environment entries of the next Restart.
  void SetEnvironment(std::vector<std::string> env) { options_.env = std::move(env); }
  std::string Logs() const { return process_->Stdout() + process_->Stderr(); }

  // Runs `lockstep ARGS... --data <data dir>` to completion.
  RunResult Cli(std::vector<std::string> args) const;
  // Creates a token holding `grants` ("ci:apps/*;viewer": each a --role) and returns its
  // text.
  std::string CreateToken(const std::string& grants, const std::string& name) const;

  // Number of blob files stored (committed content), for "nothing was stored" checks.
  size_t StoredBlobCount() const;

 private:
  void Start();

  ScratchDir scratch_;
  std::filesystem::path data_;
  ServerOptions options_;
  std::unique_ptr<Background> process_;
  int starts_ = 0;
  uint16_t port_ = 0;
};

}  // namespace lockstep::testing
