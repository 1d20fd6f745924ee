// The one retry policy of the registry client: a bounded number of attempts with
// exponential backoff, for answers that say "try again" (429, 5xx) and lost connections.
#pragma once

#include <chrono>
#include <functional>

#include "base/status.h"
#include "client/http.h"

namespace lockstep::client {

struct RetryPolicy {
  int max_attempts = 5;                    // including the first
  std::chrono::milliseconds first{200};    // the wait after the first failure
  std::chrono::milliseconds most{10'000};  // no wait is longer
};

// Whether an attempt that ended this way may succeed if tried again.
bool IsTransient(const Result<HttpResponse>& response);

// Counts the failed attempts of one operation and waits between them.
class Retries {
 public:
  using Sleep = std::function<void(std::chrono::milliseconds)>;
  // `sleep` defaults to sleeping this thread (tests pass a recorder).
  explicit Retries(const RetryPolicy& policy, Sleep sleep = {});

  // Records a failure. Returns false when the attempts are used up; otherwise waits the
  // next backoff (first, 2×first, 4×first... up to `most`) and returns true.
  bool Again();
  int failures() const { return failures_; }

 private:
  RetryPolicy policy_;
  Sleep sleep_;
  int failures_ = 0;
  std::chrono::milliseconds next_;
};

}  // namespace lockstep::client
