// Runs `work` on a thread of its own every `interval` until destroyed: the server's
// housekeeping (expiring idle uploads), kept out of the HTTP transport.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace lockstep::app {

class Periodic {
 public:
  Periodic(std::chrono::milliseconds interval, std::function<void()> work)
      : thread_([this, interval, work = std::move(work)](std::stop_token stop) {
          std::unique_lock lock(mutex_);
          while (!wake_.wait_for(lock, stop, interval, [] { return false; })) {
            if (stop.stop_requested()) return;
            lock.unlock();
            work();
            lock.lock();
          }
        }) {}
  // Stops the thread; a run in progress finishes first.
  ~Periodic() {
    thread_.request_stop();
    thread_.join();
  }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started after the members it uses
};

}  // namespace lockstep::app
