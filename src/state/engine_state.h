// The engine's recorded state, behind an interface a second database can implement
// without the engine changing: no SQL and no database types here; a transaction is an
// explicit unit (committed whole or not at all); the store, not the engine, assigns
// serials, ids and fencing tokens.
//
//   environments  a lineage (set once, when the environment is first recorded) and a
//                 serial bumped only by a change that was really applied
//   releases      immutable, keyed by the release id the runtime computes
//   current       the release each service of each environment runs
//   deployments   one per apply: plan, commit, who, when, outcome, reason
//   history       append-only: each change of each service
//   audit         append-only: each state-changing API call, with the token's name
//   leases        one per environment: holder, expiry, heartbeat, and a fencing token
//                 every state write of an apply checks
//   holds         the services no automated path moves (set by a rollback, released by a
//                 person)
//   standbys      the instance each service ran before its last apply, kept for an
//                 instant rollback until its window ends
//   write_backs   changes owed to the deploy repository (a rollback's), until pushed
//   invocations   each run of a function (called, or on its schedule): recorded when it
//                 starts, completed when it ends
//
// Each store keeps its own database file (the SQLite store's schema version is the file's
// user_version). Times are Unix seconds from the store's clock. Thread-safe; while a thread holds
// an open Transaction it uses only that transaction's methods.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "os/clock.h"

