// After a rollback the deploy repository is told: a commit on its branch makes each
// rolled-back `environments/ENV/SERVICE.toml` say what it said at the commit its release
// came from, value by value (deploy/rewrite.h: a person's comments and layout survive),
// pushed to the remote. The rollback is live whatever happens here: a push that fails
// is retried with backoff on a thread of its own (fetching first, so a branch that moved is
// built upon), and a file someone changed since the rollback is left for a person. What
// is owed is recorded with the rollback (state: write_backs), so a restart goes on with it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "git/mirror.h"
#include "os/clock.h"
#include "state/engine_state.h"

namespace lockstep::engine {

class WriteBacks {
 public:
  // `mirror` null: nothing is written (no deploy repository is configured).
  WriteBacks(state::StateStore& store, git::Mirror* mirror, const os::Clock& clock);
  // Stops the thread; an attempt in progress finishes first.
  ~WriteBacks();
  WriteBacks(const WriteBacks&) = delete;
  WriteBacks& operator=(const WriteBacks&) = delete;

  // Something may be owed now (a rollback committed): try at once.
  void Wake();
  // Tries every write-back that is due; returns how many were pushed (or found already
  // said). The thread calls it; tests may too.
  int RunDue();

 private:
  void Run(std::stop_token stop);
  // One try of `w`, its outcome stored in `w`.
  void Attempt(state::WriteBackRecord& w);

  state::StateStore& store_;
  git::Mirror* mirror_;
  const os::Clock& clock_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool woken_ = false;
  std::mutex attempt_;   // one pass at a time, the thread's or a test's
  std::jthread thread_;  // last: started after the members it uses
};

// Where the file of `service` in `environment` is in the deploy repository.
std::string ServiceFilePath(const std::string& environment, const std::string& service);

}  // namespace lockstep::engine
