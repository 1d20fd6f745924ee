#include "base/strings.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(Strings, ParseUintRejectsAnythingButDigits) {
  EXPECT_EQ(ParseUint("42"), 42u);
  EXPECT_FALSE(ParseUint(""));
  EXPECT_FALSE(ParseUint("-1"));
  EXPECT_FALSE(ParseUint(" 1"));
  EXPECT_FALSE(ParseUint("1x"));
  EXPECT_FALSE(ParseUint("99999999999999999999999"));
}

TEST(Strings, Base64RoundTrip) {
  bool ok = false;
  EXPECT_EQ(Base64Decode("dXNlcjpwYXNz", &ok), "user:pass");
  EXPECT_TRUE(ok);
  Base64Decode("not base64!", &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(Base64UrlEncode("\xff\xfe"), "__4");
}

TEST(Strings, Durations) {
  EXPECT_EQ(ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(ParseDurationSeconds("24h"), 86400);
  EXPECT_FALSE(ParseDurationSeconds("24"));
  EXPECT_FALSE(ParseDurationSeconds("h"));
}

TEST(Strings, SplitKeepsEmptyFields) {
  auto parts = Split("a,,b", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
}

}  // namespace
}  // namespace lockstep
