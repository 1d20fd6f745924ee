// Calls and scheduled runs of functions against FakeTarget and a SQLite store: what runs,
// what is recorded, what is refused.
#include "engine/functions.h"

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/saved_plan.h"
#include "os/testing/temp_dir.h"
#include "runtime/fake_target.h"

namespace lockstep::engine {
namespace {

const std::string kCi = "ci";
const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
// 2026-12-01 00:00:00 UTC.
constexpr int64_t kMidnight = 1'796'083'200;

class FunctionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(state::OpenSqliteStateStore((dir_.path() / "engine.db").string(), &clock_))
                 .value();
    engine_ =
        std::make_unique<Engine>(PlanSources{nullptr, store_.get(), &target_, "127.0.0.1:5000"},
                                 clock_, ApplyOptions{.health_timeout = std::chrono::seconds(5)});
    // prod runs report (every 15 minutes), resize (called only) and web (a service).
    deploy::RepoFiles files = {
        {"lockstep.toml", "[[environment]]\nname = \"prod\"\n"},
        {"services/report.toml", "kind = \"function\"\nimage = \"shop/report\"\n"},
        {"services/resize.toml", "kind = \"function\"\nimage = \"shop/resize\"\n"},
        {"services/web.toml", "kind = \"service\"\nimage = \"shop/web\"\n"},
        {"environments/prod/report.toml",
         "version = \"1.0.0\"\ndigest = \"sha256:" + std::string(64, 'a') +
             "\"\nschedule = \"*/15 * * * *\"\n"},
        {"environments/prod/resize.toml",
         "version = \"2.0.0\"\ndigest = \"sha256:" + std::string(64, 'b') + "\"\n"},
        {"environments/prod/web.toml", "version = \"3.0.0\"\ndigest = \"sha256:" +
                                           std::string(64, 'c') + "\"\n[service]\nport = 8080\n"},
    };
    deploy::ReadResult r = deploy::ReadRepo(files, "127.0.0.1:5000");
    ASSERT_TRUE(r.problems.empty()) << r.problems[0].str();
    Result<Plan> plan = PlanDesired(*store_, target_, "prod", kCommit, r.repo.deployed["prod"]);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    std::string plan_id;
    {
      auto tx = std::move(store_->Begin()).value();
      plan_id = std::move(tx->PutPlan(ToPlanRecord(*plan, "alice"))).value();
      ASSERT_TRUE(tx->Commit().ok());
    }
    Result<int64_t> id = engine_->StartApply(plan_id, {"alice", "test"});
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    engine_->Wait(*id);
    ASSERT_EQ(Current().size(), 3u);
  }

  std::map<std::string, state::CurrentRecord> Current() {
    auto tx = std::move(store_->Begin()).value();
    return std::move(tx->Current("prod")).value();
  }
  int Invocations() {
    int n = 0;
    for (const std::string& call : target_.Calls()) n += call.starts_with("invoke ");
    return n;
  }

  os::testing::TempDir dir_;
  os::FakeClock clock_;
  runtime::FakeTarget target_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(FunctionsTest, ACallRunsTheCurrentReleaseAndIsRecordedWithItsOutcome) {
  target_.OnInvoke([](const Release&, const runtime::InvokeRequest& request) {
    return runtime::Invocation{.exit_code = 3,
                               .output = "resized " + request.event,
                               .duration = std::chrono::milliseconds(42)};
  });
  Result<FunctionRun> run = engine_->functions().Call("prod", "resize", "cat.png", kCi);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->invocation.output, "resized cat.png");
  EXPECT_EQ(run->record.release_id, Current()["resize"].release_id);

  std::vector<state::InvocationRecord> runs = store_->Invocations("prod", "resize", 10).value();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, run->record.id);
  EXPECT_EQ(runs[0].exit_code, 3) << "a failed run is recorded as one";
  EXPECT_EQ(runs[0].duration_ms, 42);
  EXPECT_EQ(runs[0].trigger, "call");
  EXPECT_EQ(runs[0].actor, "ci");
  EXPECT_EQ(runs[0].invocation_id, run->invocation.invocation_id);
  EXPECT_GT(runs[0].finished_at, 0);
}

