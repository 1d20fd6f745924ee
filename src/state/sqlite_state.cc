// The engine's state in SQLite: one connection, WAL, synchronous=FULL; a transaction is a
// BEGIN IMMEDIATE held with the store's lock, so writers go one at a time and a crash at
// any point leaves the last committed state. Schema migrations are numbered here and run
// in order inside one transaction each.
#include <SQLiteCpp/SQLiteCpp.h>

#include <mutex>

#include "os/file.h"
#include "os/random.h"
#include "state/engine_state.h"
#include "state/sqlite.h"

namespace lockstep::state {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kRunning:
      return "running";
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kNoChange:
      return "no-change";
  }
  return "?";
}

std::string_view ChangeName(Change change) {
  switch (change) {
    case Change::kAdded:
      return "added";
    case Change::kChanged:
      return "changed";
    case Change::kRemoved:
      return "removed";
  }
  return "?";
}

namespace {

Outcome OutcomeFrom(const std::string& name) {
  for (Outcome o : {Outcome::kRunning, Outcome::kSucceeded, Outcome::kFailed, Outcome::kNoChange}) {
    if (OutcomeName(o) == name) return o;
  }
  return Outcome::kFailed;
}

Change ChangeFrom(const std::string& name) {
  for (Change c : {Change::kAdded, Change::kChanged, Change::kRemoved}) {
    if (ChangeName(c) == name) return c;
  }
  return Change::kChanged;
}

// Migration N takes schema N-1 to N. Append only: a released migration never changes.
const std::vector<std::string> kMigrations = {
    // 1: the engine's first tables.
    "CREATE TABLE environments ("
    " name TEXT PRIMARY KEY, lineage TEXT NOT NULL, serial INTEGER NOT NULL,"
    " commit_id TEXT NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE releases (id TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE current ("
    " environment TEXT NOT NULL, service TEXT NOT NULL, release_id TEXT NOT NULL"
    " REFERENCES releases(id), version TEXT NOT NULL, details TEXT NOT NULL,"
    " deployment_id INTEGER NOT NULL, since INTEGER NOT NULL,"
    " PRIMARY KEY (environment, service));"
    "CREATE TABLE deployments ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, environment TEXT NOT NULL, plan_id TEXT NOT NULL,"
    " commit_id TEXT NOT NULL, actor TEXT NOT NULL, started_at INTEGER NOT NULL,"
    " finished_at INTEGER NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL);"
    "CREATE INDEX deployments_by_environment ON deployments (environment, id);"
    "CREATE TABLE history ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, environment TEXT NOT NULL, service TEXT NOT NULL,"
    " deployment_id INTEGER NOT NULL, change TEXT NOT NULL, from_release TEXT NOT NULL,"
    " to_release TEXT NOT NULL, version TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX history_by_service ON history (environment, service, id);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);"
    // History and audit are append-only, whoever writes to the database.
    // A release never changes once recorded.
    "CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases"
    " BEGIN SELECT RAISE(ABORT, 'releases are immutable'); END;"
    "CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases"
    " BEGIN SELECT RAISE(ABORT, 'releases are immutable'); END;"
    "CREATE TRIGGER history_no_update BEFORE UPDATE ON history"
    " BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
    "CREATE TRIGGER history_no_delete BEFORE DELETE ON history"
    " BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
    // INSERT OR REPLACE of an existing id would delete it without a delete trigger firing.
    "CREATE TRIGGER history_no_replace BEFORE INSERT ON history"
    " WHEN EXISTS (SELECT 1 FROM history WHERE id = NEW.id)"
    " BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
    "CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit"
    " WHEN EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    // A lease row per environment that ever had one; `fence` only grows.
    "CREATE TABLE leases ("
    " environment TEXT PRIMARY KEY, holder TEXT NOT NULL, fence INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL);",
};

Status Migrate(SQLite::Database& db, const std::string& path) {
  const int newest = static_cast<int>(kMigrations.size());
  for (;;) {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    int version = db.execAndGet("PRAGMA user_version").getInt();
    if (version < 0 || version > newest) {
      if (version < 0) {
        return FailedPrecondition("state database " + path + " has schema version " +
                                  std::to_string(version) +
                                  ", which no lockstep writes: it was changed outside lockstep");
      }
      return FailedPrecondition("state database " + path + " has schema version " +
                                std::to_string(version) + ", newer than this lockstep knows (" +
                                std::to_string(newest) + "): upgrade lockstep");
    }
    if (version == newest) return Status::Ok();
    db.exec(kMigrations[static_cast<size_t>(version)]);
    db.exec("PRAGMA user_version = " + std::to_string(version + 1));
    tx.commit();
  }
}

Status DbError(const std::exception& e) {
  return Unavailable(std::string("state database: ") + e.what());
}

// Runs `body`, turning SQLite's exceptions into a Status.
template <class F>
auto Guard(F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return DbError(e);
  }
}

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SQLite::Database& db, std::unique_lock<std::mutex> lock, const os::Clock* clock)
      : db_(db),
        lock_(std::move(lock)),
        tx_(db, SQLite::TransactionBehavior::IMMEDIATE),
        clock_(clock) {}

  Status Commit() override {
    return Guard([&]() -> Status {
      tx_.commit();
      return Status::Ok();
    });
  }

  Result<EnvironmentRecord> Environment(const std::string& name) override {
    return Guard([&]() -> Result<EnvironmentRecord> {
      SQLite::Statement q(db_,
                          "SELECT lineage, serial, commit_id, updated_at FROM environments "
                          "WHERE name = ?");
      q.bind(1, name);
      if (q.executeStep()) {
        return EnvironmentRecord{name, q.getColumn(0).getString(), q.getColumn(1).getInt64(),
                                 q.getColumn(2).getString(), q.getColumn(3).getInt64()};
      }
      EnvironmentRecord fresh{name, os::RandomHex(16), 0, "", clock_->NowSeconds()};
      SQLite::Statement insert(db_, "INSERT INTO environments VALUES (?, ?, 0, '', ?)");
      insert.bind(1, name);
      insert.bind(2, fresh.lineage);
      insert.bind(3, fresh.updated_at);
      insert.exec();
      return fresh;
    });
  }

  Result<std::optional<EnvironmentRecord>> FindEnvironment(const std::string& name) override {
    return Guard([&]() -> Result<std::optional<EnvironmentRecord>> {
      SQLite::Statement q(db_,
                          "SELECT lineage, serial, commit_id, updated_at FROM environments "
                          "WHERE name = ?");
      q.bind(1, name);
      if (!q.executeStep()) return std::optional<EnvironmentRecord>();
      return std::optional<EnvironmentRecord>(
          EnvironmentRecord{name, q.getColumn(0).getString(), q.getColumn(1).getInt64(),
                            q.getColumn(2).getString(), q.getColumn(3).getInt64()});
    });
  }

  Result<std::map<std::string, CurrentRecord>> Current(const std::string& environment) override {
    return Guard([&]() -> Result<std::map<std::string, CurrentRecord>> {
      SQLite::Statement q(
          db_,
          "SELECT c.service, c.release_id, c.version, c.details, c.deployment_id, "
          "c.since, r.spec FROM current c LEFT JOIN releases r ON r.id = c.release_id "
          "WHERE c.environment = ?");
      q.bind(1, environment);
      std::map<std::string, CurrentRecord> out;
      while (q.executeStep()) {
        if (q.getColumn(6).isNull()) {
          return Internal("the state database names release " + q.getColumn(1).getString() +
                          " as current for " + environment + "/" + q.getColumn(0).getString() +
                          " but does not hold it: the database was changed outside lockstep");
        }
        CurrentRecord r{environment,
                        q.getColumn(0).getString(),
                        q.getColumn(1).getString(),
                        q.getColumn(2).getString(),
                        q.getColumn(3).getString(),
                        q.getColumn(4).getInt64(),
                        q.getColumn(5).getInt64(),
                        q.getColumn(6).getString()};
        out.emplace(r.service, std::move(r));
      }
      return out;
    });
  }

  Result<std::string> Release(const std::string& release_id) override {
    return Guard([&]() -> Result<std::string> {
      SQLite::Statement q(db_, "SELECT spec FROM releases WHERE id = ?");
      q.bind(1, release_id);
      if (!q.executeStep()) return NotFound("no release " + release_id + " is recorded");
      return q.getColumn(0).getString();
    });
  }

  Status CheckFence(const std::string& environment, int64_t fence) override {
    return Guard([&]() -> Status {
      // The newest lease, held and not expired: a holder whose heartbeat stopped long
      // enough has lost it, even before anyone takes it over.
      SQLite::Statement q(db_,
                          "SELECT 1 FROM leases WHERE environment = ? AND fence = ? AND "
                          "holder <> '' AND expires_at > ?");
      q.bind(1, environment);
      q.bind(2, fence);
      q.bind(3, clock_->NowSeconds());
      if (!q.executeStep()) {
        return Aborted("the lock of " + environment +
                       " was lost (expired, taken over or unlocked): this apply writes nothing "
                       "more");
      }
      return Status::Ok();
    });
  }

  Status PutRelease(const std::string& release_id, const std::string& spec) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_, "SELECT spec FROM releases WHERE id = ?");
      q.bind(1, release_id);
      if (q.executeStep()) {
        if (q.getColumn(0).getString() != spec) {
          return FailedPrecondition("release " + release_id +
                                    " is recorded with another spec: releases never change");
        }
        return Status::Ok();
      }
      SQLite::Statement insert(db_, "INSERT INTO releases VALUES (?, ?, ?)");
      insert.bind(1, release_id);
      insert.bind(2, spec);
      insert.bind(3, clock_->NowSeconds());
      insert.exec();
      return Status::Ok();
    });
  }

  Status SetCurrent(const CurrentRecord& r) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_, "INSERT OR REPLACE INTO current VALUES (?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, r.environment);
      q.bind(2, r.service);
      q.bind(3, r.release_id);
      q.bind(4, r.version);
      q.bind(5, r.details);
      q.bind(6, r.deployment_id);
      q.bind(7, r.since != 0 ? r.since : clock_->NowSeconds());
      q.exec();
      return Status::Ok();
    });
  }

  Status RemoveCurrent(const std::string& environment, const std::string& service) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_, "DELETE FROM current WHERE environment = ? AND service = ?");
      q.bind(1, environment);
      q.bind(2, service);
      q.exec();
      return Status::Ok();
    });
  }

  Result<int64_t> BumpSerial(const std::string& environment, const std::string& commit) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement q(db_,
                          "UPDATE environments SET serial = serial + 1, commit_id = ?, "
                          "updated_at = ? WHERE name = ? RETURNING serial");
      q.bind(1, commit);
      q.bind(2, clock_->NowSeconds());
      q.bind(3, environment);
      if (!q.executeStep()) return NotFound("environment " + environment + " is not recorded");
      return q.getColumn(0).getInt64();
    });
  }

  Result<int64_t> StartDeployment(const DeploymentRecord& d) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement q(db_,
                          "INSERT INTO deployments (environment, plan_id, commit_id, actor, "
                          "started_at, finished_at, outcome, reason) VALUES (?, ?, ?, ?, ?, 0, "
                          "?, ?)");
      q.bind(1, d.environment);
      q.bind(2, d.plan_id);
      q.bind(3, d.commit);
      q.bind(4, d.actor);
      q.bind(5, d.started_at != 0 ? d.started_at : clock_->NowSeconds());
      q.bind(6, std::string(OutcomeName(d.outcome)));
      q.bind(7, d.reason);
      q.exec();
      return db_.getLastInsertRowid();
    });
  }

  Status FinishDeployment(int64_t id, Outcome outcome, const std::string& reason) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_,
                          "UPDATE deployments SET finished_at = ?, outcome = ?, reason = ? "
                          "WHERE id = ? AND finished_at = 0");
      q.bind(1, clock_->NowSeconds());
      q.bind(2, std::string(OutcomeName(outcome)));
      q.bind(3, reason);
      q.bind(4, id);
      if (q.exec() != 1) {
        return FailedPrecondition("deployment " + std::to_string(id) +
                                  " is not running: its outcome is recorded once");
      }
      return Status::Ok();
    });
  }

  Result<int64_t> AppendHistory(const HistoryRecord& h) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement q(db_,
                          "INSERT INTO history (environment, service, deployment_id, change, "
                          "from_release, to_release, version, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, h.environment);
      q.bind(2, h.service);
      q.bind(3, h.deployment_id);
      q.bind(4, std::string(ChangeName(h.change)));
      q.bind(5, h.from_release);
      q.bind(6, h.to_release);
      q.bind(7, h.version);
      q.bind(8, h.at != 0 ? h.at : clock_->NowSeconds());
      q.exec();
      return db_.getLastInsertRowid();
    });
  }

  Result<int64_t> AppendAudit(const AuditRecord& a) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement q(db_,
                          "INSERT INTO audit (at, actor, action, target, detail) VALUES "
                          "(?, ?, ?, ?, ?)");
      q.bind(1, clock_->NowSeconds());
      q.bind(2, a.actor);
      q.bind(3, a.action);
      q.bind(4, a.target);
      q.bind(5, a.detail);
      q.exec();
      return db_.getLastInsertRowid();
    });
  }

 private:
  SQLite::Database& db_;
  std::unique_lock<std::mutex> lock_;  // released after tx_ ends (declared first)
  SQLite::Transaction tx_;
  const os::Clock* clock_;
};

