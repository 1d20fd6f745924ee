#include "client/retry.h"

#include <algorithm>
#include <thread>

namespace lockstep::client {

bool IsTransient(const Result<HttpResponse>& response) {
  if (!response.ok()) return response.status().code() == Code::kUnavailable;
  // Not what retrying cannot change: a full disk (507), a method or version the server
  // does not implement (501, 505).
  long s = response->status;
  return s == 429 || (s >= 500 && s != 501 && s != 505 && s != 507);
}

Retries::Retries(const RetryPolicy& policy, Sleep sleep)
    : policy_(policy), sleep_(std::move(sleep)), next_(policy.first) {
  if (!sleep_) sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

bool Retries::Again() {
  if (++failures_ >= policy_.max_attempts) return false;
  sleep_(next_);
  next_ = std::min(next_ * 2, policy_.most);
  return true;
}

}  // namespace lockstep::client
