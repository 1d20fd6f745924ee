// Applies against FakeTarget and a SQLite store in a scratch directory: what switches, what
// is recorded, what is refused, and what recovery makes of a crash's leftovers. (The same
// against real runc and a real SIGKILL: tests/e2e/engine_apply_test.cc.)
#include "engine/apply.h"

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/recovery.h"
#include "engine/saved_plan.h"
#include "os/testing/temp_dir.h"
#include "runtime/fake_target.h"

namespace lockstep::engine {
namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

// prod runs web and api (services) and nightly (a function), pinned to these digests; a
// digest of 0 leaves the service out. `api_extra` is added to prod's api file.
std::map<std::string, deploy::DeployedService> Desired(char web, char api, char nightly,
                                                       const std::string& api_extra = "") {
  deploy::RepoFiles files = {
      {"lockstep.toml", "[[environment]]\nname = \"prod\"\n"},
  };
  auto pin = [&](const std::string& service, char digest, const std::string& more) {
    if (digest == 0) return;
    files["services/" + service + ".toml"] = std::string("kind = \"") +
                                             (service == "nightly" ? "function" : "service") +
                                             "\"\nimage = \"shop/" + service + "\"\n";
    files["environments/prod/" + service + ".toml"] = "version = \"1." + std::string(1, digest) +
                                                      "\"\ndigest = \"" + Digest(digest) + "\"\n" +
                                                      more;
  };
  pin("web", web, "[service]\nport = 8080\n");
  pin("api", api, api_extra + "\n[service]\nport = 8081\n");
  pin("nightly", nightly, "");
  deploy::ReadResult r = deploy::ReadRepo(files, "127.0.0.1:5000");
  EXPECT_TRUE(r.problems.empty()) << (r.problems.empty() ? "" : r.problems[0].str());
  return r.repo.deployed["prod"];
}

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(state::OpenSqliteStateStore((dir_.path() / "engine.db").string(), &clock_))
                 .value();
    engine_ =
        std::make_unique<Engine>(PlanSources{nullptr, store_.get(), &target_, "127.0.0.1:5000"},
                                 clock_, ApplyOptions{.health_timeout = std::chrono::seconds(5)});
  }

  // Plans prod to run `desired` and saves the plan.
  std::string Save(const std::map<std::string, deploy::DeployedService>& desired,
                   int64_t rollback_window = 0) {
    Result<Plan> plan = PlanDesired(*store_, target_, "prod", kCommit, desired);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (plan.ok()) plan->rollback_window_seconds = rollback_window;
    auto tx = std::move(store_->Begin()).value();
    std::string id = std::move(tx->PutPlan(ToPlanRecord(*plan, "alice"))).value();
    EXPECT_TRUE(tx->Commit().ok());
    return id;
  }

  // Applies a saved plan to its end; the deployment as recorded.
  state::DeploymentRecord ApplyPlan(const std::string& plan_id) {
    Result<int64_t> id = engine_->StartApply(plan_id, {"alice", "test"});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return {};
    engine_->Wait(*id);
    auto tx = std::move(store_->Begin()).value();
    return std::move(tx->Deployment(*id)).value();
  }

  std::map<std::string, state::CurrentRecord> Current() {
    auto tx = std::move(store_->Begin()).value();
    return std::move(tx->Current("prod")).value();
  }
  int64_t Serial() {
    auto tx = std::move(store_->Begin()).value();
    auto env = std::move(tx->FindEnvironment("prod")).value();
    return env ? env->serial : -1;
  }
  std::vector<std::string> Steps(int64_t deployment) {
    std::vector<std::string> out;
    std::vector<state::JournalEntry> journal = std::move(store_->Journal(deployment, 0)).value();
    for (const state::JournalEntry& e : journal) {
      out.push_back(e.step + (e.service.empty() ? "" : " " + e.service));
    }
    return out;
  }
  std::vector<std::string> SwitchCalls() {
    std::vector<std::string> out;
    for (const std::string& c : target_.Calls()) {
      if (c.starts_with("switch ")) out.push_back(c);
    }
    return out;
  }
  std::string RoutedInstance(const std::string& service) {
    std::vector<runtime::ObservedInstance> observed = std::move(target_.Observe("prod")).value();
    for (const runtime::ObservedInstance& o : observed) {
      if (o.service == service && o.routed) return o.instance_id;
    }
    return "";
  }
  bool Locked() {
    std::optional<state::Lease> lease = std::move(store_->LeaseOf("prod")).value();
    return lease.has_value();
  }
  size_t InstanceCount() { return std::move(target_.Observe("prod")).value().size(); }

  os::testing::TempDir dir_;
  os::FakeClock clock_;
  runtime::FakeTarget target_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<Engine> engine_;
};

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
  EXPECT_NE(again.status().message().find("made at serial 1 of prod, which another apply has "
                                          "since moved to serial 2"),
            std::string::npos)
      << again.status().message();
  EXPECT_EQ(Current()["web"].version, "1.b");
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
  std::vector<state::AuditRecord> audit = std::move(store_->Audit(10)).value();
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
  Result<std::vector<state::AuditRecord>> Audit(int limit) override { return inner_.Audit(limit); }
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

// Rollbacks: which release is put back, and the standbys an apply keeps and reuses.
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
