// The write-backs a rollback owes git, against a real bare remote (the example deploy
// repository), a real mirror and SQLite, on a fake clock: when each try falls due, what a
// commit holds, and what is left for a person.
#include "engine/write_back.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/example_repo.h"
#include "os/testing/temp_dir.h"

namespace lockstep::engine {
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;

using example::Sh;

class WriteBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = std::make_unique<example::ExampleRepo>(dir_.path());
    bare_ = repo_->bare();
    work_ = repo_->work();
    example_ = repo_->first();
    mirror_ = &repo_->mirror();
    store_ = std::move(state::OpenSqliteStateStore((dir_.path() / "state.db").string(), &clock_))
                 .value();
    write_backs_ = std::make_unique<WriteBacks>(*store_, mirror_, clock_);
  }

  std::string Commit(const std::string& message) { return repo_->Commit(message); }
  void Edit(const std::string& path, const std::string& from, const std::string& to) {
    Sh("sed -i 's|" + from + "|" + to + "|' '" + (work_ / path).string() + "'");
  }
  // A rollback of dev owing git `files` ([{service, source, from, to}] or {service, remove}).
  void Owe(const bj::array& files) {
    auto tx = std::move(store_->Begin()).value();
    ASSERT_TRUE(tx->PutWriteBack({.environment = "dev",
                                  .deployment_id = 7,
                                  .actor = "ann",
                                  .reason = "2.0 breaks checkout",
                                  .files = bj::serialize(files)})
                    .ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  // The one write-back still open, after the due ones were tried (by the test or by the
  // thread: the outcome is the same, and a try moves the next one into the future).
  std::optional<state::WriteBackRecord> Open() {
    write_backs_->RunDue();
    std::vector<state::WriteBackRecord> open = store_->OpenWriteBacks("dev").value();
    EXPECT_LE(open.size(), 1u);
    if (open.empty()) return std::nullopt;
    return open[0];
  }

  os::testing::TempDir dir_;
  std::unique_ptr<example::ExampleRepo> repo_;
  fs::path bare_, work_;
  std::string example_;
  git::Mirror* mirror_ = nullptr;
  os::FakeClock clock_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<WriteBacks> write_backs_;
};

TEST_F(WriteBackTest, ARemoteThatIsDownIsTriedAgainAfter2Then4ThenUpTo300Seconds) {
  Edit("environments/dev/web.toml", "LOG_LEVEL = \"debug\"", "LOG_LEVEL = \"info\"");
  Commit("dev logs less");
  ASSERT_TRUE(mirror_->Fetch().ok());  // the server saw it (its webhook) before the rollback
  Owe({bj::object{{"service", "web"}, {"source", example_}, {"from", "2.0.0"}, {"to", "1.0.0"}}});
  const fs::path away = dir_.path() / "away.git";
  fs::rename(bare_, away);

  std::vector<int64_t> waits;
  for (int attempt = 1; attempt <= 10; ++attempt) {
    std::optional<state::WriteBackRecord> w = Open();
    ASSERT_TRUE(w.has_value());
    ASSERT_EQ(w->state, state::WriteBackState::kPending) << w->last_error;
    ASSERT_EQ(w->attempts, attempt) << w->last_error;
    EXPECT_FALSE(w->last_error.empty());
    const int64_t wait = w->next_attempt_at - clock_.NowSeconds();
    waits.push_back(wait);
    clock_.Advance(wait - 1);
    EXPECT_EQ(Open()->attempts, attempt) << "tried again before it was due";
    clock_.Advance(1);
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{2, 4, 8, 16, 32, 64, 128, 256, 300, 300}));

  fs::rename(away, bare_);
  EXPECT_EQ(Open(), std::nullopt) << "pushed once the remote is back";
  EXPECT_NE(Sh("git -C '" + bare_.string() + "' show HEAD:environments/dev/web.toml")
                .find("LOG_LEVEL = \"debug\""),
            std::string::npos);
  EXPECT_EQ(Sh("git -C '" + bare_.string() + "' log -1 --format=%an"), "ann");
}

TEST_F(WriteBackTest, AWriteBackThatWouldLeaveTheRepositoryUnreadableIsLeftForAPerson) {
  // dev owned uploads when web 1.0 was made, and web wrote to it; then dev gave it up.
  Edit("lockstep.toml", "rollback_window = \"1h\"",
       "rollback_window = \"1h\"\\nvolumes = [\"uploads\"]");
  Sh("printf '\\n[grants]\\nvolumes = { uploads = \"rw\" }\\n' >> '" +
     (work_ / "environments/dev/web.toml").string() + "'");
  const std::string with_uploads = Commit("web in dev writes uploads");
  Sh("git -C '" + work_.string() + "' revert --no-edit HEAD >/dev/null && git -C '" +
     work_.string() + "' push -q origin main");
  const std::string head = Sh("git -C '" + bare_.string() + "' rev-parse HEAD");
  Owe({bj::object{
      {"service", "web"}, {"source", with_uploads}, {"from", "2.0.0"}, {"to", "1.0.0"}}});

  std::optional<state::WriteBackRecord> w = Open();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->state, state::WriteBackState::kConflict) << w->last_error;
  EXPECT_NE(w->last_error.find("would not read"), std::string::npos) << w->last_error;
  EXPECT_NE(w->last_error.find("uploads"), std::string::npos) << w->last_error;
  EXPECT_EQ(Sh("git -C '" + bare_.string() + "' rev-parse HEAD"), head) << "nothing committed";
  clock_.Advance(3600);
  EXPECT_EQ(Open()->attempts, 0) << "a conflict is not tried again";
}

