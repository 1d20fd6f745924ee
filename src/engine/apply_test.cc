// Applies against FakeTarget and a SQLite store in a scratch directory: what switches, what
// is recorded, what is refused, and what recovery makes of a crash's leftovers. (The same
// against real runc and a real SIGKILL: tests/e2e/engine_apply_test.cc.)
#include "engine/apply.h"

#include <gtest/gtest.h>

#include "engine/apply_fixture.h"
#include "engine/engine.h"
#include "engine/recovery.h"
#include "engine/saved_plan.h"
#include "os/testing/temp_dir.h"
#include "runtime/fake_target.h"

namespace lockstep::engine {
namespace {

using fixture::ApplyTest;
using fixture::Desired;
using fixture::Digest;
using fixture::kCommit;

TEST_F(ApplyTest, TwoServicesAndAFunctionGoLiveInOneSwitchAndOneTransaction) {
  state::DeploymentRecord d = ApplyPlan(Save(Desired('a', 'a', 'a')));
  EXPECT_EQ(d.outcome, state::Outcome::kSucceeded) << d.reason;
  EXPECT_NE(d.committed_at, 0);
  std::vector<std::string> switches = SwitchCalls();
  ASSERT_EQ(switches.size(), 1u);
  EXPECT_EQ(switches[0],
            "switch prod api=" + RoutedInstance("api") + " web=" + RoutedInstance("web"));
  auto current = Current();
  ASSERT_EQ(current.size(), 3u);
  EXPECT_EQ(current["web"].instance_id, RoutedInstance("web"));
  EXPECT_EQ(current["nightly"].instance_id, "");
  EXPECT_EQ(current["api"].version, "1.a");
  EXPECT_EQ(Serial(), 1);
  std::vector<std::string> steps = Steps(d.id);
  // Everything staged and healthy before the switch; the switch before the commit.
  auto at = [&](const std::string& step) {
    return std::find(steps.begin(), steps.end(), step) - steps.begin();
  };
  EXPECT_EQ(steps.front(), "begin");
  EXPECT_LT(at("healthy api"), at("switch"));
  EXPECT_LT(at("healthy web"), at("switch"));
  EXPECT_LT(at("switch"), at("commit"));
  EXPECT_EQ(steps.back(), "finish");
  EXPECT_EQ(std::move(store_->History("prod", "", 10)).value().size(), 3u);
}

TEST_F(ApplyTest, ANewReleaseThatNeverGetsHealthySwitchesNothing) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 'a'))).outcome, state::Outcome::kSucceeded);
  std::string web = RoutedInstance("web"), api = RoutedInstance("api");
  target_.SetHealthOnStart("api", runtime::HealthState::kStarting);
  state::DeploymentRecord d = ApplyPlan(Save(Desired('b', 'b', 'b')));
  EXPECT_EQ(d.outcome, state::Outcome::kFailed);
  EXPECT_NE(d.reason.find("api 1.b: instance"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("was not healthy within 5 s (starting)"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("nothing was switched"), std::string::npos) << d.reason;
  // The old instances still serve, the staged ones are gone, nothing of the new is recorded.
  EXPECT_EQ(RoutedInstance("web"), web);
  EXPECT_EQ(RoutedInstance("api"), api);
  EXPECT_EQ(InstanceCount(), 2u);
  EXPECT_EQ(SwitchCalls().size(), 1u);
  EXPECT_EQ(Current()["web"].version, "1.a");
  EXPECT_EQ(Current()["nightly"].version, "1.a");
  EXPECT_EQ(Serial(), 1);
  EXPECT_EQ(d.committed_at, 0);
}

TEST_F(ApplyTest, AFailedPrepareStartsNothing) {
  target_.FailNext(runtime::FakeTarget::Step::kPrepare, Unavailable("registry down"));
  state::DeploymentRecord d = ApplyPlan(Save(Desired('a', 'a', 'a')));
  EXPECT_EQ(d.outcome, state::Outcome::kFailed);
  EXPECT_NE(d.reason.find("prepare 1.a: registry down"), std::string::npos) << d.reason;
  EXPECT_EQ(InstanceCount(), 0u);
  EXPECT_TRUE(Current().empty());
  EXPECT_EQ(Serial(), -1) << "a failed first apply records no environment";
  EXPECT_FALSE(Locked());
}

TEST_F(ApplyTest, AStalePlanIsRefusedAfterAnotherApply) {
  std::string first = Save(Desired('a', 'a', 'a'));
  std::string second = Save(Desired('b', 'a', 'a'));
  ASSERT_EQ(ApplyPlan(first).outcome, state::Outcome::kSucceeded);
  std::string third = Save(Desired('b', 'b', 'a'));
  ASSERT_EQ(ApplyPlan(third).outcome, state::Outcome::kSucceeded);
  Result<int64_t> stale = engine_->StartApply(second, {"bob", ""});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("was made before prod was first applied"),
            std::string::npos)
      << stale.status().message();
  Result<int64_t> again = engine_->StartApply(third, {"bob", ""});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("went out in deployment 2 already"), std::string::npos)
      << "one plan, one deployment: " << again.status().message();
  // A plan another apply overtook is stale.
  std::string fourth = Save(Desired('c', 'b', 'a'));
  std::string fifth = Save(Desired('d', 'b', 'a'));
  ASSERT_EQ(ApplyPlan(fourth).outcome, state::Outcome::kSucceeded);
  Result<int64_t> overtaken = engine_->StartApply(fifth, {"bob", ""});
  ASSERT_FALSE(overtaken.ok());
  EXPECT_NE(overtaken.status().message().find("made at serial 2 of prod, which another apply has "
                                              "since moved to serial 3"),
            std::string::npos)
      << overtaken.status().message();
  EXPECT_EQ(Current()["web"].version, "1.c");
  EXPECT_FALSE(Locked()) << "a refusal frees the lock";
}

