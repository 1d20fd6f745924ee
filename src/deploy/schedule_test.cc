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
