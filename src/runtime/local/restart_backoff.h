// The supervisor's schedules.
//
// How long a supervised service waits before it is started again after an exit: 0.2 s,
// doubling to at most 10 s; an instance that had been healthy for 30 s earns a fresh
// start at 0.2 s, so one crash after a long run costs little and a crash loop costs the
// host almost nothing.
#pragma once

#include <chrono>
#include <optional>

namespace lockstep::runtime::local {

inline constexpr std::chrono::milliseconds kFirstRestartBackoff{200};
inline constexpr std::chrono::milliseconds kMaxRestartBackoff{10'000};
inline constexpr std::chrono::seconds kHealthyRunResetsBackoff{30};

// The wait before the next start, given the last wait (0 before the first exit) and how
// long the instance had been healthy when it exited (nullopt if it never was).
std::chrono::milliseconds NextRestartBackoff(std::chrono::milliseconds previous,
                                             std::optional<std::chrono::nanoseconds> healthy_for);

// When an instance's next health check falls due after one: its interval; but while it
// is starting (it has not passed yet), sooner, in proportion to how long it has been
// starting: a tenth of that, 1 ms at least. A release ready in 40 ms is seen ready within
// 4 ms of it, one that takes 30 s within 3 s, and a slow starter is not checked in a
// tight loop (about 40 checks in its first 100 ms, half of them in its first 20, then
// fewer and fewer). So an apply waits on readiness, not on the interval.
inline constexpr std::chrono::milliseconds kFirstStartingCheck{1};
std::chrono::milliseconds NextCheckIn(std::chrono::milliseconds interval, bool starting,
                                      std::chrono::nanoseconds starting_for);

}  // namespace lockstep::runtime::local
