// Rollbacks against FakeTarget and a SQLite store: which release is put back, what is
// refused, and the standbys an apply keeps, reuses and the sweep retires. (End to end on
// real runc and git: tests/e2e/engine_apply_test.cc.)
#include "engine/rollback.h"

#include <gtest/gtest.h>

#include "engine/apply_fixture.h"

namespace lockstep::engine {
namespace {

using fixture::ApplyTest;
using fixture::Desired;

class RollbackTest : public ApplyTest {
 protected:
  // Plans the rollback and applies it; the rollback's plan.
  Plan RollBack(const RollbackRequest& request) {
    Result<Plan> plan = PlanRollback(*store_, target_, request);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (!plan.ok()) return {};
    plan->rollback_window_seconds = 900;
    std::string id;
    {
      auto tx = std::move(store_->Begin()).value();
      id = std::move(tx->PutPlan(ToPlanRecord(*plan, "alice"))).value();
      EXPECT_TRUE(tx->Commit().ok());
    }
    EXPECT_EQ(ApplyPlan(id).outcome, state::Outcome::kSucceeded);
    return *plan;
  }
  std::vector<state::StandbyRecord> Standbys() {
    auto tx = std::move(store_->Begin()).value();
    return std::move(tx->Standbys("prod")).value();
  }
};

TEST_F(RollbackTest, TheReleaseBeforeTheCurrentOneAndASecondRollbackGoesFurtherBack) {
  for (char v : {'a', 'b', 'c'})
    ASSERT_EQ(ApplyPlan(Save(Desired(v, 'a', 0))).outcome, state::Outcome::kSucceeded);
  EXPECT_EQ(RollBack({"prod", "web", ""}).desired.at("web").version, "1.b");
  EXPECT_EQ(Current().at("web").version, "1.b");
  EXPECT_EQ(RollBack({"prod", "web", ""}).desired.at("web").version, "1.a")
      << "not forward to 1.c, which the first rollback moved away from";
  EXPECT_EQ(RollBack({"prod", "web", "1.c"}).desired.at("web").version, "1.c") << "by name";
  EXPECT_EQ(Current().at("api").version, "1.a") << "only web moved";

  Result<Plan> unknown = PlanRollback(*store_, target_, {"prod", "web", "9.9"});
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_NE(unknown.status().message().find("1.b ("), std::string::npos)
      << "it lists what there is: " << unknown.status().message();
  EXPECT_EQ(PlanRollback(*store_, target_, {"prod", "api", ""}).status().code(),
            Code::kFailedPrecondition)
      << "api ran one release only";
  EXPECT_EQ(PlanRollback(*store_, target_, {"prod", "cart", ""}).status().code(), Code::kNotFound);
  EXPECT_EQ(PlanRollback(*store_, target_, {"prod", "web", "1.c"}).status().code(),
            Code::kFailedPrecondition)
      << "it runs that release already";
  EXPECT_EQ(PlanRollback(*store_, target_, {"prod", "", "abc"}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(PlanRollback(*store_, target_, {"prod", "", "99"}).status().code(), Code::kNotFound);
}

TEST_F(RollbackTest, AnEnvironmentGoesBackToWhatADeploymentMadeLiveAndNotToAFailedOne) {
  int64_t first = ApplyPlan(Save(Desired('a', 'a', 'a'))).id;
  ASSERT_EQ(ApplyPlan(Save(Desired('b', 'b', 0))).outcome, state::Outcome::kSucceeded);
  target_.SetHealthOnStart("web", runtime::HealthState::kUnhealthy);
  int64_t failed = ApplyPlan(Save(Desired('c', 'b', 0))).id;
  target_.SetHealthOnStart("web", runtime::HealthState::kHealthy);
  EXPECT_EQ(PlanRollback(*store_, target_, {"prod", "", std::to_string(failed)}).status().code(),
            Code::kFailedPrecondition);
  Plan back = RollBack({"prod", "", std::to_string(first)});
  EXPECT_EQ(back.kind, "rollback");
  std::map<std::string, state::CurrentRecord> now = Current();
  EXPECT_EQ(now.at("web").version, "1.a");
  EXPECT_EQ(now.at("api").version, "1.a");
  ASSERT_TRUE(now.contains("nightly")) << "the function it had comes back too";
  auto tx = std::move(store_->Begin()).value();
  EXPECT_EQ(std::move(tx->Holds("prod")).value().size(), 3u) << "everything it moved is held";
}

TEST_F(RollbackTest, AStandbyIsKeptReusedWhenHealthyAndNeverAReplacedDriftedInstance) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 0), 900)).outcome, state::Outcome::kSucceeded);
  const std::string a_web = RoutedInstance("web");
  ASSERT_EQ(ApplyPlan(Save(Desired('b', 'a', 0), 900)).outcome, state::Outcome::kSucceeded);
  std::vector<state::StandbyRecord> kept = Standbys();
  ASSERT_EQ(kept.size(), 1u) << "only web changed";
  EXPECT_EQ(kept[0].instance_id, a_web);
  EXPECT_EQ(kept[0].version, "1.a");

  // b's instance fails its checks; the apply that repairs it keeps a's standby, not the
  // broken one.
  const std::string b_web = RoutedInstance("web");
  target_.SetHealth(b_web, runtime::HealthState::kUnhealthy);
  ASSERT_EQ(ApplyPlan(Save(Desired('b', 'a', 0), 900)).outcome, state::Outcome::kSucceeded);
  kept = Standbys();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].instance_id, a_web) << "the rollback's standby survives a repair";

  // A rollback to a switches back to that instance, started by nobody.
  int64_t before = static_cast<int64_t>(target_.Calls().size());
  RollBack({"prod", "web", ""});
  EXPECT_EQ(RoutedInstance("web"), a_web);
  bool started = false;
  for (size_t i = static_cast<size_t>(before); i < target_.Calls().size(); ++i) {
    started |= target_.Calls()[i].starts_with("start prod/web");
  }
  EXPECT_FALSE(started) << "reused, not started";

  // An unhealthy standby is not reused: a fresh instance is started.
  kept = Standbys();
  ASSERT_EQ(kept.size(), 1u);
  target_.SetHealth(kept[0].instance_id, runtime::HealthState::kUnhealthy);
  RollBack({"prod", "web", "1.b"});
  EXPECT_NE(RoutedInstance("web"), kept[0].instance_id);
}

