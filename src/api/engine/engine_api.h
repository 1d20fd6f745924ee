// The engine's JSON API at /api/v1/ on lockstep serve's listener:
//
//   GET  /api/v1/environments                       every recorded environment
//   GET  /api/v1/environments/ENV                   its status: each service, what runs
//   GET  /api/v1/environments/ENV/history           ?service=S&limit=N (applies, function runs)
//   GET  /api/v1/environments/ENV/services/S/logs   ?bytes=N: the instance's or last run's log
//   POST /api/v1/environments/ENV/functions/F/invoke  the event is the body; the output comes back
//   POST /api/v1/environments/ENV/plans             {"revision": REV} → a saved plan
//   POST /api/v1/environments/ENV/deployments      {"reason"}: plan and apply in one step → 202
//                                                   (refused where approval is required)
//   POST /api/v1/environments/ENV/rollbacks         {"service", "to", "reason"} → 202, as an apply
//   POST /api/v1/environments/ENV/holds/S/release   {"reason"}: S may move again (audited)
//   POST /api/v1/environments/ENV/unlock            ends the lease early (audited)
//   GET  /api/v1/environments/ENV/plans             ?all=1: saved plans waiting (or every one)
//   GET  /api/v1/plans/ID                           a saved plan, with its approvals
//   POST /api/v1/plans/ID/approvals                 {"decision", "comment"}: approve or reject
//   POST /api/v1/deployments                        {"plan_id": ID, "reason": TEXT} → 202
//   GET  /api/v1/deployments/ID                     ?after=SEQ: its record and its steps
//   GET  /api/v1/audit                              ?since=EPOCH&limit=N: every state change
//   POST /api/v1/environments/ENV/promotions        {"from", "services" | "all", "reason"}:
//                                                   pin ENV to what runs in its promote_from
//   GET  /api/v1/attestations                       ?service=S&digest=D: signed statements
//   GET  /api/v1/attestations/key                   the public key they verify with (no token)
//   POST /api/v1/hooks/git                          a git host's push: fetch now
//
// Every request but the webhook needs a token, and each endpoint the action of
// core/access.h its table (`Routes()`) names, about the environment of its path or of the
// plan it names. A one-step apply refuses (503) when the deploy repository cannot be
// fetched; a plan is then of what was fetched before, and says so.
// Errors are {"error": {"code", "message", "field"?}} with a stable code. What blocks
// (the store, git, the target) runs on the blocking pool, never on a connection's thread;
// an apply is a job whose id comes back at once.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "auth/auth.h"
#include "core/access.h"
#include "engine/engine.h"
#include "http/blocking_pool.h"
#include "http/exchange.h"

namespace lockstep::api {

struct EngineApiOptions {
  std::string branch = "main";  // what a plan without a revision plans
  std::string webhook_secret;   // empty: the webhook is off
  // Fetches the deploy repository (the webhook's work); runs on the blocking pool.
  std::function<Status()> fetch;
  // Where function calls run (each as long as the function does); the blocking pool if null.
  http::BlockingPool* invoke_pool = nullptr;
};

class EngineApi {
 public:
  EngineApi(engine::Engine* engine, const auth::Authenticator* auth, http::BlockingPool* pool,
            EngineApiOptions options);

  http::Task<void> Handle(http::Exchange& ex);

  // What an endpoint's action is about.
  enum class Subject {
    kNone,         // nothing in particular (reads of recorded state)
    kEnvironment,  // the environment of its path (segment 1)
    kPlan,         // the environment of the saved plan it names, checked once it is read
  };
  struct Call;
  using Handler = Result<http::Response> (EngineApi::*)(const Call& call);
  // Who may call an endpoint at all.
  enum class Auth {
    kToken,   // a token whose grants allow `action`
    kSecret,  // the webhook's shared secret, never a token
    kOpen,    // anyone: what is public by design (the attestation key)
  };
  struct Route {
    std::string_view method;
    std::string_view shape;  // path segments after /api/v1, "*" for any one
    Action action;
    Subject subject;
    Auth auth = Auth::kToken;
    Handler handler = nullptr;
  };
  // Every endpoint, once: the one table of what each needs.
  static std::span<const Route> Routes();

 private:
  http::Task<void> Dispatch(http::Exchange& ex, Call& call);

  Result<http::Response> ListEnvironments(const Call& call);
  Result<http::Response> ShowEnvironment(const Call& call);
  Result<http::Response> ShowHistory(const Call& call);
  Result<http::Response> ShowAudit(const Call& call);
  Result<http::Response> ShowLogs(const Call& call);
  Result<http::Response> Invoke(const Call& call);
  Result<http::Response> SavePlan(const Call& call);
  Result<http::Response> ShowPlan(const Call& call);
  Result<http::Response> ListPlans(const Call& call);
  Result<http::Response> DecidePlan(const Call& call);
  Result<http::Response> Unlock(const Call& call);
  Result<http::Response> PlanAndApply(const Call& call);
  Result<http::Response> Rollback(const Call& call);
  Result<http::Response> ReleaseHold(const Call& call);
  Result<http::Response> ApplySaved(const Call& call);
  Result<http::Response> ShowDeployment(const Call& call);
  Result<http::Response> Webhook(const Call& call);
  Result<http::Response> PromoteInto(const Call& call);
  Result<http::Response> ListAttestations(const Call& call);
  Result<http::Response> AttestationKey(const Call& call);

  // Why fetching the deploy repository failed; empty when it did not (or no remote is
  // configured).
  std::string FetchFailure() const;

  engine::Engine* engine_;
  const auth::Authenticator* auth_;
  http::BlockingPool* pool_;
  EngineApiOptions options_;
};

// The JSON error body and HTTP status for `status`; `field` names the bad input, if any.
http::Response ApiError(const Status& status, std::string_view field = "");

}  // namespace lockstep::api