TEST_F(ApplyTest, APlanTooOldIsRefused) {
  std::string plan = Save(Desired('a', 'a', 'a'));
  clock_.Advance(25 * 3600);
  Result<int64_t> old = engine_->StartApply(plan, {"bob", ""});
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("was made 25 h ago"), std::string::npos)
      << old.status().message();
}

TEST_F(ApplyTest, AnApprovedPlanGoesOutOnlyWithEnoughApprovalsFromOthersThanItsAuthor) {
  const std::string plan = Save(Desired('a', 'a', 'a'), 0, /*approvals=*/2);
  Result<int64_t> early = engine_->StartApply(plan, {"alice", ""});
  ASSERT_EQ(early.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(early.status().message().find("needs 2 approvals from approvers of prod other than "
                                          "its author alice; it has 0"),
            std::string::npos)
      << early.status().message();
  EXPECT_FALSE(Locked()) << "a refusal frees the lock";

  Result<ApprovalState> own = engine_->Decide(plan, true, {"alice", ""});
  EXPECT_EQ(own.status().code(), Code::kPermissionDenied);
  EXPECT_NE(own.status().message().find("its author's approval does not count"), std::string::npos);
  Result<ApprovalState> bob = engine_->Decide(plan, true, {"bob", "looks right"});
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->counted.size(), 1u);
  EXPECT_EQ(engine_->Decide(plan, true, {"bob", ""}).status().code(), Code::kAlreadyExists)
      << "one approver counts once";
  Result<int64_t> one = engine_->StartApply(plan, {"alice", ""});
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.status().message().find("it has 1 (bob at "), std::string::npos)
      << one.status().message();
  EXPECT_TRUE(Current().empty()) << "nothing applied";

  ASSERT_TRUE(engine_->Decide(plan, true, {"carol", ""}).value().Satisfied());
  state::DeploymentRecord d = ApplyPlan(plan);
  EXPECT_EQ(d.outcome, state::Outcome::kSucceeded) << d.reason;
  EXPECT_NE(d.approvals.find("\"by\":\"bob\""), std::string::npos) << d.approvals;
  EXPECT_NE(d.approvals.find("\"comment\":\"looks right\""), std::string::npos) << d.approvals;
  EXPECT_NE(d.approvals.find("\"by\":\"carol\""), std::string::npos) << d.approvals;
  EXPECT_EQ(engine_->Decide(plan, true, {"dave", ""}).status().code(), Code::kFailedPrecondition)
      << "an applied plan takes no more approvals";
  std::vector<state::AuditRecord> audit = std::move(store_->Audit(0, 20)).value();
  int approvals = 0;
  for (const state::AuditRecord& a : audit) {
    if (a.action == "approve") ++approvals;
    if (a.action == "apply") {
      EXPECT_NE(a.detail.find("approved by bob, carol"), std::string::npos) << a.detail;
    }
  }
  EXPECT_EQ(approvals, 2) << "refused decisions are not recorded";
}

