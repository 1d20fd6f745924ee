#include "engine/approvals.h"

#include <gtest/gtest.h>

namespace lockstep::engine {
namespace {

constexpr int64_t kDay = 86400;
const state::PlanRecord kPlan{.id = "0123456789abcdef", .environment = "prod", .actor = "alice"};

state::ApprovalRecord Approved(const std::string& by, int64_t at) {
  return {.plan_id = kPlan.id, .approver = by, .approved = true, .at = at};
}

TEST(Approvals, DistinctApproversOtherThanTheAuthorCount) {
  std::vector<state::ApprovalRecord> decisions = {Approved("alice", 10), Approved("bob", 20),
                                                  Approved("bob", 30)};
  ApprovalState two = EvaluateApprovals(kPlan, 2, decisions, 100, kDay);
  EXPECT_FALSE(two.Satisfied());
  ASSERT_EQ(two.counted.size(), 1u) << "the author's approval and bob's second do not count";
  EXPECT_EQ(two.counted[0].approver, "bob");
  EXPECT_EQ(two.counted[0].at, 30) << "bob's newest";
  decisions.push_back(Approved("carol", 40));
  EXPECT_TRUE(EvaluateApprovals(kPlan, 2, decisions, 100, kDay).Satisfied());
  EXPECT_TRUE(EvaluateApprovals(kPlan, 1, {Approved("bob", 1)}, 2, kDay).Satisfied());
  EXPECT_FALSE(EvaluateApprovals(kPlan, 1, {}, 2, kDay).Satisfied());
}

TEST(Approvals, AnOldApprovalExpiresAndAFreshOneCountsAgain) {
  ApprovalState old = EvaluateApprovals(kPlan, 1, {Approved("bob", 0)}, kDay + 1, kDay);
  EXPECT_FALSE(old.Satisfied());
  ASSERT_EQ(old.expired.size(), 1u);
  EXPECT_NE(old.Missing(kPlan).find("expired: bob (approve it again)"), std::string::npos)
      << old.Missing(kPlan);
  ApprovalState again =
      EvaluateApprovals(kPlan, 1, {Approved("bob", 0), Approved("bob", kDay)}, kDay + 1, kDay);
  EXPECT_TRUE(again.Satisfied());
  EXPECT_TRUE(again.expired.empty());
  EXPECT_TRUE(EvaluateApprovals(kPlan, 1, {Approved("bob", 0)}, kDay, kDay).Satisfied())
      << "exactly the age still counts";
}

TEST(Approvals, ARejectionStopsThePlanWhateverTheApprovals) {
  state::ApprovalRecord no{
      .plan_id = kPlan.id, .approver = "dave", .approved = false, .comment = "not today", .at = 5};
  ApprovalState s =
      EvaluateApprovals(kPlan, 1, {Approved("bob", 1), no, Approved("carol", 9)}, 10, kDay);
  EXPECT_FALSE(s.Satisfied());
  ASSERT_TRUE(s.rejection.has_value());
  EXPECT_NE(s.Missing(kPlan).find("rejected by dave"), std::string::npos) << s.Missing(kPlan);
  EXPECT_NE(s.Missing(kPlan).find("not today"), std::string::npos);
}

TEST(Approvals, AnApprovalByATokenThatNoLongerApprovesOrFromTheFutureDoesNotCount) {
  auto stands = [](const std::string& approver) { return approver != "carol"; };
  ApprovalState s =
      EvaluateApprovals(kPlan, 2, {Approved("bob", 1), Approved("carol", 2)}, 10, kDay, stands);
  EXPECT_FALSE(s.Satisfied());
  ASSERT_EQ(s.revoked.size(), 1u);
  EXPECT_NE(s.Missing(kPlan).find("no longer approvers of prod: carol"), std::string::npos)
      << s.Missing(kPlan);
  ApprovalState future = EvaluateApprovals(kPlan, 1, {Approved("bob", 500)}, 10, kDay);
  EXPECT_FALSE(future.Satisfied()) << "a clock that stepped back never makes it count for good";
}

TEST(Approvals, WhatIsMissingSaysHowManyWhoHasAndWhatToRun) {
  ApprovalState s = EvaluateApprovals(kPlan, 2, {Approved("bob", 0)}, 10, kDay);
  EXPECT_EQ(s.Missing(kPlan),
            "plan 0123456789abcdef of prod needs 2 approvals from approvers of prod other than "
            "its author alice; it has 1 (bob at 1970-01-01T00:00:00Z): `lockstep approve "
            "0123456789abcdef` with an approver's token");
  EXPECT_EQ(ApprovalsJson(s.counted), R"([{"by":"bob","at":0,"comment":""}])");
  EXPECT_EQ(ApprovalsJson({}), "");
}

}  // namespace
}  // namespace lockstep::engine
