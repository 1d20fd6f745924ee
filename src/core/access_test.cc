#include "core/access.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

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

Identity Holding(const std::string& grants) {
  return Identity{"t", ParseGrants(grants).value(), "id"};
}

TEST(Identity, PullRoleReadsOnlyItsRepositories) {
  Identity env = Holding("pull:apps/*");
  EXPECT_TRUE(env.Allows(Action::kPull, "apps/api"));
  EXPECT_FALSE(env.Allows(Action::kPull, "other/api"));
  EXPECT_FALSE(env.Allows(Action::kPush, "apps/api"));
  EXPECT_FALSE(env.Allows(Action::kDelete, "apps/api"));
  EXPECT_FALSE(env.Allows(Action::kView)) << "a registry credential reads no engine state";
}

TEST(Identity, OneLevelAndAnyDepthPatterns) {
  Identity shallow = Holding("pull:apps/*");
  EXPECT_TRUE(shallow.Allows(Action::kPull, "apps/api"));
  EXPECT_FALSE(shallow.Allows(Action::kPull, "apps/api/v2"));
  Identity deep = Holding("pull:apps/**");
  EXPECT_TRUE(deep.Allows(Action::kPull, "apps/api/v2"));
  Identity all = Holding("pull:**");
  EXPECT_TRUE(all.Allows(Action::kPull, "a/b/c/d"));
}

TEST(Identity, CiPushesAndProposesButNeverDeletesOrDeploys) {
  Identity ci = Holding("ci:apps/**");
  EXPECT_TRUE(ci.Allows(Action::kPush, "apps/web"));
  EXPECT_TRUE(ci.Allows(Action::kPropose, "apps/web"));
  EXPECT_FALSE(ci.Allows(Action::kPush, "base/debian"));
  EXPECT_FALSE(ci.Allows(Action::kDelete, "apps/web"));
  EXPECT_FALSE(ci.Allows(Action::kApply, "dev"));
  EXPECT_FALSE(ci.Allows(Action::kApprove, "dev"));
  EXPECT_TRUE(Holding("admin").Allows(Action::kDelete, "x"));
}

TEST(Identity, EnvironmentPatternsScopeOnlyTheActionsOnEnvironments) {
  Identity d = Holding("deployer:dev,staging-*");
  EXPECT_TRUE(d.Allows(Action::kApply, "dev"));
  EXPECT_TRUE(d.Allows(Action::kRollback, "staging-eu"));
  EXPECT_FALSE(d.Allows(Action::kApply, "prod"));
  EXPECT_FALSE(d.Allows(Action::kApply, "dev2"));
  EXPECT_TRUE(d.Allows(Action::kView)) << "reading state is not about one environment";
  EXPECT_FALSE(d.Allows(Action::kApprove, "dev")) << "deploying is not approving";
  EXPECT_FALSE(d.Allows(Action::kUnlock, "dev")) << "breaking a lease is an admin's";
  EXPECT_FALSE(d.Allows(Action::kPull, "dev")) << "an environment pattern is no repository";
}

TEST(Identity, SeveralGrantsAddUp) {
  Identity who = Holding("deployer:dev;approver:prod;viewer");
  EXPECT_TRUE(who.Allows(Action::kApply, "dev"));
  EXPECT_FALSE(who.Allows(Action::kApply, "prod"));
  EXPECT_TRUE(who.Allows(Action::kApprove, "prod"));
  EXPECT_FALSE(who.Allows(Action::kApprove, "dev"));
  EXPECT_TRUE(who.Allows(Action::kPull, "any/repo")) << "viewer pulls";
  EXPECT_FALSE(who.Allows(Action::kLogs, "prod")) << "viewer reads no logs";
  EXPECT_TRUE(who.Allows(Action::kLogs, "dev"));
}

TEST(Identity, ARefusalSaysWhatTheTokenHoldsAndWhatTheActionNeeds) {
  Status s = Holding("deployer:dev").Check(Action::kApply, "prod");
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "token t (deployer:dev) may not apply to prod: that needs admin or deployer "
            "covering prod");
  EXPECT_TRUE(Holding("deployer:dev").Check(Action::kApply, "dev").ok());
}

TEST(ActionRules, EveryActionHasOneRowAdminIncludedAndScopesThatFit) {
  std::set<Action> seen;
  for (const ActionRule& rule : Rules()) {
    EXPECT_TRUE(seen.insert(rule.action).second) << ActionName(rule.action) << " twice";
    EXPECT_NE(std::find(rule.roles.begin(), rule.roles.end(), Role::kAdmin), rule.roles.end())
        << ActionName(rule.action);
    for (Role role : rule.roles) {
      // A scoped role may take only actions about what it covers, or about nothing.
      Scope covers = ScopeOf(role);
      EXPECT_TRUE(covers == Scope::kNone || rule.scope == Scope::kNone || covers == rule.scope)
          << RoleName(role) << " on " << ActionName(rule.action);
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(Action::kPropose) + 1);
}

TEST(Grants, ParseAndPrintTheStoredForm) {
  auto grants = ParseGrants("deployer:dev,staging; viewer;ci:apps/**");
  ASSERT_TRUE(grants.ok()) << grants.status().message();
  EXPECT_EQ(GrantsString(*grants), "deployer:dev,staging;viewer;ci:apps/**");
  Status bare = ParseGrants("deployer").status();
  EXPECT_NE(bare.message().find("name them, deployer:dev,staging (deployer:** for all)"),
            std::string::npos)
      << bare.message() << ": a role over environments never covers them all unasked";
  EXPECT_FALSE(ParseGrants("").ok());
  EXPECT_FALSE(ParseGrants("viewer:dev").ok()) << "viewer covers everything";
  EXPECT_FALSE(ParseGrants("deployer:dev/x").ok()) << "no '/' in an environment";
  EXPECT_FALSE(ParseGrants("deployer:dev,,prod").ok());
  EXPECT_FALSE(ParseGrants("root").ok());
  Status push = ParseGrants("push:apps/*").status();
  EXPECT_NE(push.message().find("now 'ci'"), std::string::npos) << push.message();
}

TEST(Patterns, RejectsPathTricksAndEmptyEntries) {
  EXPECT_FALSE(Patterns::Parse("a,,b").ok());
  EXPECT_FALSE(Patterns::Parse("A").ok());
  EXPECT_FALSE(Patterns::Parse("a b").ok());
  EXPECT_EQ(Patterns::Parse("a/*, b").value().str(), "a/*,b");
}

}  // namespace
}  // namespace lockstep
