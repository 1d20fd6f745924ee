// Running programs from tests: the built lockstep binary and real tools (skopeo, umoci).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lockstep::testing {

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal or on timeout
  std::string out;
  std::string err;
  std::string Describe() const;  // for assertion messages
  // Standard output without its trailing newlines (a printed digest, say).
  std::string OutLine() const;
};

// Runs argv to completion (killing it after `timeout`), capturing stdout and stderr.
// `stdin_data` is written to its standard input.
RunResult RunCommand(const std::vector<std::string>& argv,
                     std::chrono::seconds timeout = std::chrono::seconds(300),
                     const std::string& stdin_data = "",
                     const std::vector<std::string>& extra_env = {});

// A child process that runs in the background, with stdout and stderr sent to files.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::filesystem::path& log_dir);
  ~Background();  // SIGTERM, then SIGKILL after a grace period; only our own PID
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  std::string Stdout() const;
  std::string Stderr() const;
  bool Running();
  // Sends `signal` and waits for the exit.
  void Stop(int signal);

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_, err_;
  bool reaped_ = false;
};

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The flock(2) locks of process `pid`, from /proc/locks: held exclusively, and waited for
// ("-> FLOCK ..." lines).
struct FlockCounts {
  int held_exclusive = 0;
  int waiting = 0;
};
FlockCounts Flocks(pid_t pid);

// Whole file contents, or empty.
std::string Slurp(const std::filesystem::path& path);

}  // namespace lockstep::testing