namespace lockstep::state {

struct EnvironmentRecord {
  std::string name;
  std::string lineage;  // random, made when the environment is first recorded
  int64_t serial = 0;   // 0: nothing applied yet
  std::string commit;   // of the deploy repository, as of the last applied change
  int64_t updated_at = 0;
};

// What a service of an environment runs, as recorded.
struct CurrentRecord {
  std::string environment;
  std::string service;
  std::string release_id;
  std::string version;
  std::string details;  // what travels with the release (port, drain, schedule), as JSON
  int64_t deployment_id = 0;
  int64_t since = 0;
  std::string instance_id;   // services: the instance routed for it (empty for functions)
  std::string release_spec;  // the release's spec, as PutRelease recorded it (read only)
};

enum class Outcome { kRunning, kSucceeded, kFailed, kNoChange };
std::string_view OutcomeName(Outcome outcome);

struct DeploymentRecord {
  int64_t id = 0;  // assigned by the store
  std::string environment;
  std::string plan_id;
  std::string commit;
  std::string actor;  // the token's name
  int64_t started_at = 0;
  int64_t finished_at = 0;  // 0 while running
  Outcome outcome = Outcome::kRunning;
  std::string reason;          // for a failure: what a person needs to know
  int64_t committed_at = 0;    // when its state transaction committed (0: not, or not yet)
  std::string why;             // the requester's reason (--reason), for history
  std::string kind = "apply";  // "apply" or "rollback"
  // The approvals it went out with, as JSON: [{"by", "at", "comment"}] ("" for none).
  std::string approvals;
  // Why an admin applied it without the upstream attestation it lacked ("" for none).
  std::string attestation_override;
};

// A service no automated path moves (a rollback holds what it put back) until a person
// releases it: plans show what git would change, applies leave it as it runs.
struct HoldRecord {
  std::string environment;
  std::string service;
  std::string actor;  // who held it
  std::string reason;
  int64_t deployment_id = 0;  // the rollback that held it (0: held by hand)
  int64_t since = 0;          // set by the store when 0
};

// A saved plan, immutable once stored.
struct PlanRecord {
  std::string id;  // assigned by the store
  std::string environment;
  std::string lineage;  // the environment's when the plan was made ("" before its first apply)
  int64_t serial = 0;
  std::string commit;
  std::string actor;
  int64_t created_at = 0;  // set by the store
  std::string body;        // the plan, as the engine encodes it
};

// One approver's decision on a saved plan. Append-only: a rejection is final, and an
// approval counts until it is older than the approval age (then it may be given again).
struct ApprovalRecord {
  std::string plan_id;
  std::string approver;  // the token's name
  bool approved = true;  // false: rejected
  std::string comment;
  int64_t at = 0;  // set by the store
};

// A signed statement the engine made (attest/): as stored, with the fields it is looked up
// by. Append-only. What it says is its payload, which only a valid signature vouches for.
struct AttestationRecord {
  int64_t id = 0;    // assigned by the store
  std::string kind;  // "soak" or "promotion"
  std::string service;
  std::string digest;  // the image manifest's
  std::string release_id;
  std::string environment;  // where it soaked, or where it was promoted to
  std::string from;         // a promotion: where it came from
  int64_t soak_seconds = 0;
  std::string payload;
  std::string signature;
  std::string key_id;
  int64_t at = 0;
};

// A saved plan as listed: the plan, the deployment that applied it (0: none yet) and every
// decision on it, oldest first.
struct PlanListing {
  PlanRecord plan;
  int64_t deployment_id = 0;
  std::vector<ApprovalRecord> approvals;
};

// One step of a deployment, recorded before it is taken.
struct JournalEntry {
  int64_t deployment_id = 0;
  int64_t seq = 0;      // assigned by the store: 1, 2, ... per deployment
  std::string step;     // "prepare", "start", "healthy", "commit", "switch", "retire"...
  std::string service;  // empty for steps of the whole deployment
  std::string detail;   // for people: the release, the instance, what failed
  int64_t at = 0;       // set by the store
};

enum class Change { kAdded, kChanged, kRemoved };
std::string_view ChangeName(Change change);

struct HistoryRecord {
  int64_t id = 0;  // assigned by the store
  std::string environment;
  std::string service;
  int64_t deployment_id = 0;
  Change change = Change::kChanged;
  std::string from_release;  // empty when added
  std::string to_release;    // empty when removed
  std::string version;
  int64_t at = 0;
};

struct AuditRecord {
  int64_t id = 0;  // assigned by the store
  int64_t at = 0;  // set by the store
  std::string actor;
  std::string action;  // "apply", "unlock"...
  std::string target;  // "prod", "prod/web"...
  std::string detail;
};

struct Lease {
  std::string environment;
  std::string holder;
  int64_t fence = 0;  // grows with every new holder of the environment's lease
  int64_t expires_at = 0;
};

// One run of a function of an environment's current release.
struct InvocationRecord {
  int64_t id = 0;  // assigned by the store
  std::string environment;
  std::string function;
  std::string release_id;
  std::string trigger;        // "call" (the API or the CLI) or "schedule"
  std::string actor;          // the token's name; "schedule" for a scheduled run
  int64_t scheduled_for = 0;  // a scheduled run: the minute it is for (Unix seconds)
  int64_t started_at = 0;     // set by the store
  int64_t finished_at = 0;    // 0 while it runs
  std::string invocation_id;  // the target's, for its log
  int exit_code = 0;
  int64_t duration_ms = 0;
  bool timed_out = false;
  bool out_of_memory = false;
  std::string error;  // it could not run (or the server stopped while it ran): why
};

// The instance a service ran before its last apply, kept running unrouted until `until` so
// that a rollback to it is a switch of routes (at most one per service).
struct StandbyRecord {
  std::string environment;
  std::string service;
  std::string release_id;
  std::string version;
  std::string instance_id;
  int64_t deployment_id = 0;  // the apply that replaced it
  int64_t until = 0;          // Unix seconds: retired then
};

// A change lockstep owes the deploy repository: after a rollback, the files of the services
// it put back made to say what they said when those releases were made. Kept until it is
// pushed (retried with backoff) or needs a person.
enum class WriteBackState { kPending, kDone, kConflict };
std::string_view WriteBackStateName(WriteBackState state);

struct WriteBackRecord {
  int64_t id = 0;  // assigned by the store
  std::string environment;
  int64_t deployment_id = 0;  // the rollback
  std::string actor;
  std::string reason;
  // JSON: [{"service", "source", "from", "to"}]: the commit whose file each service's
  // release came from, and the versions it went from and to.
  std::string files;
  WriteBackState state = WriteBackState::kPending;
  std::string base;  // the branch's head when it was first tried ("" before)
  int attempts = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;
  std::string commit;      // what was pushed, once done
  int64_t created_at = 0;  // set by the store
};

// One unit of change. Destroyed without Commit, nothing of it happened.
class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual Status Commit() = 0;

