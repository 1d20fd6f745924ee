// Time as a dependency: code that needs "now", a deadline or a pause takes a Clock, so
// tests can move time instead of waiting for it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace lockstep::os {

class Clock {
 public:
  using Instant = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Seconds since the Unix epoch (wall time: for records and expiry).
  virtual int64_t NowSeconds() const = 0;
  // Monotonic time: for deadlines, intervals and backoff.
  virtual Instant Now() const = 0;
  // Pauses the calling thread for `d` (a fake clock moves instead).
  virtual void SleepFor(std::chrono::milliseconds d) const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowSeconds() const override;
  Instant Now() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(std::chrono::milliseconds d) const override;
};

// A clock that only moves when told to, or when someone sleeps on it: SleepFor advances
// it and returns at once, so a wait with a deadline ends without waiting. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_seconds = 1'000'000) : nanos_(start_seconds * 1'000'000'000) {}
  int64_t NowSeconds() const override { return nanos_.load() / 1'000'000'000; }
  Instant Now() const override { return Instant(std::chrono::nanoseconds(nanos_.load())); }
  void SleepFor(std::chrono::milliseconds d) const override { Advance(d); }
  void Advance(int64_t seconds) const { nanos_ += seconds * 1'000'000'000; }
  void Advance(std::chrono::nanoseconds d) const { nanos_ += d.count(); }

 private:
  mutable std::atomic<int64_t> nanos_;
};

}  // namespace lockstep::os
