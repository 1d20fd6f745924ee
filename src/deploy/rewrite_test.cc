#include "deploy/rewrite.h"

#include <gtest/gtest.h>

namespace lockstep::deploy {
namespace {

// A pin file as people keep them: comments everywhere, aligned values, blank lines.
constexpr std::string_view kCurrent = R"(# prod runs what passed staging.
version = "2.1.0"   # bumped by CI
digest  = "sha256:2222"

# Checkout is slow at night.
[env]
LOG_LEVEL = "info"    # never debug in prod
NEW_FLAG  = "on"      # 2.1 needs it

[limits]
memory = "256Mi"
)";

constexpr std::string_view kWanted = R"(version = "2.0.0"
digest = "sha256:1111"
[env]
LOG_LEVEL = "info"
[limits]
memory = "192Mi"
)";

TEST(Rewrite, OnlyTheValuesThatDifferChangeAndEverythingElseStaysByteForByte) {
  Result<Rewritten> r = RewriteToSay(kCurrent, kWanted, "environments/prod/web.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->spliced);
  EXPECT_EQ(r->text, R"(# prod runs what passed staging.
version = "2.0.0"   # bumped by CI
digest  = "sha256:1111"

# Checkout is slow at night.
[env]
LOG_LEVEL = "info"    # never debug in prod

[limits]
memory = "192Mi"
)");
}

TEST(Rewrite, KeysTheWantedFileHasAreAddedToTheirTableOrAFreshOne) {
  Result<Rewritten> r =
      RewriteToSay("version = \"1\" # pin\n\n[env]\nA = \"a\"  # keep\n\n# the end\n",
                   "version = \"1\"\nextra = 3\n[env]\nA = \"a\"\nB = \"it's \\\"b\\\"\"\n"
                   "[limits]\nmemory = \"64Mi\"\n[service.health]\npath = \"/up\"\n",
                   "f.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->spliced) << r->text;
  EXPECT_EQ(r->text,
            "version = \"1\" # pin\nextra = 3\n\n[env]\nA = \"a\"  # keep\n"
            "B = \"it's \\\"b\\\"\"\n\n# the end\n\n[limits]\nmemory = \"64Mi\"\n\n"
            "[service.health]\npath = \"/up\"\n");
}

TEST(Rewrite, ValuesKeepTheirOwnSpellingAndSpanLinesAndUtf8) {
  Result<Rewritten> r =
      RewriteToSay("name = \"caf\xc3\xa9\" # \xc3\xa9t\xc3\xa9\nlist = [1,\n  2]\nt = { a = 1 }\n",
                   "name = 'th\xc3\xa9'\nlist = [\n  1, 2, 3,\n]\nt = { a = 2 }\n", "f.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->spliced);
  EXPECT_EQ(r->text,
            "name = 'th\xc3\xa9' # \xc3\xa9t\xc3\xa9\nlist = [\n  1, 2, 3,\n]\nt = { a = 2 }\n");
}

TEST(Rewrite, TheSameMeaningIsNoChangeAndWhatCannotBeSplicedIsWrittenWhole) {
  Result<Rewritten> same = RewriteToSay("a = 1 # one\n", "a   =   1\n", "f.toml");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->text, "a = 1 # one\n");

  Result<Rewritten> removed = RewriteToSay("t = 1\n[x]\na = 1\nb = 2 # two\n[y] \nc = 1\n",
                                           "t = 1\n[x]\na = 1\n[y]\n", "f.toml");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(removed->spliced) << "keys on lines of their own lose them";
  EXPECT_EQ(removed->text, "t = 1\n[x]\na = 1\n[y] \n");

  // A dotted key does not start its line: it cannot lose the line alone.
  Result<Rewritten> dotted = RewriteToSay("x.a = 1\nx.b = 2\n", "x.a = 1\n", "f.toml");
  ASSERT_TRUE(dotted.ok());
  EXPECT_FALSE(dotted->spliced);
  EXPECT_EQ(dotted->text, "x.a = 1\n");

  Result<Rewritten> tables =
      RewriteToSay("[[job]]\nname = \"a\"\n", "[[job]]\nname = \"b\"\n", "f.toml");
  ASSERT_TRUE(tables.ok());
  EXPECT_FALSE(tables->spliced);
  EXPECT_EQ(tables->text, "[[job]]\nname = \"b\"\n");

  Result<Rewritten> broken = RewriteToSay("a = [\n", "a = 1\n", "f.toml");
  ASSERT_TRUE(broken.ok());
  EXPECT_FALSE(broken->spliced);
  EXPECT_EQ(broken->text, "a = 1\n");

  EXPECT_EQ(RewriteToSay("a = 1\n", "a = \n", "environments/dev/web.toml").status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace lockstep::deploy

namespace lockstep::deploy {
namespace {

TEST(WithPin, OnlyTheVersionAndDigestMoveTheEnvironmentsOwnSettingsStay) {
  const std::string current =
      "# prod's web: bigger than dev's\n"
      "version = \"1.0.0\"   # set by promote\n"
      "digest = \"sha256:aaaa\"\n"
      "\n"
      "[limits]\n"
      "memory = \"512Mi\"  # prod only\n";
  Result<Rewritten> pinned = WithPin(current, "2.0.0", "sha256:bbbb", "environments/prod/web.toml");
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  EXPECT_TRUE(pinned->spliced);
  EXPECT_EQ(pinned->text,
            "# prod's web: bigger than dev's\n"
            "version = \"2.0.0\"   # set by promote\n"
            "digest = \"sha256:bbbb\"\n"
            "\n"
            "[limits]\n"
            "memory = \"512Mi\"  # prod only\n");
  Result<Rewritten> fresh = WithPin("", "2.0.0", "sha256:bbbb", "environments/prod/api.toml");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->text.find("version = "), std::string::npos) << fresh->text;
  EXPECT_NE(fresh->text.find("2.0.0"), std::string::npos) << fresh->text;
  EXPECT_NE(fresh->text.find("sha256:bbbb"), std::string::npos) << fresh->text;
  EXPECT_EQ(WithPin("version = ", "2", "d", "environments/prod/x.toml").status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace lockstep::deploy