class SqliteStateStore final : public StateStore {
 public:
  SqliteStateStore(std::unique_ptr<SQLite::Database> db, const os::Clock* clock)
      : db_(std::move(db)), clock_(clock) {}

  Result<std::unique_ptr<Transaction>> Begin() override {
    // A plain mutex: TSan (GCC 12) does not see timed_mutex's pthread_mutex_clocklock.
    std::unique_lock lock(mu_);
    return Guard([&]() -> Result<std::unique_ptr<Transaction>> {
      return std::unique_ptr<Transaction>(
          std::make_unique<SqliteTransaction>(*db_, std::move(lock), clock_));
    });
  }

  Result<Lease> AcquireLease(const std::string& environment, const std::string& holder,
                             std::chrono::seconds ttl) override {
    return InTransaction([&](SQLite::Database& db) -> Result<Lease> {
      int64_t now = clock_->NowSeconds();
      SQLite::Statement q(db, "SELECT holder, fence, expires_at FROM leases WHERE environment = ?");
      q.bind(1, environment);
      int64_t fence = 0;
      if (q.executeStep()) {
        fence = q.getColumn(1).getInt64();
        int64_t expires = q.getColumn(2).getInt64();
        if (expires > now) {
          return Aborted(environment + " is locked by " + q.getColumn(0).getString() +
                         " until its lease expires in " + std::to_string(expires - now) +
                         " s (or `lockstep unlock " + environment + "` ends it)");
        }
      }
      Lease lease{environment, holder, fence + 1, now + ttl.count()};
      SQLite::Statement put(db, "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)");
      put.bind(1, environment);
      put.bind(2, holder);
      put.bind(3, lease.fence);
      put.bind(4, lease.expires_at);
      put.bind(5, now);
      put.exec();
      return lease;
    });
  }