TEST_F(ApplyTest, ARejectedPlanNeverGoesOutAndAnOldApprovalNoLongerCounts) {
  const std::string rejected = Save(Desired('a', 'a', 'a'), 0, 1);
  ASSERT_TRUE(engine_->Decide(rejected, false, {"dave", "wrong window"}).ok());
  EXPECT_EQ(engine_->Decide(rejected, true, {"bob", ""}).status().code(),
            Code::kFailedPrecondition);
  Result<int64_t> refused = engine_->StartApply(rejected, {"alice", ""});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("rejected by dave"), std::string::npos)
      << refused.status().message();

  const std::string plan = Save(Desired('a', 'a', 'a'), 0, 1);
  ASSERT_TRUE(engine_->Decide(plan, true, {"bob", ""}).ok());
  clock_.Advance(3601);
  Result<int64_t> stale = engine_->StartApply(plan, {"alice", ""});
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.status().message().find("expired: bob"), std::string::npos)
      << stale.status().message();
  ASSERT_TRUE(engine_->Decide(plan, true, {"bob", "again"}).ok()) << "an expired one is renewed";
  EXPECT_EQ(ApplyPlan(plan).outcome, state::Outcome::kSucceeded);

  const std::string free = Save(Desired('b', 'a', 'a'));
  EXPECT_EQ(engine_->Decide(free, true, {"bob", ""}).status().code(), Code::kFailedPrecondition)
      << "an environment without approval takes none";
}

TEST_F(ApplyTest, ANoOpApplyLeavesTheSerialAlone) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 'a'))).outcome, state::Outcome::kSucceeded);
  state::DeploymentRecord d = ApplyPlan(Save(Desired('a', 'a', 'a')));
  EXPECT_EQ(d.outcome, state::Outcome::kNoChange);
  EXPECT_EQ(Serial(), 1);
  EXPECT_EQ(SwitchCalls().size(), 1u);
}

TEST_F(ApplyTest, AConfigChangeAloneIsANewReleaseAndTheOldInstanceIsRetired) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 'a'))).outcome, state::Outcome::kSucceeded);
  std::string api = RoutedInstance("api"), web = RoutedInstance("web");
  state::DeploymentRecord d =
      ApplyPlan(Save(Desired('a', 'a', 'a', "[env]\nLOG_LEVEL = \"debug\"")));
  ASSERT_EQ(d.outcome, state::Outcome::kSucceeded) << d.reason;
  EXPECT_NE(RoutedInstance("api"), api);
  EXPECT_EQ(RoutedInstance("web"), web) << "an unchanged service is not restarted";
  EXPECT_EQ(InstanceCount(), 2u) << "the old api instance is retired";
  EXPECT_EQ(Current()["api"].deployment_id, d.id);
  EXPECT_EQ(Serial(), 2);
}

TEST_F(ApplyTest, ARemovedServiceLosesItsRouteAndItsInstance) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 'a'))).outcome, state::Outcome::kSucceeded);
  state::DeploymentRecord d = ApplyPlan(Save(Desired('a', 0, 0)));
  ASSERT_EQ(d.outcome, state::Outcome::kSucceeded) << d.reason;
  EXPECT_EQ(RoutedInstance("api"), "");
  EXPECT_EQ(InstanceCount(), 1u);
  EXPECT_FALSE(Current().contains("api"));
  EXPECT_FALSE(Current().contains("nightly"));
  auto history = std::move(store_->History("prod", "api", 10)).value();
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.front().change, state::Change::kRemoved);
}

