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
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_EQ(UrlEncode("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
}

TEST(Strings, Rfc3339) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1700000000), "2023-11-14T22:13:20Z");
}

TEST(Strings, ByteSizes) {
  EXPECT_EQ(ParseByteSize("16MiB"), uint64_t{16} << 20);
  EXPECT_EQ(ParseByteSize("100"), 100u);
  EXPECT_FALSE(ParseByteSize("lots"));
  EXPECT_FALSE(ParseByteSize("MiB"));
  // Sizes past 2^64 are refused, not wrapped to a small one.
  EXPECT_FALSE(ParseByteSize("18446744073GiB"));
  EXPECT_FALSE(ParseByteSize("17179869184GiB"));
  EXPECT_EQ(ParseByteSize("17179869183GiB"), uint64_t{17179869183} << 30);
  EXPECT_FALSE(ParseByteSize("18446744073709551616"));
}

TEST(Strings, Durations) {
  EXPECT_EQ(ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(ParseDurationSeconds("24h"), 86400);
  EXPECT_FALSE(ParseDurationSeconds("24"));
  EXPECT_FALSE(ParseDurationSeconds("h"));
  EXPECT_EQ(ParseDurationMillis("250ms"), 250);
  EXPECT_EQ(ParseDurationMillis("2s"), 2000);
  // Durations whose milliseconds would pass 2^63 are refused, not wrapped negative.
  EXPECT_FALSE(ParseDurationMillis("1099511627776d"));
  EXPECT_FALSE(ParseDurationSeconds("1099511627777d"));
  EXPECT_GT(ParseDurationMillis("1000000d").value_or(-1), 0);
  EXPECT_FALSE(ParseDurationMillis("ms"));
  EXPECT_FALSE(ParseDurationMillis("2x"));
}

TEST(Strings, NewAfterOverlapFindsWhatALogAddedWhenItsFrontWasTrimmed) {
  EXPECT_EQ(NewAfterOverlap("", "a\nb\n"), "a\nb\n");
  EXPECT_EQ(NewAfterOverlap("a\nb\n", "a\nb\nc\n"), "c\n") << "nothing trimmed";
  EXPECT_EQ(NewAfterOverlap("a\nb\n", "a\nb\n"), "") << "nothing new";
  EXPECT_EQ(NewAfterOverlap("1\n2\n3\n", "2\n3\n4\n"), "4\n") << "the front trimmed";
  // A line repeated after the overlap is new, however often it was seen before.
  EXPECT_EQ(NewAfterOverlap("ok\nok\n", "ok\nok\nok\nok\n"), "ok\nok\n");
  EXPECT_EQ(NewAfterOverlap("x\nok\nok\n", "ok\nok\nok\n"), "ok\n");
  EXPECT_EQ(NewAfterOverlap("aaaa", "aab"), "b");
  EXPECT_EQ(NewAfterOverlap("old\n", "new\n"), "new\n") << "more was written than a read holds";
}

TEST(Strings, SplitKeepsEmptyFields) {
  auto parts = Split("a,,b", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
}

}  // namespace
}  // namespace lockstep
