#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "os/clock.h"
#include "os/testing/killed_child.h"
#include "os/testing/temp_dir.h"
#include "state/engine_state.h"

namespace lockstep::state {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> Open() {
    Result<std::unique_ptr<StateStore>> store = OpenSqliteStateStore(path_, &clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::unique_ptr<Transaction> Begin(StateStore& store) {
    Result<std::unique_ptr<Transaction>> tx = store.Begin();
    EXPECT_TRUE(tx.ok()) << tx.status().ToString();
    return std::move(tx).value();
  }
  CurrentRecord Web(const std::string& release) {
    return {"prod", "web", release, "1.0.0", "{\"port\":8080}", 1, 0};
  }

  os::testing::TempDir dir_;
  std::string path_ = (dir_.path() / "state.db").string();
  os::FakeClock clock_;
};

TEST_F(StateStoreTest, AnEnvironmentsLineageIsSetOnceAndItsSerialMovesOnlyWhenBumped) {
  std::string lineage;
  {
    auto store = Open();
    auto tx = Begin(*store);
    Result<EnvironmentRecord> env = tx->Environment("prod");
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    EXPECT_EQ(env->serial, 0);
    EXPECT_EQ(env->lineage.size(), 32u);
    lineage = env->lineage;
    EXPECT_EQ(tx->BumpSerial("prod", "abc123").value(), 1);
    EXPECT_EQ(tx->BumpSerial("prod", "def456").value(), 2);
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto store = Open();  // reopened: what was committed is there
  auto tx = Begin(*store);
  Result<EnvironmentRecord> env = tx->Environment("prod");
  EXPECT_EQ(env->lineage, lineage);
  EXPECT_EQ(env->serial, 2);
  EXPECT_EQ(env->commit, "def456");
  EXPECT_NE(tx->Environment("dev")->lineage, lineage) << "each environment has its own";
  EXPECT_EQ(tx->BumpSerial("nowhere", "x").status().code(), Code::kNotFound);
}

TEST_F(StateStoreTest, ATransactionNotCommittedLeavesNothing) {
  auto store = Open();
  {
    auto tx = Begin(*store);
    ASSERT_TRUE(tx->Environment("prod").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  {
    auto tx = Begin(*store);
    ASSERT_TRUE(tx->PutRelease("r1", "{}").ok());
    ASSERT_TRUE(tx->SetCurrent(Web("r1")).ok());
    ASSERT_TRUE(tx->BumpSerial("prod", "c1").ok());
    ASSERT_TRUE(
        tx->AppendHistory({0, "prod", "web", 1, Change::kAdded, "", "r1", "1.0.0", 0}).ok());
  }  // no Commit
  auto tx = Begin(*store);
  EXPECT_TRUE(tx->Current("prod")->empty());
  EXPECT_EQ(tx->Environment("prod")->serial, 0);
  EXPECT_EQ(tx->Release("r1").status().code(), Code::kNotFound);
  tx.reset();
  EXPECT_TRUE(store->History("prod", "", 10)->empty());
}

TEST_F(StateStoreTest, CurrentReleasesHistoryAndDeploymentsAreRecorded) {
  auto store = Open();
  auto tx = Begin(*store);
  int64_t d =
      tx->StartDeployment({0, "prod", "plan-1", "c1", "ci-bot", 0, 0, Outcome::kRunning, ""})
          .value();
  ASSERT_TRUE(tx->PutRelease("r1", "{\"a\":1}").ok());
  ASSERT_TRUE(tx->PutRelease("r1", "{\"a\":1}").ok()) << "the same release again is fine";
  EXPECT_EQ(tx->PutRelease("r1", "{\"a\":2}").code(), Code::kFailedPrecondition)
      << "a release never changes";
  CurrentRecord web = Web("r1");
  web.deployment_id = d;
  ASSERT_TRUE(tx->SetCurrent(web).ok());
  ASSERT_TRUE(tx->AppendHistory({0, "prod", "web", d, Change::kAdded, "", "r1", "1.0.0", 0}).ok());
  ASSERT_TRUE(tx->FinishDeployment(d, Outcome::kSucceeded, "").ok());
  EXPECT_EQ(tx->FinishDeployment(d, Outcome::kFailed, "again").code(), Code::kFailedPrecondition);
  ASSERT_TRUE(tx->Commit().ok());
  tx.reset();

  auto read = Begin(*store);
  auto current = read->Current("prod").value();
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current.at("web").release_id, "r1");
  EXPECT_EQ(current.at("web").details, "{\"port\":8080}");
  EXPECT_EQ(current.at("web").release_spec, "{\"a\":1}") << "the release comes with it";
  EXPECT_EQ(current.at("web").since, clock_.NowSeconds());
  EXPECT_EQ(read->Release("r1").value(), "{\"a\":1}");
  read.reset();
  auto deployments = store->Deployments("prod", 10).value();
  ASSERT_EQ(deployments.size(), 1u);
  EXPECT_EQ(deployments[0].outcome, Outcome::kSucceeded);
  EXPECT_EQ(deployments[0].actor, "ci-bot");
  auto history = store->History("prod", "web", 10).value();
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].change, Change::kAdded);
  EXPECT_EQ(history[0].to_release, "r1");
}

TEST_F(StateStoreTest, ApprovalsAreAppendOnlyAndPlansListWithTheirDeploymentAndApprovals) {
  auto store = Open();
  std::string older, newer;
  {
    auto tx = Begin(*store);
    older = tx->PutPlan({.environment = "prod", .actor = "alice", .body = "{}"}).value();
    clock_.Advance(10);
    newer = tx->PutPlan({.environment = "prod", .actor = "alice", .body = "{}"}).value();
    ASSERT_TRUE(tx->PutPlan({.environment = "dev", .actor = "alice", .body = "{}"}).ok());
    ASSERT_TRUE(tx->AddApproval({.plan_id = older, .approver = "bob", .comment = "ok"}).ok());
    clock_.Advance(1);
    ASSERT_TRUE(tx->AddApproval({.plan_id = older, .approver = "carol", .approved = false}).ok());
    DeploymentRecord d{.environment = "prod", .plan_id = older, .actor = "alice"};
    d.approvals = R"([{"by":"bob"}])";
    int64_t id = tx->StartDeployment(d).value();
    EXPECT_EQ(tx->DeploymentOfPlan(older).value(), id);
    EXPECT_EQ(tx->DeploymentOfPlan(newer).value(), 0);
    EXPECT_EQ(tx->Deployment(id).value().approvals, R"([{"by":"bob"}])");
    ASSERT_TRUE(tx->Commit().ok());
  }
  std::vector<PlanListing> plans = store->Plans("prod", 10).value();
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].plan.id, newer) << "newest first";
  EXPECT_EQ(plans[0].deployment_id, 0);
  EXPECT_TRUE(plans[0].approvals.empty());
  EXPECT_EQ(plans[1].deployment_id, store->Deployments("prod", 1).value()[0].id);
  ASSERT_EQ(plans[1].approvals.size(), 2u);
  EXPECT_EQ(plans[1].approvals[0].approver, "bob");
  EXPECT_TRUE(plans[1].approvals[0].approved);
  EXPECT_EQ(plans[1].approvals[0].comment, "ok");
  EXPECT_FALSE(plans[1].approvals[1].approved);
  // Whoever writes to the database: no approval is changed or taken back.
  SQLite::Database db(path_, SQLite::OPEN_READWRITE);
  EXPECT_THROW(db.exec("UPDATE approvals SET approved = 1"), SQLite::Exception);
  EXPECT_THROW(db.exec("DELETE FROM approvals"), SQLite::Exception);
}

