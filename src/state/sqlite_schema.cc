// The engine database's schema: migrations numbered in code, run in order, one
// transaction each; the schema version is the file's user_version.
#include "state/sqlite_engine.h"

namespace lockstep::state::sqlite {

namespace {

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
    // 2: applies: the instance each service is routed to, saved plans, the journal.
    "ALTER TABLE current ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE deployments ADD COLUMN committed_at INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE plans ("
    " id TEXT PRIMARY KEY, environment TEXT NOT NULL, lineage TEXT NOT NULL,"
    " serial INTEGER NOT NULL, commit_id TEXT NOT NULL, actor TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, body TEXT NOT NULL);"
    "CREATE TRIGGER plans_no_update BEFORE UPDATE ON plans"
    " BEGIN SELECT RAISE(ABORT, 'plans are immutable'); END;"
    "CREATE TABLE journal ("
    " deployment_id INTEGER NOT NULL REFERENCES deployments(id), seq INTEGER NOT NULL,"
    " step TEXT NOT NULL, service TEXT NOT NULL, detail TEXT NOT NULL, at INTEGER NOT NULL,"
    " PRIMARY KEY (deployment_id, seq));"
    "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal"
    " BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;"
    "CREATE INDEX deployments_unfinished ON deployments (outcome, id);",
    // 3: runs of functions (a scheduled minute is run once); why a deployment was asked for.
    "ALTER TABLE deployments ADD COLUMN why TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE invocations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, environment TEXT NOT NULL, function TEXT NOT NULL,"
    " release_id TEXT NOT NULL, trigger TEXT NOT NULL, actor TEXT NOT NULL,"
    " scheduled_for INTEGER NOT NULL, started_at INTEGER NOT NULL,"
    " finished_at INTEGER NOT NULL, invocation_id TEXT NOT NULL, exit_code INTEGER NOT NULL,"
    " duration_ms INTEGER NOT NULL, timed_out INTEGER NOT NULL, out_of_memory INTEGER NOT NULL,"
    " error TEXT NOT NULL);"
    "CREATE INDEX invocations_by_function ON invocations (environment, function, id);"
    "CREATE UNIQUE INDEX invocations_scheduled ON invocations (environment, function,"
    " scheduled_for) WHERE scheduled_for > 0;"
    "CREATE INDEX invocations_running ON invocations (finished_at) WHERE finished_at = 0;",
    // 4: rollbacks are deployments of their own kind; a rolled-back service is held.
    "ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'apply';"
    "CREATE TABLE holds ("
    " environment TEXT NOT NULL, service TEXT NOT NULL, actor TEXT NOT NULL,"
    " reason TEXT NOT NULL, deployment_id INTEGER NOT NULL, since INTEGER NOT NULL,"
    " PRIMARY KEY (environment, service));",
    // 5: what a rollback owes the deploy repository, until pushed.
    "CREATE TABLE write_backs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, environment TEXT NOT NULL,"
    " deployment_id INTEGER NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,"
    " files TEXT NOT NULL, state TEXT NOT NULL, base TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " next_attempt_at INTEGER NOT NULL, last_error TEXT NOT NULL, commit_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX write_backs_open ON write_backs (state, id) WHERE state != 'done';",
    // 6: instances kept for an instant rollback.
    "CREATE TABLE standbys ("
    " environment TEXT NOT NULL, service TEXT NOT NULL, release_id TEXT NOT NULL,"
    " version TEXT NOT NULL, instance_id TEXT NOT NULL, deployment_id INTEGER NOT NULL,"
    " until INTEGER NOT NULL, PRIMARY KEY (environment, service));",
    // 7: approvals of saved plans, and those a deployment went out with.
    "CREATE TABLE approvals ("
    " plan_id TEXT NOT NULL REFERENCES plans(id), approver TEXT NOT NULL,"
    " approved INTEGER NOT NULL, comment TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX approvals_of_plan ON approvals (plan_id, at);"
    "CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals"
    " BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;"
    "CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals"
    " BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;"
    "CREATE INDEX plans_by_environment ON plans (environment, created_at);"
    "CREATE INDEX deployments_by_plan ON deployments (plan_id);"
    "ALTER TABLE deployments ADD COLUMN approvals TEXT NOT NULL DEFAULT '';",
    // 8: attestations, and why an apply went out without one.
    "CREATE TABLE attestations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, service TEXT NOT NULL,"
    " digest TEXT NOT NULL, release_id TEXT NOT NULL, environment TEXT NOT NULL,"
    " from_environment TEXT NOT NULL, soak_seconds INTEGER NOT NULL, payload TEXT NOT NULL,"
    " signature TEXT NOT NULL, key_id TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX attestations_by_digest ON attestations (environment, digest);"
    "CREATE INDEX attestations_by_service ON attestations (service, id);"
    "CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations"
    " BEGIN SELECT RAISE(ABORT, 'attestations are append-only'); END;"
    "CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations"
    " BEGIN SELECT RAISE(ABORT, 'attestations are append-only'); END;"
    "ALTER TABLE deployments ADD COLUMN attestation_override TEXT NOT NULL DEFAULT '';",
};

}  // namespace

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

Outcome OutcomeFrom(const std::string& name) {
  for (Outcome o : {Outcome::kRunning, Outcome::kSucceeded, Outcome::kFailed, Outcome::kNoChange}) {
    if (OutcomeName(o) == name) return o;
  }
  return Outcome::kFailed;
}

WriteBackState WriteBackStateFrom(const std::string& name) {
  for (WriteBackState w : {WriteBackState::kPending, WriteBackState::kDone}) {
    if (WriteBackStateName(w) == name) return w;
  }
  return WriteBackState::kConflict;  // a person looks at what lockstep cannot read
}

Change ChangeFrom(const std::string& name) {
  for (Change c : {Change::kAdded, Change::kChanged, Change::kRemoved}) {
    if (ChangeName(c) == name) return c;
  }
  return Change::kChanged;
}

}  // namespace lockstep::state::sqlite
