#include "deploy/schedule.h"

#include <gtest/gtest.h>

namespace lockstep::deploy {
namespace {

TEST(Cron, FieldsRangesStepsAndLists) {
  Result<Cron> c = ParseCron("*/15 9-17 * 1,6-7 1-5");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->minutes.count(), 4u);
  EXPECT_TRUE(c->minutes[0] && c->minutes[15] && c->minutes[30] && c->minutes[45]);
  EXPECT_EQ(c->hours.count(), 9u);
  EXPECT_TRUE(c->hours[9] && c->hours[17] && !c->hours[18]);
  EXPECT_EQ(c->days.count(), 31u);
  EXPECT_FALSE(c->days[0]);
  EXPECT_TRUE(c->months[1] && c->months[6] && c->months[7] && !c->months[2]);
  EXPECT_EQ(c->weekdays.count(), 5u);
  EXPECT_FALSE(c->days_restricted);
  EXPECT_TRUE(c->weekdays_restricted);
}

TEST(Cron, SundayIsZeroAndSevenAndMacrosExpand) {
  Result<Cron> c = ParseCron("0 0 * * 7");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->weekdays[0]);
  EXPECT_EQ(c->weekdays.count(), 1u);
  Result<Cron> daily = ParseCron("@daily");
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(daily->minutes.count(), 1u);
  EXPECT_TRUE(daily->hours[0]);
  Result<Cron> from = ParseCron("5/20 * * * *");
  ASSERT_TRUE(from.ok());
  EXPECT_TRUE(from->minutes[5] && from->minutes[25] && from->minutes[45]);
  EXPECT_EQ(from->minutes.count(), 3u);
}

TEST(Cron, MatchesMinutesInUtcAndEitherDayFieldWhenBothAreSet) {
  // 2026-12-01 was a Tuesday; 1'796'083'200 is 2026-12-01 00:00:00 UTC.
  const int64_t midnight = 1'796'083'200;
  Cron quarter = ParseCron("*/15 * * * *").value();
  EXPECT_TRUE(CronMatches(quarter, midnight));
  EXPECT_TRUE(CronMatches(quarter, midnight + 15 * 60 + 59)) << "any second of the minute";
  EXPECT_FALSE(CronMatches(quarter, midnight + 16 * 60));
  Cron nightly = ParseCron("30 2 * * *").value();
  EXPECT_TRUE(CronMatches(nightly, midnight + 2 * 3600 + 30 * 60));
  EXPECT_FALSE(CronMatches(nightly, midnight + 3 * 3600 + 30 * 60));
  // The 15th, or any Tuesday: the 1st (a Tuesday) runs, the 2nd (a Wednesday) does not.
  Cron either = ParseCron("0 0 15 * 2").value();
  EXPECT_TRUE(CronMatches(either, midnight));
  EXPECT_FALSE(CronMatches(either, midnight + 86400));
  EXPECT_TRUE(CronMatches(either, midnight + 14 * 86400));
  Cron tuesdays = ParseCron("0 0 * * 2").value();
  EXPECT_TRUE(CronMatches(tuesdays, midnight));
  EXPECT_FALSE(CronMatches(tuesdays, midnight + 86400));
  Cron december = ParseCron("0 0 1 12 *").value();
  EXPECT_TRUE(CronMatches(december, midnight));
  EXPECT_FALSE(CronMatches(december, midnight - 86400 * 30));
}

TEST(Cron, WrongSchedulesNameTheFieldAndWhatItTakes) {
  Result<Cron> four = ParseCron("* * * *");
  ASSERT_FALSE(four.ok());
  EXPECT_NE(four.status().message().find("must have five fields"), std::string::npos);
  for (const char* bad :
       {"60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *",
        "5-1 * * * *", "a * * * *", "1,,2 * * * *", "* * * jan *", "-1 * * * *"}) {
    Result<Cron> c = ParseCron(bad);
    EXPECT_FALSE(c.ok()) << bad;
  }
  EXPECT_EQ(ParseCron("* 24 * * *").status().message(),
            "schedule: hour \"24\" must be *, a number from 0 to 23, a range a-b, a step */n or "
            "a-b/n, or a list of these separated by commas");
}

}  // namespace
}  // namespace lockstep::deploy
