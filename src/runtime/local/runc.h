// runc, driven through its command line with a state directory of lockstep's own
// (`runc --root`), so lockstep sees and touches only containers it created.
// Thread-safe (each call is its own runc process).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "os/process.h"
#include "runtime/local/runc_version.h"

namespace lockstep::runtime::local {

struct ContainerState {
  std::string id;
  int pid = 0;
  std::string status;  // "created", "running", "paused", "stopped"
  std::filesystem::path bundle;
  int64_t created_unix = 0;
  std::map<std::string, std::string> annotations;
};

// What runc itself said went wrong, from its JSON log (`--log-format json`): the messages
// of its error and fatal entries, without runc's "runc run failed: " lead-in, joined by
// "; ". Lines that are not runc log entries (runc's plain copy of the same message) are
// left out when there are entries; with none, the text itself, trimmed.
std::string RuncErrors(std::string_view log);

class Runc {
 public:
  explicit Runc(std::filesystem::path state_dir, std::string binary = "runc");

  const std::filesystem::path& state_dir() const { return state_dir_; }

  // `runc --version`, parsed; kUnavailable when runc cannot be run.
  Result<RuncVersion> Version() const;

  // `runc run --keep` in the foreground: the container's stdio is `stdio`; the child's exit
  // status is the container's. The stopped container (and its cgroup) stays until Delete.
  // runc's own messages go to a log in the bundle, not into the container's stderr: read
  // them with StartError().
  Result<os::Child> Run(const std::string& id, const std::filesystem::path& bundle,
                        const os::Stdio& stdio) const;
  // Why runc could not start the container of `bundle` (empty when it said nothing).
  static std::string StartError(const std::filesystem::path& bundle);
  // `runc run --detach`: returns the container's pid once it runs; its stdout and stderr
  // go to `log_fd` and it keeps running when lockstep exits. A failure says what runc said.
  Result<int> RunDetached(const std::string& id, const std::filesystem::path& bundle,
                          int log_fd) const;
  // kNotFound when runc does not know the id.
  Result<ContainerState> State(const std::string& id) const;
  // Every container under the state directory, from runc's state files (the status as
  // `runc list` decides it), or from `runc list` when they are not in the layout of runc 1.1.
  Result<std::vector<ContainerState>> List() const;
  // The two ways List() takes, apart (runc_test checks they agree).
  std::optional<std::vector<ContainerState>> ReadStates() const;
  Result<std::vector<ContainerState>> ListByRunc() const;
  Status Kill(const std::string& id, std::string_view signal) const;
  // Removes a stopped container (with `force`, a running one after SIGKILL).
  Status Delete(const std::string& id, bool force) const;

 private:
  std::vector<std::string> Args(std::initializer_list<std::string> rest,
                                const std::filesystem::path& log = {}) const;
  Status Check(const os::Captured& run, const std::string& what) const;

  std::filesystem::path state_dir_;
  std::string binary_;
};

}  // namespace lockstep::runtime::local
