// The attestations the engine makes and checks (attest/ signs them). A soak attestation
// says a release was live, and healthy, in an environment for as long as the environment
// promoted from it asks (that one's `soak`); a promotion attestation says who moved it on,
// when, after what. Each is signed, stored (state: attestations) and handed to `publish`
// (lockstep serve pushes it to its registry as a referrer of the image). An apply to an
// environment with `promote_from` needs, for every digest it brings, one of the upstream
// environment's (MissingAttestations).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attest/attestation.h"
#include "deploy/repo.h"
#include "engine/plan.h"
#include "os/clock.h"
#include "runtime/target.h"
#include "state/engine_state.h"

namespace lockstep::engine {

class Attestor {
 public:
  using Publish = std::function<Status(const state::AttestationRecord&)>;
  // `signer` null: nothing is attested, and every apply needing an attestation is refused.
  Attestor(state::StateStore& store, runtime::Target& target, const attest::Signer* signer,
           const os::Clock& clock);

  void SetPublish(Publish publish) { publish_ = std::move(publish); }
  const attest::Signer* signer() const { return signer_; }

  // Signs `a` (its `at` set now), stores it and publishes it (a failure to publish is
  // returned in `published`; the attestation stands).
  struct Recorded {
    state::AttestationRecord record;
    Status published;
  };
  Result<Recorded> Record(attest::Attestation a);

  // For each environment another promotes from, each current release live there at least
  // as long as the largest such `soak`, and healthy now, is attested once per release.
  // Returns what it attested, for the log.
  Result<std::vector<std::string>> AttestSoaks(const deploy::DeployRepo& repo);

  // How `release` of `service` in `environment` stands: "" when healthy (or a function,
  // which has no health check), else why not ("unhealthy in staging since
  // 2026-12-07T10:02:00Z: health check /health: HTTP 503").
  std::string Unhealthy(const state::CurrentRecord& current);

 private:
  state::StateStore& store_;
  runtime::Target& target_;
  const attest::Signer* signer_;
  const os::Clock& clock_;
  Publish publish_;
};

// For a plan of an environment that promotes from another (`plan.promote_from`), what it
// brings without a valid attestation from there: each service whose digest changes needs a
// soak attestation of the upstream environment of at least `plan.soak_seconds`, or a
// promotion attestation from there to here, signed by the key of `public_key_pem`. One
// line per service lacking one; empty when none does (or the plan needs none).
std::vector<std::string> MissingAttestations(state::Transaction& tx, const Plan& plan,
                                             const std::string& public_key_pem);

// "4m12s", "30m", "2h5m".
std::string Span(int64_t seconds);

}  // namespace lockstep::engine
