// The engine's state in SQLite: one connection, WAL, synchronous=FULL, so a crash at any
// point leaves the last committed state. This file: the store (its leases and reads); its
// transactions are sqlite_transaction.cc, its schema sqlite_schema.cc.
#include <algorithm>
#include <mutex>

#include "state/engine_state.h"
#include "state/sqlite.h"
#include "state/sqlite_engine.h"

namespace lockstep::state {

namespace {

using sqlite::ChangeFrom;
using sqlite::DbError;
using sqlite::Guard;
using sqlite::OutcomeFrom;

class SqliteStateStore final : public StateStore {
 public:
  SqliteStateStore(std::unique_ptr<SQLite::Database> db, const os::Clock* clock)
      : db_(std::move(db)), clock_(clock) {}

  Result<std::unique_ptr<Transaction>> Begin() override { return Open(Durability::kSynced); }
  Result<std::unique_ptr<Transaction>> BeginJournal() override {
    return Open(Durability::kJournal);
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
                         " (its lease runs " + std::to_string(expires - now) +
                         " s more and is renewed while the holder lives; `lockstep unlock " +
                         environment + "` ends it)");
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
      SQLite::Statement q(db, std::string("SELECT ") + sqlite::kDeploymentColumns +
                                  " FROM deployments WHERE environment = ? ORDER BY id DESC "
                                  "LIMIT ?");
      q.bind(1, environment);
      q.bind(2, limit);
      std::vector<DeploymentRecord> out;
      while (q.executeStep()) out.push_back(sqlite::ReadDeployment(q));
      return out;
    });
  }

  Result<std::vector<AttestationRecord>> ListAttestations(const std::string& service,
                                                          const std::string& digest,
                                                          int limit) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<AttestationRecord>> {
      SQLite::Statement q(db, std::string("SELECT ") + sqlite::kAttestationColumns +
                                  " FROM attestations WHERE (? = '' OR service = ?) AND "
                                  "(? = '' OR digest = ?) ORDER BY id DESC LIMIT ?");
      q.bind(1, service);
      q.bind(2, service);
      q.bind(3, digest);
      q.bind(4, digest);
      q.bind(5, limit);
      std::vector<AttestationRecord> out;
      while (q.executeStep()) out.push_back(sqlite::ReadAttestation(q));
      return out;
    });
  }

  Result<std::vector<PlanListing>> Plans(const std::string& environment, int limit) override {
    LS_ASSIGN_OR_RETURN(
        std::vector<std::string> ids,
        InTransaction([&](SQLite::Database& db) -> Result<std::vector<std::string>> {
          SQLite::Statement q(db,
                              "SELECT id FROM plans WHERE environment = ? "
                              "ORDER BY created_at DESC, rowid DESC LIMIT ?");
          q.bind(1, environment);
          q.bind(2, limit);
          std::vector<std::string> out;
          while (q.executeStep()) out.push_back(q.getColumn(0).getString());
          return out;
        }));
    // Plans never change and approvals are only added: a second transaction reads each
    // as it is.
    LS_ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Begin());
    std::vector<PlanListing> out;
    for (const std::string& id : ids) {
      PlanListing listing;
      LS_ASSIGN_OR_RETURN(listing.plan, tx->FindPlan(id));
      LS_ASSIGN_OR_RETURN(listing.deployment_id, tx->DeploymentOfPlan(id));
      LS_ASSIGN_OR_RETURN(listing.approvals, tx->Approvals(id));
      out.push_back(std::move(listing));
    }
    return out;
  }

  Result<std::vector<DeploymentRecord>> Unfinished() override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<DeploymentRecord>> {
      SQLite::Statement q(db, std::string("SELECT ") + sqlite::kDeploymentColumns +
                                  " FROM deployments WHERE outcome = ? ORDER BY id");
      q.bind(1, std::string(OutcomeName(Outcome::kRunning)));
      std::vector<DeploymentRecord> out;
      while (q.executeStep()) out.push_back(sqlite::ReadDeployment(q));
      return out;
    });
  }

  Result<std::optional<int64_t>> StartInvocation(const InvocationRecord& r) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::optional<int64_t>> {
      SQLite::Statement q(db,
                          "INSERT OR IGNORE INTO invocations (environment, function, release_id,"
                          " trigger, actor, scheduled_for, started_at, finished_at, invocation_id,"
                          " exit_code, duration_ms, timed_out, out_of_memory, error)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, 0, '', 0, 0, 0, 0, '')");
      q.bind(1, r.environment);
      q.bind(2, r.function);
      q.bind(3, r.release_id);
      q.bind(4, r.trigger);
      q.bind(5, r.actor);
      q.bind(6, r.scheduled_for);
      q.bind(7, clock_->NowSeconds());
      if (q.exec() == 0) return std::optional<int64_t>();
      return std::optional<int64_t>(db.getLastInsertRowid());
    });
  }

  Status FinishInvocation(const InvocationRecord& r) override {
    return InTransaction([&](SQLite::Database& db) -> Status {
      SQLite::Statement q(db,
                          "UPDATE invocations SET finished_at = ?, invocation_id = ?,"
                          " exit_code = ?, duration_ms = ?, timed_out = ?, out_of_memory = ?,"
                          " error = ? WHERE id = ? AND finished_at = 0");
      q.bind(1, std::max<int64_t>(clock_->NowSeconds(), 1));
      q.bind(2, r.invocation_id);
      q.bind(3, r.exit_code);
      q.bind(4, r.duration_ms);
      q.bind(5, r.timed_out ? 1 : 0);
      q.bind(6, r.out_of_memory ? 1 : 0);
      q.bind(7, r.error);
      q.bind(8, r.id);
      if (q.exec() != 1) {
        return NotFound("no running invocation " + std::to_string(r.id));
      }
      return Status::Ok();
    });
  }

  Result<std::vector<InvocationRecord>> Invocations(const std::string& environment,
                                                    const std::string& function,
                                                    int limit) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<InvocationRecord>> {
      SQLite::Statement q(db,
                          "SELECT id, function, release_id, trigger, actor, scheduled_for,"
                          " started_at, finished_at, invocation_id, exit_code, duration_ms,"
                          " timed_out, out_of_memory, error FROM invocations"
                          " WHERE environment = ? AND (? = '' OR function = ?)"
                          " ORDER BY id DESC LIMIT ?");
      q.bind(1, environment);
      q.bind(2, function);
      q.bind(3, function);
      q.bind(4, limit);
      std::vector<InvocationRecord> out;
      while (q.executeStep()) {
        InvocationRecord r;
        r.id = q.getColumn(0).getInt64();
        r.environment = environment;
        r.function = q.getColumn(1).getString();
        r.release_id = q.getColumn(2).getString();
        r.trigger = q.getColumn(3).getString();
        r.actor = q.getColumn(4).getString();
        r.scheduled_for = q.getColumn(5).getInt64();
        r.started_at = q.getColumn(6).getInt64();
        r.finished_at = q.getColumn(7).getInt64();
        r.invocation_id = q.getColumn(8).getString();
        r.exit_code = q.getColumn(9).getInt();
        r.duration_ms = q.getColumn(10).getInt64();
        r.timed_out = q.getColumn(11).getInt() != 0;
        r.out_of_memory = q.getColumn(12).getInt() != 0;
        r.error = q.getColumn(13).getString();
        out.push_back(std::move(r));
      }
      return out;
    });
  }

  Result<std::vector<WriteBackRecord>> OpenWriteBacks(const std::string& environment) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<WriteBackRecord>> {
      SQLite::Statement q(db,
                          "SELECT id, environment, deployment_id, actor, reason, files, state,"
                          " base, attempts, next_attempt_at, last_error, commit_id, created_at"
                          " FROM write_backs WHERE state != 'done' AND (? = '' OR environment = ?)"
                          " ORDER BY id");
      q.bind(1, environment);
      q.bind(2, environment);
      std::vector<WriteBackRecord> out;
      while (q.executeStep()) {
        WriteBackRecord w;
        w.id = q.getColumn(0).getInt64();
        w.environment = q.getColumn(1).getString();
        w.deployment_id = q.getColumn(2).getInt64();
        w.actor = q.getColumn(3).getString();
        w.reason = q.getColumn(4).getString();
        w.files = q.getColumn(5).getString();
        w.state = sqlite::WriteBackStateFrom(q.getColumn(6).getString());
        w.base = q.getColumn(7).getString();
        w.attempts = q.getColumn(8).getInt();
        w.next_attempt_at = q.getColumn(9).getInt64();
        w.last_error = q.getColumn(10).getString();
        w.commit = q.getColumn(11).getString();
        w.created_at = q.getColumn(12).getInt64();
        out.push_back(std::move(w));
      }
      return out;
    });
  }

  Status UpdateWriteBack(const WriteBackRecord& w) override {
    return InTransaction([&](SQLite::Database& db) -> Status {
      SQLite::Statement q(db,
                          "UPDATE write_backs SET state = ?, base = ?, attempts = ?,"
                          " next_attempt_at = ?, last_error = ?, commit_id = ? WHERE id = ?");
      q.bind(1, std::string(WriteBackStateName(w.state)));
      q.bind(2, w.base);
      q.bind(3, w.attempts);
      q.bind(4, w.next_attempt_at);
      q.bind(5, w.last_error);
      q.bind(6, w.commit);
      q.bind(7, w.id);
      if (q.exec() == 0) return NotFound("no write-back " + std::to_string(w.id));
      return Status::Ok();
    });
  }

  Result<int> AbandonInvocations(const std::string& error) override {
    return InTransaction([&](SQLite::Database& db) -> Result<int> {
      SQLite::Statement q(
          db, "UPDATE invocations SET finished_at = ?, error = ? WHERE finished_at = 0");
      q.bind(1, std::max<int64_t>(clock_->NowSeconds(), 1));
      q.bind(2, error);
      return q.exec();
    });
  }

  Result<std::vector<JournalEntry>> Journal(int64_t deployment_id, int64_t after) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<JournalEntry>> {
      SQLite::Statement q(db,
                          "SELECT seq, step, service, detail, at FROM journal "
                          "WHERE deployment_id = ? AND seq > ? ORDER BY seq");
      q.bind(1, deployment_id);
      q.bind(2, after);
      std::vector<JournalEntry> out;
      while (q.executeStep()) {
        out.push_back({deployment_id, q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                       q.getColumn(2).getString(), q.getColumn(3).getString(),
                       q.getColumn(4).getInt64()});
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

  Result<std::vector<AuditRecord>> Audit(int64_t since, int limit) override {
    return InTransaction([&](SQLite::Database& db) -> Result<std::vector<AuditRecord>> {
      SQLite::Statement q(db,
                          "SELECT id, at, actor, action, target, detail FROM audit "
                          "WHERE at >= ? ORDER BY id DESC LIMIT ?");
      q.bind(1, since);
      q.bind(2, limit);
      std::vector<AuditRecord> out;
      while (q.executeStep()) {
        out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(),
                       q.getColumn(2).getString(), q.getColumn(3).getString(),
                       q.getColumn(4).getString(), q.getColumn(5).getString()});
      }
      return out;
    });
  }

  Status Audited(const AuditRecord& record) override {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Begin());
    LS_RETURN_IF_ERROR(tx->AppendAudit(record).status());
    return tx->Commit();
  }

 private:
  Result<std::unique_ptr<Transaction>> Open(Durability durability) {
    // A plain mutex: TSan (GCC 12) does not see timed_mutex's pthread_mutex_clocklock.
    std::unique_lock lock(mu_);
    return Guard([&]() -> Result<std::unique_ptr<Transaction>> {
      return sqlite::NewTransaction(*db_, std::move(lock), durability, clock_);
    });
  }

  // Runs `body` in a transaction of its own, committed when it returns a success.
  template <class F>
  auto InTransaction(F&& body) -> decltype(body(std::declval<SQLite::Database&>())) {
    std::unique_lock lock(mu_);
    try {
      db_->exec("PRAGMA synchronous=FULL");  // synced, whatever a journal transaction left
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
    LS_RETURN_IF_ERROR(sqlite::Migrate(*db, path));
    return std::unique_ptr<StateStore>(std::make_unique<SqliteStateStore>(std::move(db), clock));
  } catch (const std::exception& e) {
    return Unavailable("open state database " + path + ": " + e.what());
  }
}

}  // namespace lockstep::state