  // The environment, recorded (with a fresh lineage, serial 0) if it was not.
  virtual Result<EnvironmentRecord> Environment(const std::string& name) = 0;
  // The environment if it is recorded; nothing is written.
  virtual Result<std::optional<EnvironmentRecord>> FindEnvironment(const std::string& name) = 0;
  virtual Result<std::map<std::string, CurrentRecord>> Current(const std::string& environment) = 0;
  // kNotFound for an unknown id.
  virtual Result<std::string> Release(const std::string& release_id) = 0;

  // kAborted unless `fence` is the fencing token of the environment's newest lease: a
  // holder that lost its lease writes nothing more.
  virtual Status CheckFence(const std::string& environment, int64_t fence) = 0;
  // Records a release; the same id again must come with the same spec (releases are
  // immutable: kFailedPrecondition otherwise).
  virtual Status PutRelease(const std::string& release_id, const std::string& spec) = 0;
  virtual Status SetCurrent(const CurrentRecord& record) = 0;
  virtual Status RemoveCurrent(const std::string& environment, const std::string& service) = 0;
  // The environment's next serial, with `commit` as what it now runs.
  virtual Result<int64_t> BumpSerial(const std::string& environment, const std::string& commit) = 0;
  virtual Result<int64_t> StartDeployment(const DeploymentRecord& record) = 0;
  virtual Status FinishDeployment(int64_t id, Outcome outcome, const std::string& reason) = 0;
  virtual Result<int64_t> AppendHistory(const HistoryRecord& record) = 0;
  // Holds a service (replacing a hold it had); RemoveHold is kNotFound when it had none.
  virtual Status SetHold(const HoldRecord& record) = 0;
  virtual Status RemoveHold(const std::string& environment, const std::string& service) = 0;
  virtual Result<std::map<std::string, HoldRecord>> Holds(const std::string& environment) = 0;
  // The standby of a service (replacing the one it had); RemoveStandby is kNotFound when
  // it had none.
  virtual Status SetStandby(const StandbyRecord& record) = 0;
  virtual Status RemoveStandby(const std::string& environment, const std::string& service) = 0;
  // `environment`'s standbys (every environment's when empty), by environment and service.
  virtual Result<std::vector<StandbyRecord>> Standbys(const std::string& environment) = 0;
  // Records a write-back owed to the deploy repository; returns its id.
  virtual Result<int64_t> PutWriteBack(const WriteBackRecord& record) = 0;
  virtual Result<int64_t> AppendAudit(const AuditRecord& record) = 0;

  // Stores a plan; returns its id.
  virtual Result<std::string> PutPlan(const PlanRecord& record) = 0;
  // kNotFound for an unknown id.
  virtual Result<PlanRecord> FindPlan(const std::string& id) = 0;
  virtual Status AddApproval(const ApprovalRecord& record) = 0;
  // Oldest first.
  virtual Result<std::vector<ApprovalRecord>> Approvals(const std::string& plan_id) = 0;
  // The deployment that applied `plan_id`, or 0.
  virtual Result<int64_t> DeploymentOfPlan(const std::string& plan_id) = 0;
  virtual Result<int64_t> AddAttestation(const AttestationRecord& record) = 0;
  // Those of `environment` about `digest`, oldest first.
  virtual Result<std::vector<AttestationRecord>> Attestations(const std::string& environment,
                                                              const std::string& digest) = 0;
  virtual Result<int64_t> AppendJournal(const JournalEntry& entry) = 0;
  // The deployment reached its commit point: what it applied is the recorded state.
  virtual Status MarkCommitted(int64_t deployment_id) = 0;
  // kNotFound for an unknown id.
  virtual Result<DeploymentRecord> Deployment(int64_t id) = 0;
};

// How a transaction's commit waits for the disk (see StateStore::BeginJournal).
enum class Durability { kSynced, kJournal };

class StateStore {
 public:
  virtual ~StateStore() = default;