  Result<Lease> RenewLease(const Lease& lease, std::chrono::seconds ttl) override {
    return InTransaction([&](SQLite::Database& db) -> Result<Lease> {
      int64_t now = clock_->NowSeconds();
      SQLite::Statement q(db,
                          "UPDATE leases SET expires_at = ?, heartbeat_at = ? "
                          "WHERE environment = ? AND fence = ? AND holder = ? AND expires_at > ?");
      q.bind(1, now + ttl.count());
      q.bind(2, now);
      q.bind(3, lease.environment);
      q.bind(4, lease.fence);
      q.bind(5, lease.holder);
      q.bind(6, now);
      if (q.exec() != 1) {
        return Aborted("the lock of " + lease.environment +
                       " was lost (expired, taken over or unlocked)");
      }
      Lease renewed = lease;
      renewed.expires_at = now + ttl.count();
      return renewed;
    });
  }

  Status ReleaseLease(const Lease& lease) override {
    return InTransaction([&](SQLite::Database& db) -> Status {
      // The row stays, expired and without a holder, so the next holder's fence is higher
      // still and this one's no longer passes.
      SQLite::Statement q(db,
                          "UPDATE leases SET holder = '', expires_at = 0 WHERE environment = ? "
                          "AND fence = ?");
      q.bind(1, lease.environment);
      q.bind(2, lease.fence);
      q.exec();
      return Status::Ok();
    });
  }

