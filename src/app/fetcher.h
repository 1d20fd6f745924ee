// Fetches the deploy repository on a thread of its own: on an interval, and when a plan, an
// apply or the webhook asks. One fetch runs at a time; a caller waits for one that began
// after it asked, up to a deadline, so a remote that hangs costs it that deadline and never
// holds a thread of the engine's pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <thread>

#include "base/status.h"
#include "git/mirror.h"

namespace lockstep::app {

class Fetcher {
 public:
  Fetcher(git::Mirror& mirror, std::chrono::milliseconds interval);
  // Waits for the fetch in progress (a hung remote included) to end.
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // The outcome of a fetch that starts after this call; kUnavailable when none ended
  // within `wait` (the fetch goes on, and its result is kept for the next caller).
  Status FetchNow(std::chrono::milliseconds wait);

 private:
  void Run(std::stop_token stop, std::chrono::milliseconds interval);

  git::Mirror& mirror_;
  std::mutex mutex_;
  std::condition_variable_any changed_;
  uint64_t asked_ = 0;     // the newest request's number
  uint64_t answered_ = 0;  // every request up to this one has its answer in last_
  Status last_ = Status::Ok();
  std::jthread thread_;  // last: started after the members it uses
};

}  // namespace lockstep::app
