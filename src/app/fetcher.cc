#include "app/fetcher.h"

namespace lockstep::app {

Fetcher::Fetcher(git::Mirror& mirror, std::chrono::milliseconds interval)
    : mirror_(mirror),
      thread_([this, interval](std::stop_token stop) { Run(std::move(stop), interval); }) {}

Fetcher::~Fetcher() {
  thread_.request_stop();
  thread_.join();
}

Status Fetcher::FetchNow(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  const uint64_t mine = ++asked_;
  changed_.notify_all();
  if (!changed_.wait_for(lock, thread_.get_stop_token(), wait, [&] { return answered_ >= mine; })) {
    return Unavailable("the deploy repository's remote has not answered a fetch in " +
                       std::to_string(wait.count() / 1000) +
                       " s; its fetch goes on in the background");
  }
  return last_;
}

void Fetcher::Run(std::stop_token stop, std::chrono::milliseconds interval) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    changed_.wait_for(lock, stop, interval, [&] { return asked_ > answered_; });
    if (stop.stop_requested()) return;
    const uint64_t serving = asked_;  // every request made before this fetch starts
    lock.unlock();
    Status fetched = mirror_.Fetch().status();
    lock.lock();
    last_ = std::move(fetched);
    answered_ = serving;
    changed_.notify_all();
  }
}

}  // namespace lockstep::app
