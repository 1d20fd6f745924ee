#include "core/access.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("*", "api"));
  EXPECT_TRUE(GlobMatch("dev/*", "dev/api"));
  EXPECT_FALSE(GlobMatch("dev/*", "prod/api"));
  EXPECT_TRUE(GlobMatch("v?.*", "v1.2"));
  EXPECT_FALSE(GlobMatch("latest", "latest2"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXXbYY"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(GlobMatch, OneStarStaysInOneSegmentTwoCrossThem) {
  EXPECT_FALSE(GlobMatch("*", "a/b/c"));
  EXPECT_FALSE(GlobMatch("apps/*", "apps/a/b"));
  EXPECT_FALSE(GlobMatch("apps/*", "apps"));
  EXPECT_TRUE(GlobMatch("apps/*/web", "apps/team/web"));
  EXPECT_FALSE(GlobMatch("apps/*/web", "apps/team/x/web"));
  EXPECT_FALSE(GlobMatch("a?b", "a/b"));
  EXPECT_TRUE(GlobMatch("**", "a/b/c"));
  EXPECT_TRUE(GlobMatch("apps/**", "apps/a"));
  EXPECT_TRUE(GlobMatch("apps/**", "apps/a/b/c"));
  EXPECT_FALSE(GlobMatch("apps/**", "other/a"));
  EXPECT_TRUE(GlobMatch("apps/**/web", "apps/a/b/web"));
  EXPECT_TRUE(GlobMatch("***", "a/b"));
  EXPECT_TRUE(GlobMatch("a*/**", "ab/c/d"));
}

TEST(GlobMatch, LongInputsStayCheap) {
  // A backtracking matcher takes exponential time on this; the table is quadratic.
  std::string text(2000, 'a');
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(GlobMatch("**a**a**a**", text));
}

TEST(Identity, PullRoleReadsOnlyItsRepositories) {
  Identity env{"prod-pull", Role::kPull, RepoPatterns::Parse("apps/*").value()};
  EXPECT_TRUE(env.Allows(Action::kPull, "apps/api"));
  EXPECT_FALSE(env.Allows(Action::kPull, "other/api"));
  EXPECT_FALSE(env.Allows(Action::kPush, "apps/api"));
  EXPECT_FALSE(env.Allows(Action::kDelete, "apps/api"));
}

TEST(Identity, OneLevelAndAnyDepthPatterns) {
  Identity shallow{"a", Role::kPull, RepoPatterns::Parse("apps/*").value()};
  EXPECT_TRUE(shallow.Allows(Action::kPull, "apps/api"));
  EXPECT_FALSE(shallow.Allows(Action::kPull, "apps/api/v2"));
  Identity deep{"b", Role::kPull, RepoPatterns::Parse("apps/**").value()};
  EXPECT_TRUE(deep.Allows(Action::kPull, "apps/api/v2"));
  Identity all{"c", Role::kPull, RepoPatterns::All()};
  EXPECT_TRUE(all.Allows(Action::kPull, "a/b/c/d"));
}

TEST(Identity, PushRoleCannotDelete) {
  Identity ci{"ci", Role::kPush, RepoPatterns::All()};
  EXPECT_TRUE(ci.Allows(Action::kPush, "x"));
  EXPECT_FALSE(ci.Allows(Action::kDelete, "x"));
  Identity admin{"root", Role::kAdmin, RepoPatterns::All()};
  EXPECT_TRUE(admin.Allows(Action::kDelete, "x"));
}

TEST(RepoPatterns, RejectsPathTricksAndEmptyEntries) {
  EXPECT_FALSE(RepoPatterns::Parse("a,,b").ok());
  EXPECT_FALSE(RepoPatterns::Parse("A").ok());
  EXPECT_FALSE(RepoPatterns::Parse("a b").ok());
  EXPECT_EQ(RepoPatterns::Parse("a/*, b").value().str(), "a/*,b");
}

}  // namespace
}  // namespace lockstep
