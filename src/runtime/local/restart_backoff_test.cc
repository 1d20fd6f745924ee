#include "runtime/local/restart_backoff.h"

#include <gtest/gtest.h>

namespace lockstep::runtime::local {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(HealthSchedule, AStartingInstanceIsCheckedSoonerTheYoungerItIs) {
  const milliseconds interval{1000};
  EXPECT_EQ(NextCheckIn(interval, true, milliseconds(0)), milliseconds(1));
  EXPECT_EQ(NextCheckIn(interval, true, milliseconds(5)), milliseconds(1));
  EXPECT_EQ(NextCheckIn(interval, true, milliseconds(30)), milliseconds(3));
  EXPECT_EQ(NextCheckIn(interval, true, milliseconds(400)), milliseconds(40));
  EXPECT_EQ(NextCheckIn(interval, true, seconds(30)), interval) << "never beyond the interval";
  EXPECT_EQ(NextCheckIn(interval, false, milliseconds(10)), interval) << "once it passed";
  EXPECT_EQ(NextCheckIn(milliseconds(2), true, milliseconds(100)), milliseconds(2))
      << "never later than the interval asks";
}

TEST(RestartBackoff, DoublesFromTheFirstWaitUpToTheCap) {
  milliseconds wait{0};
  std::vector<milliseconds> waits;
  for (int i = 0; i < 9; ++i) waits.push_back(wait = NextRestartBackoff(wait, std::nullopt));
  EXPECT_EQ(waits.front(), milliseconds(200));
  EXPECT_EQ(waits[1], milliseconds(400));
  EXPECT_EQ(waits[5], milliseconds(6400));
  EXPECT_EQ(waits[6], milliseconds(10'000));
  EXPECT_EQ(waits.back(), milliseconds(10'000));
}

TEST(RestartBackoff, ALongHealthyRunEarnsAFreshStart) {
  EXPECT_EQ(NextRestartBackoff(milliseconds(10'000), seconds(31)), milliseconds(200));
  EXPECT_EQ(NextRestartBackoff(milliseconds(800), seconds(5)), milliseconds(1600))
      << "a short healthy run does not";
}

}  // namespace
}  // namespace lockstep::runtime::local
