// What the SQLite store waits for the disk for: every change of recorded state is synced
// before its commit returns; a journal transaction (journal rows and nothing else) is not,
// and is still atomic and outlives the death of its process. Syncs are counted by a VFS over
// SQLite's default one, whose files keep their own methods but for a counted xSync.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <list>

#include "os/clock.h"
#include "os/testing/killed_child.h"
#include "os/testing/temp_dir.h"
#include "state/engine_state.h"

namespace lockstep::state {
namespace {

class CountedSyncs {
 public:
  CountedSyncs() : real_(sqlite3_vfs_find(nullptr)), vfs_(*real_) {
    current_ = this;
    vfs_.zName = "lockstep-counted-syncs";
    vfs_.xOpen = &Open;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/1);
  }
  ~CountedSyncs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, 1);
    current_ = nullptr;
  }
  int count() const { return count_; }

 private:
  // Each kind of file (database, WAL, journal) has its own methods: each gets a copy.
  struct Wrapped {
    const sqlite3_io_methods* real;
    sqlite3_io_methods counted;
  };

  static int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out) {
    CountedSyncs* self = current_;
    int rc = self->real_->xOpen(self->real_, name, file, flags, out);
    if (rc != SQLITE_OK || file->pMethods == nullptr) return rc;
    for (Wrapped& w : self->wrapped_) {
      if (w.real == file->pMethods) {
        file->pMethods = &w.counted;
        return rc;
      }
    }
    Wrapped& w = self->wrapped_.emplace_back(Wrapped{file->pMethods, *file->pMethods});
    w.counted.xSync = &Sync;
    file->pMethods = &w.counted;
    return rc;
  }
  static int Sync(sqlite3_file* file, int flags) {
    ++current_->count_;
    for (const Wrapped& w : current_->wrapped_) {
      if (&w.counted == file->pMethods) return w.real->xSync(file, flags);
    }
    return SQLITE_IOERR_FSYNC;
  }

  static inline CountedSyncs* current_ = nullptr;
  sqlite3_vfs* real_;
  sqlite3_vfs vfs_;
  std::list<Wrapped> wrapped_;  // stable addresses
  int count_ = 0;
};

class Durability : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> Open() {
    Result<std::unique_ptr<StateStore>> store = OpenSqliteStateStore(path_, &clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  static std::unique_ptr<Transaction> Begin(StateStore& store) {
    Result<std::unique_ptr<Transaction>> tx = store.Begin();
    EXPECT_TRUE(tx.ok()) << tx.status().ToString();
    return std::move(tx).value();
  }
  static std::unique_ptr<Transaction> BeginJournal(StateStore& store) {
    Result<std::unique_ptr<Transaction>> tx = store.BeginJournal();
    EXPECT_TRUE(tx.ok()) << tx.status().ToString();
    return std::move(tx).value();
  }
  static CurrentRecord Web(const std::string& release, int64_t deployment) {
    return {"prod", "web", release, "1.0.0", "{}", deployment, 0};
  }
  static int64_t StartDeployment(StateStore& store) {
    auto tx = Begin(store);
    EXPECT_TRUE(tx->Environment("prod").ok());
    int64_t id =
        tx->StartDeployment({0, "prod", "plan-1", "c1", "ann", 0, 0, Outcome::kRunning, ""})
            .value();
    EXPECT_TRUE(tx->Commit().ok());
    return id;
  }

  os::testing::TempDir dir_;
  std::string path_ = (dir_.path() / "state.db").string();
  os::FakeClock clock_;
};

TEST_F(Durability, OnlyJournalTransactionsCommitWithoutWaitingForTheDisk) {
  CountedSyncs syncs;
  auto store = Open();
  int64_t deployment = StartDeployment(*store);
  ASSERT_GT(syncs.count(), 0) << "the VFS does not see the store's files";

  int before = syncs.count();
  {
    auto tx = BeginJournal(*store);
    ASSERT_TRUE(tx->AppendJournal({deployment, 0, "start", "web", "i-1", 0}).ok());
    ASSERT_TRUE(tx->AppendJournal({deployment, 0, "started", "web", "i-1", 0}).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_EQ(syncs.count(), before) << "a journal commit waited for the disk";

  before = syncs.count();
  {
    auto tx = Begin(*store);
    ASSERT_TRUE(tx->AppendJournal({deployment, 0, "commit", "", "", 0}).ok());
    ASSERT_TRUE(tx->PutRelease("r1", "{}").ok());
    ASSERT_TRUE(tx->SetCurrent(Web("r1", deployment)).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_GT(syncs.count(), before) << "a commit of recorded state did not wait for the disk";

  // A journal transaction that writes anything else is refused whole.
  {
    auto tx = BeginJournal(*store);
    ASSERT_TRUE(tx->AppendJournal({deployment, 0, "switch", "", "", 0}).ok());
    ASSERT_TRUE(tx->SetCurrent(Web("r1", deployment + 1)).ok());
    Status committed = tx->Commit();
    EXPECT_EQ(committed.code(), Code::kInternal) << committed.ToString();
  }
  // And the connection is as it was after one: the next commit syncs again.
  {
    auto tx = BeginJournal(*store);
    ASSERT_TRUE(tx->AppendJournal({deployment, 0, "retire", "web", "i-0", 0}).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  before = syncs.count();
  {
    auto tx = Begin(*store);
    ASSERT_TRUE(tx->FinishDeployment(deployment, Outcome::kSucceeded, "").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_GT(syncs.count(), before);
  EXPECT_EQ(store->Journal(deployment, 0)->size(), 4u) << "the refused one is not there";
  auto tx = Begin(*store);
  EXPECT_EQ(tx->Current("prod")->at("web").deployment_id, deployment);
}

TEST_F(Durability, AJournalRowCommittedWithoutASyncSurvivesTheDeathOfItsProcess) {
  int64_t deployment = StartDeployment(*Open());
  os::testing::KilledChild child = os::testing::RunThenKill9([&] {
    CountedSyncs syncs;
    auto store = OpenSqliteStateStore(path_, &clock_);
    if (!store.ok()) return false;
    auto append = [&](const std::string& instance) {
      auto tx = (*store)->BeginJournal();
      return tx.ok() && (*tx)->AppendJournal({deployment, 0, "start", "web", instance, 0}).ok() &&
             (*tx)->Commit().ok();
    };
    // The first frame of a new WAL syncs its header whatever the setting (SQLite's own
    // rule); the rows after it do not wait for the disk.
    if (!append("i-1")) return false;
    const int before = syncs.count();
    return append("i-2") && syncs.count() == before;  // then killed
  });
  ASSERT_TRUE(child.answered);
  ASSERT_TRUE(child.succeeded) << "the child's commit failed, or waited for the disk";
  ASSERT_TRUE(child.killed);

  auto store = Open();
  Result<std::vector<JournalEntry>> journal = store->Journal(deployment, 0);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  ASSERT_EQ(journal->size(), 2u);
  EXPECT_EQ((*journal)[0].detail, "i-1");
  EXPECT_EQ((*journal)[1].detail, "i-2");
}

}  // namespace
}  // namespace lockstep::state