TEST_F(RollbackTest, TheSweepRetiresExpiredStandbysUnderTheLeaseAndNeverALiveInstance) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 0), 60)).outcome, state::Outcome::kSucceeded);
  ASSERT_EQ(ApplyPlan(Save(Desired('b', 'b', 0), 60)).outcome, state::Outcome::kSucceeded);
  ASSERT_EQ(Standbys().size(), 2u);
  EXPECT_TRUE(engine_->RetireExpiredStandbys(clock_.NowSeconds()).empty()) << "not yet";

  // A record naming a live instance (as a failed route restore could leave): dropped, the
  // instance left running.
  const std::string api_live = RoutedInstance("api");
  {
    auto tx = std::move(store_->Begin()).value();
    std::vector<state::StandbyRecord> all = std::move(tx->Standbys("prod")).value();
    for (state::StandbyRecord& k : all) {
      if (k.service == "api") {
        k.instance_id = api_live;
        ASSERT_TRUE(tx->SetStandby(k).ok());
      }
    }
    ASSERT_TRUE(tx->Commit().ok());
  }
  // Held by an apply: the sweep waits.
  Result<state::Lease> held = store_->AcquireLease("prod", "someone", std::chrono::seconds(30));
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(engine_->RetireExpiredStandbys(clock_.NowSeconds() + 61).empty());
  EXPECT_EQ(Standbys().size(), 2u);
  ASSERT_TRUE(store_->ReleaseLease(*held).ok());

  size_t instances = InstanceCount();
  std::vector<std::string> retired = engine_->RetireExpiredStandbys(clock_.NowSeconds() + 61);
  EXPECT_EQ(retired.size(), 1u) << "web's; api's record named its live instance";
  EXPECT_TRUE(Standbys().empty());
  EXPECT_EQ(InstanceCount(), instances - 1);
  EXPECT_EQ(RoutedInstance("api"), api_live) << "still serving";
  EXPECT_FALSE(Locked()) << "the sweep let its lease go";
}

}  // namespace
}  // namespace lockstep::engine
