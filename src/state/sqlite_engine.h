// What the SQLite implementation of StateStore shares between its files (internal to
// state/): errors from SQLite as a Status, the names stored for enums, the schema, and
// the transaction Begin hands out.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <mutex>
#include <string>

#include "os/clock.h"
#include "state/engine_state.h"

namespace lockstep::state::sqlite {

inline Status DbError(const std::exception& e) {
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

// The enum a stored name stands for (a name no lockstep writes reads as the safest value).
Outcome OutcomeFrom(const std::string& name);
Change ChangeFrom(const std::string& name);
WriteBackState WriteBackStateFrom(const std::string& name);

// The columns of a deployment row, in the order ReadDeployment takes them.
inline constexpr const char* kDeploymentColumns =
    "id, environment, plan_id, commit_id, actor, started_at, finished_at, outcome, reason, "
    "committed_at, why, kind, approvals, attestation_override";
// The columns of an attestation row, in the order ReadAttestation takes them.
inline constexpr const char* kAttestationColumns =
    "id, kind, service, digest, release_id, environment, from_environment, soak_seconds, "
    "payload, signature, key_id, at";
inline AttestationRecord ReadAttestation(SQLite::Statement& q) {
  return {q.getColumn(0).getInt64(),  q.getColumn(1).getString(),  q.getColumn(2).getString(),
          q.getColumn(3).getString(), q.getColumn(4).getString(),  q.getColumn(5).getString(),
          q.getColumn(6).getString(), q.getColumn(7).getInt64(),   q.getColumn(8).getString(),
          q.getColumn(9).getString(), q.getColumn(10).getString(), q.getColumn(11).getInt64()};
}

inline DeploymentRecord ReadDeployment(SQLite::Statement& q) {
  return {q.getColumn(0).getInt64(),   q.getColumn(1).getString(),
          q.getColumn(2).getString(),  q.getColumn(3).getString(),
          q.getColumn(4).getString(),  q.getColumn(5).getInt64(),
          q.getColumn(6).getInt64(),   OutcomeFrom(q.getColumn(7).getString()),
          q.getColumn(8).getString(),  q.getColumn(9).getInt64(),
          q.getColumn(10).getString(), q.getColumn(11).getString(),
          q.getColumn(12).getString(), q.getColumn(13).getString()};
}

// Takes the database at `path` (for errors) to this build's schema, one numbered migration
// per transaction; a newer schema is refused.
Status Migrate(SQLite::Database& db, const std::string& path);

// A BEGIN IMMEDIATE transaction on `db`, holding `lock` (the store's) until it ends.
std::unique_ptr<Transaction> NewTransaction(SQLite::Database& db, std::unique_lock<std::mutex> lock,
                                            Durability durability, const os::Clock* clock);

}  // namespace lockstep::state::sqlite
