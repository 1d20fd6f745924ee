#include "runtime/local/restart_backoff.h"

#include <algorithm>

namespace lockstep::runtime::local {

std::chrono::milliseconds NextRestartBackoff(std::chrono::milliseconds previous,
                                             std::optional<std::chrono::nanoseconds> healthy_for) {
  if (previous == std::chrono::milliseconds(0)) return kFirstRestartBackoff;
  if (healthy_for && *healthy_for > kHealthyRunResetsBackoff) return kFirstRestartBackoff;
  return std::min(previous * 2, kMaxRestartBackoff);
}

std::chrono::milliseconds NextCheckIn(std::chrono::milliseconds interval, bool starting,
                                      std::chrono::nanoseconds starting_for) {
  if (!starting) return interval;
  auto soon = std::chrono::duration_cast<std::chrono::milliseconds>(starting_for / 10);
  return std::min(interval, std::max(soon, kFirstStartingCheck));
}

}  // namespace lockstep::runtime::local
