// A bounded HTTP load for cutover tests: threads each keep one HTTP/1.1 keep-alive
// connection per target port and send GETs in turn to every port, recording every
// response, connection error and the order of the bodies each thread saw.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lockstep::testing {

struct LoadResult {
  uint64_t ok = 0;  // 2xx
  uint64_t non_2xx = 0;
  uint64_t failed = 0;                     // connect, send or read errors
  std::map<std::string, uint64_t> bodies;  // 2xx bodies and how often each came back
  std::vector<std::string> errors;         // the first few failures, for the message
  // Set by the checker given to Start: requests it judged out of order.
  uint64_t out_of_order = 0;
};

class LoadLoop {
 public:
  // Called with (thread's history of "port:body" so far) after every response, under no
  // lock; returns false when the response breaks an ordering rule.
  using Checker = std::function<bool(const std::vector<std::string>& history)>;

  LoadLoop(std::vector<uint16_t> ports, int threads, Checker checker = nullptr);
  ~LoadLoop();
  // Stops the threads and returns what they saw.
  LoadResult Stop();
  uint64_t Requests() const { return requests_; }

 private:
  void Run(int index);

  std::vector<uint16_t> ports_;
  Checker checker_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0};
  std::mutex mutex_;
  LoadResult result_;
  std::vector<std::thread> threads_;
};

}  // namespace lockstep::testing