TEST_F(ApplyTest, AHeldLockRefusesTheApplyNamingTheHolder) {
  ASSERT_TRUE(
      store_->AcquireLease("prod", "apply of plan x by carol", std::chrono::seconds(30)).ok());
  Result<int64_t> refused = engine_->StartApply(Save(Desired('a', 'a', 'a')), {"bob", ""});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("locked by apply of plan x by carol"),
            std::string::npos)
      << refused.status().message();
  EXPECT_EQ(InstanceCount(), 0u);
}

TEST_F(ApplyTest, AServiceThatBecomesAFunctionLosesItsRoute) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 0))).outcome, state::Outcome::kSucceeded);
  ASSERT_NE(RoutedInstance("api"), "");
  // api is now a function of the same name.
  std::map<std::string, deploy::DeployedService> desired = Desired('a', 'b', 0);
  desired["api"].release.config.kind = ReleaseKind::kFunction;
  desired["api"].public_port = 0;
  state::DeploymentRecord d = ApplyPlan(Save(desired));
  ASSERT_EQ(d.outcome, state::Outcome::kSucceeded) << d.reason;
  EXPECT_EQ(RoutedInstance("api"), "");
  EXPECT_EQ(InstanceCount(), 1u) << "the old api instance is retired";
  EXPECT_EQ(Current()["api"].instance_id, "");
}

TEST_F(ApplyTest, AnApplyIsAuditedWithItsDeployment) {
  state::DeploymentRecord d = ApplyPlan(Save(Desired('a', 0, 0)));
  std::vector<state::AuditRecord> audit = std::move(store_->Audit(0, 10)).value();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "alice");
  EXPECT_EQ(audit[0].target, "prod");
  EXPECT_NE(audit[0].detail.find("deployment " + std::to_string(d.id) + ": test"),
            std::string::npos)
      << audit[0].detail;
}

// A store whose transactions fail where a test says, once each: a disk that fills or a
// database that breaks in the middle of an apply.
class FlakyStore final : public state::StateStore {
 public:
  explicit FlakyStore(state::StateStore& inner) : inner_(inner) {}
  std::atomic<bool> fail_current{false};         // the next Transaction::Current
  std::atomic<bool> fail_mark_committed{false};  // the next Transaction::MarkCommitted

