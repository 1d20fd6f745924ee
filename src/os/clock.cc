#include "os/clock.h"

#include <ctime>

namespace lockstep::os {

int64_t SystemClock::NowSeconds() const { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace lockstep::os
