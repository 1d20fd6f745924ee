// Schedules of functions, in cron's five-field syntax (minute hour day-of-month month
// day-of-week), as crontab(5) has it: "*", numbers, ranges "a-b", steps "*/n" and "a-b/n",
// lists with ",", and the macros @hourly, @daily, @weekly, @monthly and @yearly. Names of
// months and days are not taken: numbers only (day of week 0-7, 0 and 7 both Sunday).
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace lockstep::deploy {

struct Cron {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;     // 1-31
  std::bitset<13> months;   // 1-12
  std::bitset<7> weekdays;  // 0-6, Sunday 0
  // As cron does: when both day fields are restricted, a day matching either runs.
  bool days_restricted = false;
  bool weekdays_restricted = false;
};

// kInvalidArgument naming the field that is wrong and what it may hold.
Result<Cron> ParseCron(std::string_view text);

// Whether the schedule runs in the minute holding `unix_seconds`, read in UTC (schedules
// are UTC, whatever the server's time zone).
bool CronMatches(const Cron& cron, int64_t unix_seconds);

}  // namespace lockstep::deploy
