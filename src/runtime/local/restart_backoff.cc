#include "runtime/local/restart_backoff.h"

#include <algorithm>

namespace lockstep::runtime::local {

std::chrono::milliseconds NextRestartBackoff(std::chrono::milliseconds previous,
                                             std::optional<std::chrono::nanoseconds> healthy_for) {
  if (previous == std::chrono::milliseconds(0)) return kFirstRestartBackoff;
  if (healthy_for && *healthy_for > kHealthyRunResetsBackoff) return kFirstRestartBackoff;
  return std::min(previous * 2, kMaxRestartBackoff);
}

}  // namespace lockstep::runtime::local