  Status BreakLease(const std::string& environment, const std::string& actor) override {
    return InTransaction([&](SQLite::Database& db) -> Status {
      int64_t now = clock_->NowSeconds();
      SQLite::Statement q(db, "SELECT holder, fence, expires_at FROM leases WHERE environment = ?");
      q.bind(1, environment);
      if (!q.executeStep() || q.getColumn(2).getInt64() <= now) {
        return NotFound(environment + " is not locked");
      }
      std::string holder = q.getColumn(0).getString();
      // A fence of its own: the holder that was cut off can write nothing more.
      SQLite::Statement cut(db,
                            "UPDATE leases SET holder = '', fence = fence + 1, expires_at = 0 "
                            "WHERE environment = ?");
      cut.bind(1, environment);
      cut.exec();
      SQLite::Statement audit(db,
                              "INSERT INTO audit (at, actor, action, target, detail) VALUES "
                              "(?, ?, 'unlock', ?, ?)");
      audit.bind(1, now);
      audit.bind(2, actor);
      audit.bind(3, environment);
      audit.bind(4, "ended the lock held by " + holder);
      audit.exec();
      return Status::Ok();
    });
  }

  Result<std::optional<Lease>> LeaseOf(const std::string& environment) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::optional<Lease>> {
      SQLite::Statement q(db,
                          "SELECT holder, fence, expires_at FROM leases WHERE environment = ? "
                          "AND expires_at > ?");
      q.bind(1, environment);
      q.bind(2, clock_->NowSeconds());
      if (!q.executeStep()) return std::optional<Lease>();
      return std::optional<Lease>(Lease{environment, q.getColumn(0).getString(),
                                        q.getColumn(1).getInt64(), q.getColumn(2).getInt64()});
    });
  }

  Result<std::vector<EnvironmentRecord>> Environments() override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<EnvironmentRecord>> {
      SQLite::Statement q(db,
                          "SELECT name, lineage, serial, commit_id, updated_at FROM environments "
                          "ORDER BY name");
      std::vector<EnvironmentRecord> out;
      while (q.executeStep()) {
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                       q.getColumn(2).getInt64(), q.getColumn(3).getString(),
                       q.getColumn(4).getInt64()});
      }
      return out;
    });
  }

  Result<std::vector<DeploymentRecord>> Deployments(const std::string& environment,
                                                    int limit) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<DeploymentRecord>> {
      SQLite::Statement q(db,
                          "SELECT id, plan_id, commit_id, actor, started_at, finished_at, "
                          "outcome, reason FROM deployments WHERE environment = ? "
                          "ORDER BY id DESC LIMIT ?");
      q.bind(1, environment);
      q.bind(2, limit);
      std::vector<DeploymentRecord> out;
      while (q.executeStep()) {
        out.push_back({q.getColumn(0).getInt64(), environment, q.getColumn(1).getString(),
                       q.getColumn(2).getString(), q.getColumn(3).getString(),
                       q.getColumn(4).getInt64(), q.getColumn(5).getInt64(),
                       OutcomeFrom(q.getColumn(6).getString()), q.getColumn(7).getString()});
      }
      return out;
    });
  }

  Result<std::vector<HistoryRecord>> History(const std::string& environment,
                                             const std::string& service, int limit) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<HistoryRecord>> {
      SQLite::Statement q(db,
                          "SELECT id, service, deployment_id, change, from_release, to_release, "
                          "version, at FROM history WHERE environment = ? AND (? = '' OR "
                          "service = ?) ORDER BY id DESC LIMIT ?");
      q.bind(1, environment);
      q.bind(2, service);
      q.bind(3, service);
      q.bind(4, limit);
      std::vector<HistoryRecord> out;
      while (q.executeStep()) {
        out.push_back({q.getColumn(0).getInt64(), environment, q.getColumn(1).getString(),
                       q.getColumn(2).getInt64(), ChangeFrom(q.getColumn(3).getString()),
                       q.getColumn(4).getString(), q.getColumn(5).getString(),
                       q.getColumn(6).getString(), q.getColumn(7).getInt64()});
      }
      return out;
    });
  }

  Result<std::vector<AuditRecord>> Audit(int limit) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<AuditRecord>> {
      SQLite::Statement q(db,
                          "SELECT id, at, actor, action, target, detail FROM audit "
                          "ORDER BY id DESC LIMIT ?");
      q.bind(1, limit);
      std::vector<AuditRecord> out;
      while (q.executeStep()) {
        out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(),
                       q.getColumn(2).getString(), q.getColumn(3).getString(),
                       q.getColumn(4).getString(), q.getColumn(5).getString()});
      }
      return out;
    });
  }

 private:
  // Runs `body` in a transaction of its own, committed when it returns a success.
  template <class F>
  auto InTransaction(F&& body) -> decltype(body(std::declval<SQLite::Database&>())) {
    std::unique_lock lock(mu_);
    try {
      SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      auto result = body(*db_);
      if (result.ok()) tx.commit();
      return result;
    } catch (const std::exception& e) {
      return DbError(e);
    }
  }

  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
  const os::Clock* clock_;
};

}  // namespace

Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& path,
                                                         const os::Clock* clock) {
  LS_ASSIGN_OR_RETURN(std::unique_ptr<SQLite::Database> db, OpenDatabase(path, "state database"));
  try {
    LS_RETURN_IF_ERROR(Migrate(*db, path));
    return std::unique_ptr<StateStore>(std::make_unique<SqliteStateStore>(std::move(db), clock));
  } catch (const std::exception& e) {
    return Unavailable("open state database " + path + ": " + e.what());
  }
}

}  // namespace lockstep::state
