// Starting other programs (runc, mostly) without a shell. posix_spawn keeps the cost of a
// start near the exec itself, which matters when an invocation is one runc run.
//
// Thread-safe: every call works on its own descriptors and children. Descriptors the
// caller opened are not leaked into children except those handed over explicitly: every
// descriptor lockstep opens is O_CLOEXEC.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "os/file.h"

namespace lockstep::os {

// What a child gets as its standard streams: a descriptor the caller owns (dup'ed into
// place), or /dev/null when -1.
struct Stdio {
  int in = -1;
  int out = -1;
  int err = -1;
};

// A started child process. Wait() reaps it; a Child destroyed before Wait() is reaped then
// (never left a zombie).
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child& operator=(Child&& o) noexcept;
  ~Child();

  pid_t pid() const { return pid_; }
  // Blocks until the child exits; returns its wait status as a shell would report it:
  // the exit code, or 128 + signal for a child killed by a signal.
  Result<int> Wait();
  // Sends `signal` to the child if it is still running.
  void Signal(int signal) const;

 private:
  pid_t pid_ = -1;
};

// Where `name` would be run from: itself when it holds a '/', else the first executable
// regular file of that name in the absolute directories of PATH (empty and relative
// entries, which mean the working directory, are skipped; unset, root's usual search
// path), with symbolic links resolved; nullopt when there is none.
std::optional<std::string> FindInPath(const std::string& name);

// Starts argv[0] (a path, or a name looked up in PATH) with `stdio`. `env` replaces the
// environment when not empty.
Result<Child> Spawn(const std::vector<std::string>& argv, const Stdio& stdio,
                    const std::vector<std::string>& env = {});

struct Captured {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Runs argv to completion and returns what it printed (each stream up to 16 MiB).
Result<Captured> RunCapture(const std::vector<std::string>& argv);

// A close-on-exec pipe: [0] reads, [1] writes.
Result<std::pair<UniqueFd, UniqueFd>> MakePipe();

// What /proc/PID/stat says of a process: its state letter ('R', 'S', 'Z'...), its parent,
// its CPU time (utime + stime) and when it started, both in clock ticks (the start after
// boot: with the pid, what tells a process from a later one that reuses its pid).
struct ProcessStat {
  char state = 0;
  int parent = 0;
  uint64_t cpu_ticks = 0;
  uint64_t start_ticks = 0;
};
// nullopt when there is no such process (or its stat cannot be read).
std::optional<ProcessStat> ReadProcessStat(int pid);

// Raises this process's soft limit on open files to its hard limit (best effort).
void RaiseOpenFileLimit();

}  // namespace lockstep::os
