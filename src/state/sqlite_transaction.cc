// One unit of change in the SQLite store: a BEGIN IMMEDIATE held with the store's lock, so
// writers go one at a time; destroyed without Commit, it rolls back.
#include "os/random.h"
#include "state/sqlite_engine.h"

namespace lockstep::state::sqlite {

namespace {

// A journal transaction's commit does not wait for the disk (synchronous=NORMAL, set before
// its BEGIN: SQLite does not change it inside a transaction); the connection is put back to
// synchronous=FULL when the transaction ends, before the store's lock is let go. Every
// other transaction sets FULL before its BEGIN itself (no I/O), so one that could not be
// put back never leaves a synced transaction unsynced.
class SyncMode {
 public:
  SyncMode(SQLite::Database& db, Durability durability)
      : db_(durability == Durability::kJournal ? &db : nullptr) {
    db.exec(db_ != nullptr ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
  }
  ~SyncMode() {
    if (db_ == nullptr) return;
    try {
      db_->exec("PRAGMA synchronous=FULL");
    } catch (const std::exception&) {  // a connection that cannot is broken for every caller
    }
  }
  SyncMode(const SyncMode&) = delete;
  SyncMode& operator=(const SyncMode&) = delete;
  bool journal_only() const { return db_ != nullptr; }

 private:
  SQLite::Database* db_;
};

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SQLite::Database& db, std::unique_lock<std::mutex> lock, Durability durability,
                    const os::Clock* clock)
      : db_(db),
        lock_(std::move(lock)),
        sync_(db, durability),
        tx_(db, SQLite::TransactionBehavior::IMMEDIATE),
        clock_(clock),
        changes_at_begin_(db.getTotalChanges()) {}