  // A transaction; one writes at a time (others wait for it; another process's writer is
  // waited for up to SQLite's busy timeout, then kUnavailable).
  virtual Result<std::unique_ptr<Transaction>> Begin() = 0;
  // A transaction that appends journal rows and writes nothing else (its commit is refused
  // otherwise). Its commit does not wait for the disk: it is as atomic as any and outlives
  // a kill -9 of the process, but a power loss may take the last of them back (nothing
  // they describe runs after one); the next commit of Begin() takes them to disk with it.
  virtual Result<std::unique_ptr<Transaction>> BeginJournal() { return Begin(); }

  // The environment's lease for `holder` for `ttl`: kAborted naming the holder and until
  // when if another holds an unexpired one. Taking an expired lease over gives a new fence.
  virtual Result<Lease> AcquireLease(const std::string& environment, const std::string& holder,
                                     std::chrono::seconds ttl) = 0;
  // Extends a held lease (the heartbeat); kAborted if it was lost, expiry included: a lease
  // that lapsed is not brought back.
  virtual Result<Lease> RenewLease(const Lease& lease, std::chrono::seconds ttl) = 0;
  virtual Status ReleaseLease(const Lease& lease) = 0;
  // Ends whoever holds the environment's lease now (`lockstep unlock`), audited with
  // `actor`; the old holder's fence no longer passes. kNotFound when nothing holds it.
  virtual Status BreakLease(const std::string& environment, const std::string& actor) = 0;
  virtual Result<std::optional<Lease>> LeaseOf(const std::string& environment) = 0;

  virtual Result<std::vector<EnvironmentRecord>> Environments() = 0;
  virtual Result<std::vector<DeploymentRecord>> Deployments(const std::string& environment,
                                                            int limit) = 0;
  // Newest first; `service` empty for every service of the environment.
  virtual Result<std::vector<HistoryRecord>> History(const std::string& environment,
                                                     const std::string& service, int limit) = 0;
  // Attestations of `service` (empty: any) about `digest` (empty: any), newest first.
  virtual Result<std::vector<AttestationRecord>> ListAttestations(const std::string& service,
                                                                  const std::string& digest,
                                                                  int limit) = 0;
  // The saved plans of `environment`, newest first.
  virtual Result<std::vector<PlanListing>> Plans(const std::string& environment, int limit) = 0;
  // Newest first, at most `limit` of those at or after `since` (seconds since the epoch).
  virtual Result<std::vector<AuditRecord>> Audit(int64_t since, int limit) = 0;
  // One audit record, in a transaction of its own: for a change made elsewhere (the
  // registry, tokens) that the audit log must show.
  virtual Status Audited(const AuditRecord& record) = 0;
  // Oldest first; `after` a seq to read only what followed it.
  virtual Result<std::vector<JournalEntry>> Journal(int64_t deployment_id, int64_t after) = 0;
  // Deployments still running, of every environment, oldest first (after a crash: what
  // recovery finishes or undoes).
  virtual Result<std::vector<DeploymentRecord>> Unfinished() = 0;

  // Records that an invocation starts; returns its id. A scheduled run is recorded once per
  // function and minute: nullopt when that minute's run was already recorded (by a server
  // that ran before this one, say).
  virtual Result<std::optional<int64_t>> StartInvocation(const InvocationRecord& record) = 0;
  // Completes the invocation `record.id` with its outcome (exit code, duration, error...).
  virtual Status FinishInvocation(const InvocationRecord& record) = 0;
  // Newest first; `function` empty for every function of the environment.
  virtual Result<std::vector<InvocationRecord>> Invocations(const std::string& environment,
                                                            const std::string& function,
                                                            int limit) = 0;
  // The write-backs of `environment` (every environment when empty) not done, oldest first.
  virtual Result<std::vector<WriteBackRecord>> OpenWriteBacks(const std::string& environment) = 0;
  // Stores the outcome of an attempt: state, base, attempts, next attempt, error, commit.
  virtual Status UpdateWriteBack(const WriteBackRecord& record) = 0;

  // Completes every invocation still recorded as running with `error` (when the server
  // starts: no run outlives the process that ran it); returns how many.
  virtual Result<int> AbandonInvocations(const std::string& error) = 0;
};

// The SQLite store at `path` (WAL, synchronous=FULL), its schema migrated forward to this
// build's; a database of a newer schema is refused.
Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& path,
                                                         const os::Clock* clock);

}  // namespace lockstep::state