TEST_F(WriteBackTest, AServiceAnotherEnvironmentDeploysKeepsItsServiceFile) {
  Owe({bj::object{{"service", "report"}, {"remove", true}, {"from", "1.0.0"}, {"to", ""}}});
  EXPECT_EQ(Open(), std::nullopt);
  EXPECT_EQ(Sh("git -C '" + bare_.string() + "' diff --name-status HEAD~1 HEAD"),
            "D\tenvironments/dev/report.toml")
      << "staging and prod still deploy report: services/report.toml stays";
  std::string message = Sh("git -C '" + bare_.string() + "' log -1 --format=%B");
  EXPECT_NE(message.find("report 1.0.0 → removed"), std::string::npos) << message;

  // Owed again (a restart before it was recorded done): git already says so.
  Owe({bj::object{{"service", "report"}, {"remove", true}, {"from", "1.0.0"}, {"to", ""}}});
  const std::string head = Sh("git -C '" + bare_.string() + "' rev-parse HEAD");
  EXPECT_EQ(Open(), std::nullopt);
  EXPECT_EQ(Sh("git -C '" + bare_.string() + "' rev-parse HEAD"), head) << "no empty commit";
}

TEST_F(WriteBackTest, AFileSomeoneAddedBackAfterTheRollbackIsNotRemoved) {
  Owe({bj::object{{"service", "report"}, {"remove", true}, {"from", "1.0.0"}, {"to", ""}}});
  // First try: the remote is down; the branch as fetched is the base.
  const fs::path away = dir_.path() / "away.git";
  fs::rename(bare_, away);
  ASSERT_EQ(Open()->attempts, 1);
  fs::rename(away, bare_);
  // Meanwhile a person changes dev's report.
  Edit("environments/dev/report.toml", "version = \"1.0.0\"", "version = \"1.0.0\"  # kept");
  const std::string theirs = Commit("dev keeps report");
  clock_.Advance(2);
  std::optional<state::WriteBackRecord> w = Open();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->state, state::WriteBackState::kConflict) << w->last_error;
  EXPECT_NE(w->last_error.find("environments/dev/report.toml changed on the branch"),
            std::string::npos)
      << w->last_error;
  EXPECT_EQ(Sh("git -C '" + bare_.string() + "' rev-parse HEAD"), theirs);
}

TEST_F(WriteBackTest, ABranchThatDoesNotReadIsWaitedForNotLeftForAPerson) {
  Edit("environments/dev/web.toml", "LOG_LEVEL = \"debug\"", "LOG_LEVEL = \"info\"");
  Commit("dev logs less");
  ASSERT_TRUE(mirror_->Fetch().ok());
  Owe({bj::object{{"service", "web"}, {"source", example_}, {"from", "2.0.0"}, {"to", "1.0.0"}}});
  // A person pushes qa's files before the lockstep.toml that names qa.
  fs::create_directories(work_ / "environments" / "qa");
  Sh("sed 's|port = 8081|port = 8071|' '" + (work_ / "environments/dev/web.toml").string() +
     "' > '" + (work_ / "environments/qa/web.toml").string() + "'");
  Commit("qa, first half");
  std::optional<state::WriteBackRecord> w = Open();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->state, state::WriteBackState::kPending) << w->last_error;
  EXPECT_NE(w->last_error.find("the branch does not read"), std::string::npos) << w->last_error;
  EXPECT_NE(w->last_error.find("environments/qa/web.toml"), std::string::npos) << w->last_error;

  Sh("printf '\\n[[environment]]\\nname = \"qa\"\\n' >> '" + (work_ / "lockstep.toml").string() +
     "'");
  Commit("qa, second half");
  clock_.Advance(2);
  std::optional<state::WriteBackRecord> after = Open();
  EXPECT_EQ(after, std::nullopt) << "written back once the branch reads: "
                                 << (after ? after->last_error : "");
  EXPECT_NE(Sh("git -C '" + bare_.string() + "' show HEAD:environments/dev/web.toml")
                .find("LOG_LEVEL = \"debug\""),
            std::string::npos);
}

TEST_F(WriteBackTest, AServiceFileSomeoneChangedIsNotRemovedWithItsLastEnvironment) {
  // worker runs in dev only.
  fs::copy_file(work_ / "services" / "web.toml", work_ / "services" / "worker.toml");
  Sh("sed 's|port = 8081|port = 8091|' '" + (work_ / "environments/dev/web.toml").string() +
     "' > '" + (work_ / "environments/dev/worker.toml").string() + "'");
  Commit("worker in dev");
  ASSERT_TRUE(mirror_->Fetch().ok());
  Owe({bj::object{{"service", "worker"}, {"remove", true}, {"from", "1.0.0"}, {"to", ""}}});
  const fs::path away = dir_.path() / "away.git";
  fs::rename(bare_, away);
  ASSERT_EQ(Open()->attempts, 1);
  fs::rename(away, bare_);
  Edit("services/worker.toml", "GREETING = \"hello\"", "GREETING = \"fixed\"");
  const std::string theirs = Commit("the fix worker needed");
  clock_.Advance(2);
  std::optional<state::WriteBackRecord> w = Open();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->state, state::WriteBackState::kConflict) << w->last_error;
  EXPECT_NE(w->last_error.find("services/worker.toml changed on the branch"), std::string::npos)
      << w->last_error;
  EXPECT_EQ(Sh("git -C '" + bare_.string() + "' rev-parse HEAD"), theirs) << "nothing removed";
}

}  // namespace
}  // namespace lockstep::engine