  Status Commit() override {
    return Guard([&]() -> Status {
      if (sync_.journal_only() && db_.getTotalChanges() - changes_at_begin_ != journal_rows_) {
        return Internal("a journal transaction changed more than the journal (rolled back)");
      }
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
      SQLite::Statement q(db_,
                          "SELECT c.service, c.release_id, c.version, c.details, c.deployment_id, "
                          "c.since, c.instance_id, r.spec FROM current c LEFT JOIN releases r ON "
                          "r.id = c.release_id "
                          "WHERE c.environment = ?");
      q.bind(1, environment);
      std::map<std::string, CurrentRecord> out;
      while (q.executeStep()) {
        if (q.getColumn(7).isNull()) {
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
                        q.getColumn(6).getString(),
                        q.getColumn(7).getString()};
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
      SQLite::Statement q(db_,
                          "INSERT OR REPLACE INTO current (environment, service, release_id, "
                          "version, details, deployment_id, since, instance_id) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, r.environment);
      q.bind(2, r.service);
      q.bind(3, r.release_id);
      q.bind(4, r.version);
      q.bind(5, r.details);
      q.bind(6, r.deployment_id);
      q.bind(7, r.since != 0 ? r.since : clock_->NowSeconds());
      q.bind(8, r.instance_id);
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

  Status SetHold(const HoldRecord& h) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_,
                          "INSERT OR REPLACE INTO holds (environment, service, actor, reason, "
                          "deployment_id, since) VALUES (?, ?, ?, ?, ?, ?)");
      q.bind(1, h.environment);
      q.bind(2, h.service);
      q.bind(3, h.actor);
      q.bind(4, h.reason);
      q.bind(5, h.deployment_id);
      q.bind(6, h.since != 0 ? h.since : clock_->NowSeconds());
      q.exec();
      return Status::Ok();
    });
  }

  Status RemoveHold(const std::string& environment, const std::string& service) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_, "DELETE FROM holds WHERE environment = ? AND service = ?");
      q.bind(1, environment);
      q.bind(2, service);
      if (q.exec() == 0) return NotFound(service + " is not held in " + environment);
      return Status::Ok();
    });
  }

  Result<std::map<std::string, HoldRecord>> Holds(const std::string& environment) override {
    return Guard([&]() -> Result<std::map<std::string, HoldRecord>> {
      SQLite::Statement q(db_,
                          "SELECT service, actor, reason, deployment_id, since FROM holds "
                          "WHERE environment = ? ORDER BY service");
      q.bind(1, environment);
      std::map<std::string, HoldRecord> out;
      while (q.executeStep()) {
        HoldRecord h{.environment = environment,
                     .service = q.getColumn(0).getString(),
                     .actor = q.getColumn(1).getString(),
                     .reason = q.getColumn(2).getString(),
                     .deployment_id = q.getColumn(3).getInt64(),
                     .since = q.getColumn(4).getInt64()};
        out.emplace(h.service, std::move(h));
      }
      return out;
    });
  }

  Status SetStandby(const StandbyRecord& r) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(
          db_,
          "INSERT OR REPLACE INTO standbys (environment, service, release_id, "
          "version, instance_id, deployment_id, until) VALUES (?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, r.environment);
      q.bind(2, r.service);
      q.bind(3, r.release_id);
      q.bind(4, r.version);
      q.bind(5, r.instance_id);
      q.bind(6, r.deployment_id);
      q.bind(7, r.until);
      q.exec();
      return Status::Ok();
    });
  }

  Status RemoveStandby(const std::string& environment, const std::string& service) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_, "DELETE FROM standbys WHERE environment = ? AND service = ?");
      q.bind(1, environment);
      q.bind(2, service);
      if (q.exec() == 0) return NotFound(service + " has no standby in " + environment);
      return Status::Ok();
    });
  }

  Result<std::vector<StandbyRecord>> Standbys(const std::string& environment) override {
    return Guard([&]() -> Result<std::vector<StandbyRecord>> {
      SQLite::Statement q(db_,
                          "SELECT environment, service, release_id, version, instance_id, "
                          "deployment_id, until FROM standbys WHERE ? = '' OR environment = ? "
                          "ORDER BY environment, service");
      q.bind(1, environment);
      q.bind(2, environment);
      std::vector<StandbyRecord> out;
      while (q.executeStep()) {
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                       q.getColumn(2).getString(), q.getColumn(3).getString(),
                       q.getColumn(4).getString(), q.getColumn(5).getInt64(),
                       q.getColumn(6).getInt64()});
      }
      return out;
    });
  }

  Result<int64_t> PutWriteBack(const WriteBackRecord& w) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement q(db_,
                          "INSERT INTO write_backs (environment, deployment_id, actor, reason, "
                          "files, state, base, attempts, next_attempt_at, last_error, commit_id, "
                          "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, '', '', ?)");
      q.bind(1, w.environment);
      q.bind(2, w.deployment_id);
      q.bind(3, w.actor);
      q.bind(4, w.reason);
      q.bind(5, w.files);
      q.bind(6, std::string(WriteBackStateName(w.state)));
      q.bind(7, w.base);
      q.bind(8, clock_->NowSeconds());
      q.exec();
      return db_.getLastInsertRowid();
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
                          "started_at, finished_at, outcome, reason, why, kind, approvals, "
                          "attestation_override) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)");
      q.bind(1, d.environment);
      q.bind(2, d.plan_id);
      q.bind(3, d.commit);
      q.bind(4, d.actor);
      q.bind(5, d.started_at != 0 ? d.started_at : clock_->NowSeconds());
      q.bind(6, std::string(OutcomeName(d.outcome)));
      q.bind(7, d.reason);
      q.bind(8, d.why);
      q.bind(9, d.kind);
      q.bind(10, d.approvals);
      q.bind(11, d.attestation_override);
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

  Result<std::string> PutPlan(const PlanRecord& p) override {
    return Guard([&]() -> Result<std::string> {
      std::string id = os::RandomHex(8);
      SQLite::Statement q(db_, "INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, id);
      q.bind(2, p.environment);
      q.bind(3, p.lineage);
      q.bind(4, p.serial);
      q.bind(5, p.commit);
      q.bind(6, p.actor);
      q.bind(7, clock_->NowSeconds());
      q.bind(8, p.body);
      q.exec();
      return id;
    });
  }

  Result<PlanRecord> FindPlan(const std::string& id) override {
    return Guard([&]() -> Result<PlanRecord> {
      SQLite::Statement q(db_,
                          "SELECT environment, lineage, serial, commit_id, actor, created_at, "
                          "body FROM plans WHERE id = ?");
      q.bind(1, id);
      if (!q.executeStep()) return NotFound("no plan " + id + " is saved");
      return PlanRecord{id,
                        q.getColumn(0).getString(),
                        q.getColumn(1).getString(),
                        q.getColumn(2).getInt64(),
                        q.getColumn(3).getString(),
                        q.getColumn(4).getString(),
                        q.getColumn(5).getInt64(),
                        q.getColumn(6).getString()};
    });
  }

  Status AddApproval(const ApprovalRecord& a) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_, "INSERT INTO approvals VALUES (?, ?, ?, ?, ?)");
      q.bind(1, a.plan_id);
      q.bind(2, a.approver);
      q.bind(3, a.approved ? 1 : 0);
      q.bind(4, a.comment);
      q.bind(5, clock_->NowSeconds());
      q.exec();
      return Status::Ok();
    });
  }

  Result<std::vector<ApprovalRecord>> Approvals(const std::string& plan_id) override {
    return Guard([&]() -> Result<std::vector<ApprovalRecord>> {
      SQLite::Statement q(db_,
                          "SELECT approver, approved, comment, at FROM approvals WHERE plan_id = ? "
                          "ORDER BY at, rowid");
      q.bind(1, plan_id);
      std::vector<ApprovalRecord> out;
      while (q.executeStep()) {
        out.push_back({plan_id, q.getColumn(0).getString(), q.getColumn(1).getInt() != 0,
                       q.getColumn(2).getString(), q.getColumn(3).getInt64()});
      }
      return out;
    });
  }

  Result<int64_t> DeploymentOfPlan(const std::string& plan_id) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement q(db_, "SELECT MIN(id) FROM deployments WHERE plan_id = ?");
      q.bind(1, plan_id);
      q.executeStep();
      return q.getColumn(0).isNull() ? 0 : q.getColumn(0).getInt64();
    });
  }

  Result<int64_t> AddAttestation(const AttestationRecord& a) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement q(db_,
                          "INSERT INTO attestations (kind, service, digest, release_id, "
                          "environment, from_environment, soak_seconds, payload, signature, "
                          "key_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, a.kind);
      q.bind(2, a.service);
      q.bind(3, a.digest);
      q.bind(4, a.release_id);
      q.bind(5, a.environment);
      q.bind(6, a.from);
      q.bind(7, a.soak_seconds);
      q.bind(8, a.payload);
      q.bind(9, a.signature);
      q.bind(10, a.key_id);
      q.bind(11, a.at != 0 ? a.at : clock_->NowSeconds());
      q.exec();
      return db_.getLastInsertRowid();
    });
  }

  Result<std::vector<AttestationRecord>> Attestations(const std::string& environment,
                                                      const std::string& digest) override {
    return Guard([&]() -> Result<std::vector<AttestationRecord>> {
      SQLite::Statement q(db_, std::string("SELECT ") + kAttestationColumns +
                                   " FROM attestations WHERE environment = ? AND digest = ? "
                                   "ORDER BY id");
      q.bind(1, environment);
      q.bind(2, digest);
      std::vector<AttestationRecord> out;
      while (q.executeStep()) out.push_back(ReadAttestation(q));
      return out;
    });
  }

  Result<int64_t> AppendJournal(const JournalEntry& e) override {
    return Guard([&]() -> Result<int64_t> {
      SQLite::Statement next(
          db_, "SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE deployment_id = ?");
      next.bind(1, e.deployment_id);
      next.executeStep();
      int64_t seq = next.getColumn(0).getInt64();
      SQLite::Statement q(db_, "INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?)");
      q.bind(1, e.deployment_id);
      q.bind(2, seq);
      q.bind(3, e.step);
      q.bind(4, e.service);
      q.bind(5, e.detail);
      q.bind(6, clock_->NowSeconds());
      journal_rows_ += q.exec();
      return seq;
    });
  }

  Status MarkCommitted(int64_t deployment_id) override {
    return Guard([&]() -> Status {
      SQLite::Statement q(db_,
                          "UPDATE deployments SET committed_at = ? "
                          "WHERE id = ? AND committed_at = 0 AND finished_at = 0");
      q.bind(1, clock_->NowSeconds());
      q.bind(2, deployment_id);
      if (q.exec() != 1) {
        return FailedPrecondition("deployment " + std::to_string(deployment_id) +
                                  " is not running uncommitted: it commits once");
      }
      return Status::Ok();
    });
  }

  Result<DeploymentRecord> Deployment(int64_t id) override {
    return Guard([&]() -> Result<DeploymentRecord> {
      SQLite::Statement q(
          db_, std::string("SELECT ") + kDeploymentColumns + " FROM deployments WHERE id = ?");
      q.bind(1, id);
      if (!q.executeStep()) return NotFound("no deployment " + std::to_string(id));
      return ReadDeployment(q);
    });
  }

 private:
  SQLite::Database& db_;
  std::unique_lock<std::mutex> lock_;  // released after tx_ ends (declared first)
  SyncMode sync_;                      // put back after tx_ ends
  SQLite::Transaction tx_;
  const os::Clock* clock_;
  int changes_at_begin_;
  int journal_rows_ = 0;  // rows AppendJournal wrote
};

}  // namespace

std::unique_ptr<Transaction> NewTransaction(SQLite::Database& db, std::unique_lock<std::mutex> lock,
                                            Durability durability, const os::Clock* clock) {
  return std::make_unique<SqliteTransaction>(db, std::move(lock), durability, clock);
}

}  // namespace lockstep::state::sqlite