  Result<std::unique_ptr<state::Transaction>> Begin() override {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, inner_.Begin());
    return std::unique_ptr<state::Transaction>(new Tx(std::move(tx), *this));
  }
  Result<state::Lease> AcquireLease(const std::string& e, const std::string& h,
                                    std::chrono::seconds ttl) override {
    return inner_.AcquireLease(e, h, ttl);
  }
  Result<state::Lease> RenewLease(const state::Lease& l, std::chrono::seconds ttl) override {
    return inner_.RenewLease(l, ttl);
  }
  Status ReleaseLease(const state::Lease& l) override { return inner_.ReleaseLease(l); }
  Status BreakLease(const std::string& e, const std::string& a) override {
    return inner_.BreakLease(e, a);
  }
  Result<std::optional<state::Lease>> LeaseOf(const std::string& e) override {
    return inner_.LeaseOf(e);
  }
  Result<std::vector<state::EnvironmentRecord>> Environments() override {
    return inner_.Environments();
  }
  Result<std::vector<state::DeploymentRecord>> Deployments(const std::string& e,
                                                           int limit) override {
    return inner_.Deployments(e, limit);
  }
  Result<std::vector<state::HistoryRecord>> History(const std::string& e, const std::string& s,
                                                    int limit) override {
    return inner_.History(e, s, limit);
  }
  Result<std::vector<state::AuditRecord>> Audit(int64_t since, int limit) override {
    return inner_.Audit(since, limit);
  }
  Status Audited(const state::AuditRecord& r) override { return inner_.Audited(r); }
  Result<std::vector<state::PlanListing>> Plans(const std::string& e, int limit) override {
    return inner_.Plans(e, limit);
  }
  Result<std::vector<state::AttestationRecord>> ListAttestations(const std::string& s,
                                                                 const std::string& d,
                                                                 int limit) override {
    return inner_.ListAttestations(s, d, limit);
  }
  Result<std::vector<state::JournalEntry>> Journal(int64_t d, int64_t after) override {
    return inner_.Journal(d, after);
  }
  Result<std::vector<state::DeploymentRecord>> Unfinished() override { return inner_.Unfinished(); }
  Result<std::vector<state::WriteBackRecord>> OpenWriteBacks(const std::string& e) override {
    return inner_.OpenWriteBacks(e);
  }
  Status UpdateWriteBack(const state::WriteBackRecord& r) override {
    return inner_.UpdateWriteBack(r);
  }
  Result<std::optional<int64_t>> StartInvocation(const state::InvocationRecord& r) override {
    return inner_.StartInvocation(r);
  }
  Status FinishInvocation(const state::InvocationRecord& r) override {
    return inner_.FinishInvocation(r);
  }
  Result<std::vector<state::InvocationRecord>> Invocations(const std::string& e,
                                                           const std::string& f,
                                                           int limit) override {
    return inner_.Invocations(e, f, limit);
  }
  Result<int> AbandonInvocations(const std::string& error) override {
    return inner_.AbandonInvocations(error);
  }

 private:
  class Tx final : public state::Transaction {
   public:
    Tx(std::unique_ptr<state::Transaction> inner, FlakyStore& store)
        : inner_(std::move(inner)), store_(store) {}
    Status Commit() override { return inner_->Commit(); }
    Result<state::EnvironmentRecord> Environment(const std::string& n) override {
      return inner_->Environment(n);
    }
    Result<std::optional<state::EnvironmentRecord>> FindEnvironment(const std::string& n) override {
      return inner_->FindEnvironment(n);
    }
    Result<std::map<std::string, state::CurrentRecord>> Current(const std::string& e) override {
      if (store_.fail_current.exchange(false)) return Unavailable("the disk went away (Current)");
      return inner_->Current(e);
    }
    Result<std::string> Release(const std::string& id) override { return inner_->Release(id); }
    Status CheckFence(const std::string& e, int64_t fence) override {
      return inner_->CheckFence(e, fence);
    }
    Status PutRelease(const std::string& id, const std::string& spec) override {
      return inner_->PutRelease(id, spec);
    }
    Status SetCurrent(const state::CurrentRecord& r) override { return inner_->SetCurrent(r); }
    Status RemoveCurrent(const std::string& e, const std::string& s) override {
      return inner_->RemoveCurrent(e, s);
    }
    Result<int64_t> BumpSerial(const std::string& e, const std::string& c) override {
      return inner_->BumpSerial(e, c);
    }
    Result<int64_t> StartDeployment(const state::DeploymentRecord& r) override {
      return inner_->StartDeployment(r);
    }
    Status FinishDeployment(int64_t id, state::Outcome o, const std::string& why) override {
      return inner_->FinishDeployment(id, o, why);
    }
    Result<int64_t> AppendHistory(const state::HistoryRecord& r) override {
      return inner_->AppendHistory(r);
    }
    Status SetHold(const state::HoldRecord& r) override { return inner_->SetHold(r); }
    Status RemoveHold(const std::string& e, const std::string& s) override {
      return inner_->RemoveHold(e, s);
    }
    Result<std::map<std::string, state::HoldRecord>> Holds(const std::string& e) override {
      return inner_->Holds(e);
    }
    Result<int64_t> PutWriteBack(const state::WriteBackRecord& r) override {
      return inner_->PutWriteBack(r);
    }
    Status SetStandby(const state::StandbyRecord& r) override { return inner_->SetStandby(r); }
    Status RemoveStandby(const std::string& e, const std::string& s) override {
      return inner_->RemoveStandby(e, s);
    }
    Result<std::vector<state::StandbyRecord>> Standbys(const std::string& e) override {
      return inner_->Standbys(e);
    }
    Result<int64_t> AppendAudit(const state::AuditRecord& r) override {
      return inner_->AppendAudit(r);
    }
    Result<std::string> PutPlan(const state::PlanRecord& r) override { return inner_->PutPlan(r); }
    Result<state::PlanRecord> FindPlan(const std::string& id) override {
      return inner_->FindPlan(id);
    }
    Status AddApproval(const state::ApprovalRecord& a) override { return inner_->AddApproval(a); }
    Result<std::vector<state::ApprovalRecord>> Approvals(const std::string& id) override {
      return inner_->Approvals(id);
    }
    Result<int64_t> DeploymentOfPlan(const std::string& id) override {
      return inner_->DeploymentOfPlan(id);
    }
    Result<int64_t> AddAttestation(const state::AttestationRecord& a) override {
      return inner_->AddAttestation(a);
    }
    Result<std::vector<state::AttestationRecord>> Attestations(const std::string& e,
                                                               const std::string& d) override {
      return inner_->Attestations(e, d);
    }
    Result<int64_t> AppendJournal(const state::JournalEntry& e) override {
      return inner_->AppendJournal(e);
    }
    Status MarkCommitted(int64_t id) override {
      if (store_.fail_mark_committed.exchange(false)) {
        return Unavailable("the disk went away (commit)");
      }
      return inner_->MarkCommitted(id);
    }
    Result<state::DeploymentRecord> Deployment(int64_t id) override {
      return inner_->Deployment(id);
    }

   private:
    std::unique_ptr<state::Transaction> inner_;
    FlakyStore& store_;
  };

  state::StateStore& inner_;
};

