#include "core/access.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("*", "a/b/c"));
  EXPECT_TRUE(GlobMatch("dev/*", "dev/api"));
  EXPECT_FALSE(GlobMatch("dev/*", "prod/api"));
  EXPECT_TRUE(GlobMatch("v?.*", "v1.2"));
  EXPECT_FALSE(GlobMatch("latest", "latest2"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYc"));
}

TEST(Identity, PullRoleReadsOnlyItsRepositories) {
  Identity env{"prod-pull", Role::kPull, RepoPatterns::Parse("apps/*").value()};
  EXPECT_TRUE(env.Allows(Action::kPull, "apps/api"));
  EXPECT_FALSE(env.Allows(Action::kPull, "other/api"));
  EXPECT_FALSE(env.Allows(Action::kPush, "apps/api"));
  EXPECT_FALSE(env.Allows(Action::kDelete, "apps/api"));
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
