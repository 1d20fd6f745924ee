#include "os/clock.h"

#include <ctime>
#include <thread>

namespace lockstep::os {

int64_t SystemClock::NowSeconds() const { return static_cast<int64_t>(std::time(nullptr)); }

void SystemClock::SleepFor(std::chrono::milliseconds d) const { std::this_thread::sleep_for(d); }

}  // namespace lockstep::os
