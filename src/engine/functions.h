// Running the functions of an environment's current releases: called (the API, the CLI)
// or on their schedule. Each run is recorded in the state store before it starts and
// completed when it ends, so history shows every run with its exit status and duration,
// and a scheduled minute runs once even across a restart. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "runtime/target.h"
#include "state/engine_state.h"

namespace lockstep::engine {

struct FunctionRun {
  state::InvocationRecord record;
  runtime::Invocation invocation;
};

class Functions {
 public:
  Functions(state::StateStore& store, runtime::Target& target);
  // Waits for the scheduled runs still going.
  ~Functions();

  // One run of `function` in `environment`'s current release with `event` on stdin.
  // kNotFound when the environment runs no such function, kFailedPrecondition for a
  // service. `actor` (who called) is recorded; whether they may is the caller's to decide.
  // A run that fails (exit code, timeout, memory) is still a run: it is returned.
  Result<FunctionRun> Call(const std::string& environment, const std::string& function,
                           const std::string& event, const std::string& actor);

  // Starts, each on a thread of its own, the run of every scheduled function whose
  // schedule matches the minute of `now` (Unix seconds) and that has not run in that
  // minute. Called every few seconds; returns how many runs it started. A function whose
  // previous scheduled run is still going skips the minute; an environment whose records
  // cannot be read is skipped, not the others.
  Result<int> RunDue(int64_t now);
  // Waits until the scheduled runs started so far have ended.
  void WaitIdle();

 private:
  struct Job {
    std::string environment;
    std::string function;
    std::thread thread;
    bool done = false;
  };
  // Whether a scheduled run of `function` is still going.
  bool Running(const std::string& environment, const std::string& function);
  // Runs the claimed `record` on a thread of its own; false (and the record completed as
  // failed) when no thread could be made.
  bool Spawn(state::InvocationRecord record, Release release);
  // Invokes the recorded (started) run and completes its record.
  Result<runtime::Invocation> Execute(state::InvocationRecord& record, const Release& release,
                                      const std::string& event);
  void ReapLocked();

  state::StateStore& store_;
  runtime::Target& target_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::list<Job> jobs_;  // scheduled runs
};

}  // namespace lockstep::engine