TEST_F(ApplyTest, AStoreThatFailsBeforeTheApplyStartsFailsItAndFreesTheLock) {
  FlakyStore flaky(*store_);
  Engine engine(PlanSources{nullptr, &flaky, &target_, "127.0.0.1:5000"}, clock_,
                ApplyOptions{.health_timeout = std::chrono::seconds(5)});
  std::string plan = Save(Desired('a', 'a', 'a'));
  flaky.fail_current = true;  // the apply's first read of what the environment runs
  Result<int64_t> id = engine.StartApply(plan, {"alice", ""});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  engine.Wait(*id);  // returns: no transaction is held across the failure's own record
  auto tx = std::move(store_->Begin()).value();
  state::DeploymentRecord d = std::move(tx->Deployment(*id)).value();
  tx.reset();
  EXPECT_EQ(d.outcome, state::Outcome::kFailed);
  EXPECT_NE(d.reason.find("the disk went away (Current)"), std::string::npos) << d.reason;
  EXPECT_FALSE(Locked());
  EXPECT_EQ(InstanceCount(), 0u) << "nothing was started";
  EXPECT_TRUE(SwitchCalls().empty());
}

TEST_F(ApplyTest, ACommitThatFailsAfterTheSwitchPutsTheRecordedRoutesBack) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'a', 'a'))).outcome, state::Outcome::kSucceeded);
  std::string web = RoutedInstance("web"), api = RoutedInstance("api");
  FlakyStore flaky(*store_);
  Engine engine(PlanSources{nullptr, &flaky, &target_, "127.0.0.1:5000"}, clock_,
                ApplyOptions{.health_timeout = std::chrono::seconds(5)});
  std::string plan = Save(Desired('b', 'b', 'b'));
  flaky.fail_mark_committed = true;
  Result<int64_t> id = engine.StartApply(plan, {"alice", ""});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  engine.Wait(*id);
  auto tx = std::move(store_->Begin()).value();
  state::DeploymentRecord d = std::move(tx->Deployment(*id)).value();
  tx.reset();
  EXPECT_EQ(d.outcome, state::Outcome::kFailed);
  EXPECT_EQ(d.committed_at, 0);
  EXPECT_NE(d.reason.find("the disk went away (commit)"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("the recorded routes were put back"), std::string::npos) << d.reason;
  // The switch had happened; the routes name the recorded instances again, and the staged
  // ones are gone.
  EXPECT_EQ(SwitchCalls().size(), 3u) << "the first apply's, this one's, and the way back";
  EXPECT_EQ(RoutedInstance("web"), web);
  EXPECT_EQ(RoutedInstance("api"), api);
  EXPECT_EQ(InstanceCount(), 2u);
  EXPECT_EQ(Current()["web"].version, "1.a");
  EXPECT_EQ(Serial(), 1);
  EXPECT_FALSE(Locked());
}

