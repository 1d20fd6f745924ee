// Promotions: the artifact a service runs, live and healthy, in one environment pinned in
// the next (the one whose `promote_from` names it), once it has run there as long as the
// next one's `soak` asks. Only `version` and `digest` move: the next environment's own
// settings in its file stay its own. The pin is one commit on the deploy repository's
// branch for every service promoted (deploy/rewrite.h: comments and layout survive),
// pushed, never forced; each promotion is attested (attestations.h). The environment is
// then applied as any other: its plan shows the new artifact, and where approval is
// required the plan waits for it.
#pragma once

#include <string>
#include <vector>

#include "engine/attestations.h"
#include "engine/planner.h"

namespace lockstep::engine {

struct PromoteRequest {
  std::string from, to;
  std::vector<std::string> services;  // with `all` empty: every service whose artifact differs
  bool all = false;
  std::string reason;
  std::string branch = "main";
};

struct Promoted {
  std::string service;
  std::string version;
  std::string digest;
  std::string release_id;  // in `from`
  int64_t live_seconds = 0;
  int64_t attestation_id = 0;
};

struct PromoteResult {
  std::vector<Promoted> promoted;  // empty: `to` already pins what `from` runs
  std::string commit;              // the pin's commit, pushed ("" when nothing moved)
};

// Refused, changing nothing, when `to` does not promote from `from`, a service is not live
// in `from`, is unhealthy there, has not run there for `to`'s soak, or is held in `to`;
// every reason is given at once.
Result<PromoteResult> Promote(const PlanSources& sources, Attestor& attestor,
                              const os::Clock& clock, const PromoteRequest& request,
                              const std::string& actor);

}  // namespace lockstep::engine
