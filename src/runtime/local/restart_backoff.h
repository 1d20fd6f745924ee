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

}  // namespace lockstep::runtime::local