TEST_F(FunctionsTest, ServicesAndUnknownFunctionsAreRefusedAndNothingRuns) {
  Result<FunctionRun> service = engine_->functions().Call("prod", "web", "", kCi);
  EXPECT_EQ(service.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(service.status().message().find("web is a service"), std::string::npos);
  Result<FunctionRun> unknown = engine_->functions().Call("prod", "missing", "", kCi);
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_NE(unknown.status().message().find("runs no function missing"), std::string::npos);
  EXPECT_EQ(engine_->functions().Call("dev", "resize", "", kCi).status().code(), Code::kNotFound);
  EXPECT_EQ(Invocations(), 0);
  EXPECT_TRUE(store_->Invocations("prod", "", 10).value().empty());
}

TEST_F(FunctionsTest, AScheduledRunStillGoingSkipsTheNextMinuteItsScheduleNames) {
  std::mutex m;
  std::condition_variable cv;
  bool running = false, release = false;
  target_.OnInvoke([&](const Release&, const runtime::InvokeRequest&) {
    std::unique_lock lock(m);
    running = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return runtime::Invocation{.exit_code = 0};
  });
  Functions& functions = engine_->functions();
  ASSERT_EQ(functions.RunDue(kMidnight + 15 * 60).value(), 1);
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return running; });
  }
  EXPECT_EQ(functions.RunDue(kMidnight + 30 * 60).value(), 0) << "the 00:15 run still goes";
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  functions.WaitIdle();
  EXPECT_EQ(functions.RunDue(kMidnight + 45 * 60).value(), 1);
  functions.WaitIdle();
  std::vector<state::InvocationRecord> runs = store_->Invocations("prod", "report", 10).value();
  ASSERT_EQ(runs.size(), 2u) << "00:30 was skipped, not queued";
  EXPECT_EQ(runs[0].scheduled_for, kMidnight + 45 * 60);
}

TEST_F(FunctionsTest, AFailureToRunIsRecordedWithItsReason) {
  target_.FailNext(runtime::FakeTarget::Step::kInvoke, Unavailable("runc is gone"));
  Result<FunctionRun> run = engine_->functions().Call("prod", "resize", "", kCi);
  EXPECT_EQ(run.status().code(), Code::kUnavailable);
  std::vector<state::InvocationRecord> runs = store_->Invocations("prod", "resize", 10).value();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].error, "runc is gone");
  EXPECT_GT(runs[0].finished_at, 0);
}

TEST_F(FunctionsTest, AScheduledFunctionRunsOnceInEachMinuteItsScheduleNames) {
  Functions& functions = engine_->functions();
  EXPECT_EQ(functions.RunDue(kMidnight + 5 * 60).value(), 0) << "00:05 is not a quarter";
  EXPECT_EQ(functions.RunDue(kMidnight + 15 * 60 + 3).value(), 1);
  EXPECT_EQ(functions.RunDue(kMidnight + 15 * 60 + 40).value(), 0) << "once per minute";
  functions.WaitIdle();
  EXPECT_EQ(Invocations(), 1) << "resize has no schedule; web is a service";

  // Another process (a restarted server) ticking in the same minute does not run it again.
  {
    Functions again(*store_, target_);
    EXPECT_EQ(again.RunDue(kMidnight + 15 * 60 + 50).value(), 0);
    EXPECT_EQ(again.RunDue(kMidnight + 30 * 60).value(), 1);
  }  // waits for its run
  std::vector<state::InvocationRecord> runs = store_->Invocations("prod", "report", 10).value();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].scheduled_for, kMidnight + 30 * 60);
  EXPECT_EQ(runs[1].scheduled_for, kMidnight + 15 * 60);
  for (const state::InvocationRecord& r : runs) {
    EXPECT_EQ(r.trigger, "schedule");
    EXPECT_EQ(r.release_id, Current()["report"].release_id);
    EXPECT_GT(r.finished_at, 0) << "completed when it ended";
    EXPECT_FALSE(r.invocation_id.empty());
  }
}

}  // namespace
}  // namespace lockstep::engine