// Recovery of what a crash leaves: made by hand here (the real SIGKILL at every step is
// the end-to-end test's), as the apply leaves it.
class RecoveryTest : public ApplyTest {
 protected:
  // A running deployment of prod, committed or not.
  int64_t Running(bool committed) {
    auto tx = std::move(store_->Begin()).value();
    int64_t id =
        std::move(
            tx->StartDeployment(
                {.environment = "prod", .plan_id = "p1", .commit = kCommit, .actor = "alice"}))
            .value();
    EXPECT_TRUE(tx->AppendJournal({id, 0, "begin", "", "", 0}).ok());
    if (committed) {
      EXPECT_TRUE(tx->MarkCommitted(id).ok());
    }
    EXPECT_TRUE(tx->Commit().ok());
    tx.reset();  // one transaction at a time: the store's lock is held until it ends
    EXPECT_TRUE(
        store_->AcquireLease("prod", "apply of plan p1 by alice", std::chrono::seconds(30)).ok());
    return id;
  }
  std::string StartWeb(char digest) {
    deploy::DeployedService web = Desired(digest, 0, 0).at("web");
    EXPECT_TRUE(target_.Prepare(web.release).ok());
    return std::move(target_.Start({"prod", "web"}, ReleaseId(web.release))).value();
  }
};

TEST_F(RecoveryTest, BeforeTheCommitPointTheOldRoutesComeBackAndStagedInstancesGo) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 0, 0))).outcome, state::Outcome::kSucceeded);
  std::string old = RoutedInstance("web");
  // Crashed after the switch, before the commit.
  int64_t id = Running(false);
  std::string staged = StartWeb('b');
  ASSERT_TRUE(target_.SwitchRoutes("prod", {{"web", {staged, 0}}}).ok());
  Result<std::vector<std::string>> lines = RecoverDeployments(*store_, target_, clock_, {});
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ(RoutedInstance("web"), old);
  EXPECT_EQ(InstanceCount(), 1u);
  auto tx = std::move(store_->Begin()).value();
  state::DeploymentRecord d = std::move(tx->Deployment(id)).value();
  tx.reset();
  EXPECT_EQ(d.outcome, state::Outcome::kFailed);
  EXPECT_NE(d.reason.find("at step 1 (begin), before the commit point"), std::string::npos)
      << d.reason;
  EXPECT_FALSE(Locked());
}

TEST_F(RecoveryTest, AfterTheCommitPointTheRecordedRoutesAreFinishedAndOldInstancesGo) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 0, 0))).outcome, state::Outcome::kSucceeded);
  std::string old = RoutedInstance("web");
  // Committed (the record names the new instance), crashed before the switch was redone
  // after a restart and before the old instance was retired.
  int64_t id = Running(true);
  std::string fresh = StartWeb('b');
  deploy::DeployedService b = Desired('b', 0, 0).at("web");
  {
    auto tx = std::move(store_->Begin()).value();
    ASSERT_TRUE(tx->PutRelease(ReleaseId(b.release), ToJson(b.release)).ok());
    ASSERT_TRUE(tx->SetCurrent({.environment = "prod",
                                .service = "web",
                                .release_id = ReleaseId(b.release),
                                .version = b.version,
                                .details = DetailsJson(b),
                                .deployment_id = id,
                                .instance_id = fresh})
                    .ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  ASSERT_TRUE(RecoverDeployments(*store_, target_, clock_, {}).ok());
  EXPECT_EQ(RoutedInstance("web"), fresh);
  EXPECT_EQ(InstanceCount(), 1u) << "the old instance " << old << " is retired";
  auto tx = std::move(store_->Begin()).value();
  EXPECT_EQ(std::move(tx->Deployment(id)).value().outcome, state::Outcome::kSucceeded);
}

}  // namespace
}  // namespace lockstep::engine