TEST_F(StateStoreTest, HoldsAreSetReplacedAndReleasedAndDeploymentsKeepTheirKind) {
  auto store = Open();
  {
    auto tx = Begin(*store);
    DeploymentRecord rollback{.environment = "prod", .plan_id = "p", .actor = "ann"};
    rollback.kind = "rollback";
    int64_t d = tx->StartDeployment(rollback).value();
    ASSERT_TRUE(tx->SetHold({"prod", "web", "ann", "bad release", d, 0}).ok());
    ASSERT_TRUE(tx->SetHold({"prod", "web", "bob", "still bad", d, 0}).ok()) << "replaced";
    ASSERT_TRUE(tx->SetHold({"staging", "api", "ann", "", 0, 0}).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto read = Begin(*store);
  auto holds = read->Holds("prod").value();
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_EQ(holds.at("web").actor, "bob");
  EXPECT_EQ(holds.at("web").reason, "still bad");
  EXPECT_EQ(holds.at("web").since, clock_.NowSeconds());
  EXPECT_EQ(read->Deployment(holds.at("web").deployment_id).value().kind, "rollback");
  EXPECT_EQ(read->Holds("dev").value().size(), 0u);
  ASSERT_TRUE(read->RemoveHold("prod", "web").ok());
  EXPECT_EQ(read->RemoveHold("prod", "web").code(), Code::kNotFound) << "not held any more";
  EXPECT_TRUE(read->Holds("prod").value().empty());
  EXPECT_EQ(read->Holds("staging").value().size(), 1u) << "per environment";
}

TEST_F(StateStoreTest, WriteBacksStayOpenUntilDoneAndKeepEachAttempt) {
  auto store = Open();
  int64_t id = 0;
  {
    auto tx = Begin(*store);
    id = tx->PutWriteBack({.environment = "prod",
                           .deployment_id = 9,
                           .actor = "ann",
                           .reason = "bad",
                           .files = "[]"})
             .value();
    ASSERT_TRUE(tx->PutWriteBack({.environment = "dev", .files = "[]"}).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  std::vector<WriteBackRecord> open = store->OpenWriteBacks("prod").value();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state, WriteBackState::kPending);
  EXPECT_EQ(open[0].created_at, clock_.NowSeconds());
  EXPECT_EQ(store->OpenWriteBacks("").value().size(), 2u) << "every environment";

  WriteBackRecord w = open[0];
  w.attempts = 2;
  w.next_attempt_at = 1234;
  w.last_error = "remote down";
  w.base = "abc";
  ASSERT_TRUE(store->UpdateWriteBack(w).ok());
  WriteBackRecord again = store->OpenWriteBacks("prod").value().at(0);
  EXPECT_EQ(again.attempts, 2);
  EXPECT_EQ(again.next_attempt_at, 1234);
  EXPECT_EQ(again.last_error, "remote down");
  EXPECT_EQ(again.base, "abc");
  w.state = WriteBackState::kConflict;
  ASSERT_TRUE(store->UpdateWriteBack(w).ok());
  EXPECT_EQ(store->OpenWriteBacks("prod").value().at(0).state, WriteBackState::kConflict)
      << "a conflict stays open: a person resolves it";
  w.state = WriteBackState::kDone;
  w.commit = "def";
  ASSERT_TRUE(store->UpdateWriteBack(w).ok());
  EXPECT_TRUE(store->OpenWriteBacks("prod").value().empty());
  w.id = id + 100;
  EXPECT_EQ(store->UpdateWriteBack(w).code(), Code::kNotFound);
}

TEST_F(StateStoreTest, HistoryTheAuditLogAndReleasesCannotBeRewritten) {
  {
    auto store = Open();
    auto tx = Begin(*store);
    ASSERT_TRUE(tx->AppendHistory({0, "prod", "web", 1, Change::kAdded, "", "r1", "1", 0}).ok());
    ASSERT_TRUE(tx->AppendAudit({0, 0, "alice", "apply", "prod", ""}).ok());
    ASSERT_TRUE(tx->PutRelease("r1", "{\"a\":1}").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  SQLite::Database db(path_, SQLite::OPEN_READWRITE);
  for (const char* sql :
       {"UPDATE history SET to_release = 'r2'", "DELETE FROM history",
        "INSERT OR REPLACE INTO history VALUES (1, 'prod', 'web', 1, 'added', '', 'r9', '9', 0)",
        "UPDATE audit SET actor = 'mallory'", "DELETE FROM audit",
        "UPDATE releases SET spec = '{}'", "DELETE FROM releases",
        "INSERT OR REPLACE INTO audit VALUES (1, 0, 'mallory', 'apply', 'prod', '')"}) {
    try {
      db.exec(sql);
      ADD_FAILURE() << sql << " was allowed";
    } catch (const SQLite::Exception& e) {
      std::string what = e.what();
      EXPECT_TRUE(what.find("append-only") != std::string::npos ||
                  what.find("releases are immutable") != std::string::npos)
          << sql << ": " << what;
    }
  }
}

TEST_F(StateStoreTest, LeasesExpireAreTakenOverAndFenceTheirOldHolderOut) {
  auto store = Open();
  Lease first = store->AcquireLease("prod", "apply-1", std::chrono::seconds(30)).value();
  Result<Lease> second = store->AcquireLease("prod", "apply-2", std::chrono::seconds(30));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kAborted);
  EXPECT_EQ(second.status().message(),
            "prod is locked by apply-1 (its lease runs 30 s more and is renewed while the "
            "holder lives; `lockstep unlock prod` ends it)");
  EXPECT_TRUE(store->AcquireLease("dev", "apply-3", std::chrono::seconds(30)).ok())
      << "another environment has a lock of its own";

  clock_.Advance(20);
  first = store->RenewLease(first, std::chrono::seconds(30)).value();  // the heartbeat
  clock_.Advance(20);
  EXPECT_FALSE(store->AcquireLease("prod", "apply-2", std::chrono::seconds(30)).ok())
      << "renewed, so not expired";
  clock_.Advance(11);  // the holder died: no heartbeat for 31 s
  Lease taken = store->AcquireLease("prod", "apply-2", std::chrono::seconds(30)).value();
  EXPECT_GT(taken.fence, first.fence);
  EXPECT_EQ(store->RenewLease(first, std::chrono::seconds(30)).status().code(), Code::kAborted);
  auto tx = Begin(*store);
  EXPECT_EQ(tx->CheckFence("prod", first.fence).code(), Code::kAborted)
      << "the old holder's writes are refused";
  EXPECT_TRUE(tx->CheckFence("prod", taken.fence).ok());
  tx.reset();
  ASSERT_TRUE(store->ReleaseLease(taken).ok());
  tx = Begin(*store);
  EXPECT_EQ(tx->CheckFence("prod", taken.fence).code(), Code::kAborted) << "released";
  tx.reset();
  Lease next = store->AcquireLease("prod", "apply-4", std::chrono::seconds(30)).value();
  EXPECT_GT(next.fence, taken.fence) << "fences only grow";
}

TEST_F(StateStoreTest, AHolderWhoseLeaseLapsedWritesNothingEvenBeforeATakeover) {
  auto store = Open();
  Lease held = store->AcquireLease("prod", "apply-1", std::chrono::seconds(30)).value();
  clock_.Advance(31);  // no heartbeat: lapsed, and nobody has taken it yet
  auto tx = Begin(*store);
  Status fenced = tx->CheckFence("prod", held.fence);
  EXPECT_EQ(fenced.code(), Code::kAborted);
  EXPECT_EQ(fenced.message(),
            "the lock of prod was lost (expired, taken over or unlocked): this apply writes "
            "nothing more");
  tx.reset();
  EXPECT_EQ(store->RenewLease(held, std::chrono::seconds(30)).status().code(), Code::kAborted)
      << "a lapsed lease is not brought back by a late heartbeat";
}

TEST_F(StateStoreTest, UnlockEndsTheLeaseAtOnceAndIsAudited) {
  auto store = Open();
  Lease held = store->AcquireLease("prod", "apply-7", std::chrono::seconds(600)).value();
  ASSERT_TRUE(store->BreakLease("prod", "alice").ok());
  EXPECT_FALSE(store->LeaseOf("prod").value().has_value());
  EXPECT_EQ(store->BreakLease("prod", "alice").code(), Code::kNotFound);
  auto tx = Begin(*store);
  EXPECT_EQ(tx->CheckFence("prod", held.fence).code(), Code::kAborted);
  tx.reset();
  EXPECT_TRUE(store->AcquireLease("prod", "apply-8", std::chrono::seconds(30)).ok());
  auto audit = store->Audit(0, 10).value();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "alice");
  EXPECT_EQ(audit[0].action, "unlock");
  EXPECT_EQ(audit[0].target, "prod");
  EXPECT_EQ(audit[0].detail, "ended the lock held by apply-7");
}

TEST_F(StateStoreTest, AProcessKilledInsideATransactionLeavesTheOldStateAndNoLock) {
  {
    auto store = Open();
    auto tx = Begin(*store);
    ASSERT_TRUE(tx->Environment("prod").ok());
    ASSERT_TRUE(tx->PutRelease("r1", "{}").ok());
    ASSERT_TRUE(tx->SetCurrent(Web("r1")).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  os::testing::KilledChild child = os::testing::RunThenKill9([&] {
    auto store = OpenSqliteStateStore(path_, &clock_);
    auto tx = (*store)->Begin();
    return (*tx)->PutRelease("r2", "{}").ok() && (*tx)->SetCurrent(Web("r2")).ok() &&
           (*tx)->BumpSerial("prod", "c2").ok();  // and killed inside the transaction
  });
  ASSERT_TRUE(child.answered);
  ASSERT_TRUE(child.succeeded) << "the child's writes failed";
  ASSERT_TRUE(child.killed);

  auto store = Open();
  auto tx = Begin(*store);  // not stuck: the dead writer's lock went with it
  EXPECT_EQ(tx->Current("prod")->at("web").release_id, "r1");
  EXPECT_EQ(tx->Release("r2").status().code(), Code::kNotFound);
  EXPECT_EQ(tx->Environment("prod")->serial, 0);
}

TEST_F(StateStoreTest, InvocationsAreRecordedAndEachScheduledMinuteRunsOnce) {
  auto store = Open();
  InvocationRecord call{.environment = "prod",
                        .function = "report",
                        .release_id = "r1",
                        .trigger = "call",
                        .actor = "ci"};
  std::optional<int64_t> first = store->StartInvocation(call).value();
  ASSERT_TRUE(first.has_value());
  InvocationRecord scheduled = call;
  scheduled.trigger = "schedule";
  scheduled.scheduled_for = 1'800'000'000;
  std::optional<int64_t> second = store->StartInvocation(scheduled).value();
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(store->StartInvocation(scheduled).value().has_value())
      << "the same minute of the same function is recorded once";
  scheduled.function = "other";
  EXPECT_TRUE(store->StartInvocation(scheduled).value().has_value()) << "another function runs";

  InvocationRecord done = call;
  done.id = *first;
  done.invocation_id = "inv-0011";
  done.exit_code = 3;
  done.duration_ms = 120;
  done.timed_out = true;
  ASSERT_TRUE(store->FinishInvocation(done).ok());
  EXPECT_EQ(store->FinishInvocation(done).code(), Code::kNotFound) << "finished once";
  EXPECT_EQ(store->AbandonInvocations("the server stopped").value(), 2);

  std::vector<InvocationRecord> runs = store->Invocations("prod", "report", 10).value();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, *second);  // newest first
  EXPECT_EQ(runs[0].error, "the server stopped");
  EXPECT_GT(runs[0].finished_at, 0);
  EXPECT_EQ(runs[1].invocation_id, "inv-0011");
  EXPECT_EQ(runs[1].exit_code, 3);
  EXPECT_EQ(runs[1].duration_ms, 120);
  EXPECT_TRUE(runs[1].timed_out);
  EXPECT_EQ(runs[1].actor, "ci");
  EXPECT_EQ(store->Invocations("prod", "", 10).value().size(), 3u);
  EXPECT_TRUE(store->Invocations("dev", "", 10).value().empty());
}

TEST_F(StateStoreTest, ADatabaseOfANewerOrBrokenSchemaIsRefused) {
  Open().reset();
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = -3");
  }
  EXPECT_NE(OpenSqliteStateStore(path_, &clock_)
                .status()
                .message()
                .find("has schema version -3, which no lockstep writes"),
            std::string::npos);
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
  }
  Result<std::unique_ptr<StateStore>> store = OpenSqliteStateStore(path_, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("has schema version 99, newer than this lockstep "
                                          "knows (8): upgrade lockstep"),
            std::string::npos)
      << store.status().message();
}

}  // namespace
}  // namespace lockstep::state
