// Approvals of saved plans, where lockstep.toml says approval = "required": which decisions
// count (distinct approvers, never the plan's author, none older than the approval age),
// and what an apply still lacks. Pure logic over recorded decisions; the engine records
// them (Engine::Decide) and an apply checks them in the transaction that records it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "state/engine_state.h"

namespace lockstep::engine {

struct ApprovalState {
  int needed = 0;
  std::vector<state::ApprovalRecord> counted;  // approvals that count, oldest first
  std::vector<state::ApprovalRecord> expired;  // approvals too old to count
  std::vector<state::ApprovalRecord> revoked;  // by tokens that no longer approve here
  std::optional<state::ApprovalRecord> rejection;

  // Enough approvals and no rejection.
  bool Satisfied() const;
  // What an apply of `plan` lacks, for people: "" when satisfied.
  std::string Missing(const state::PlanRecord& plan) const;
};

// Whether an approver (a token's name) still approves plans of the environment.
using ApproverStands = std::function<bool(const std::string& approver)>;

// `stands` (approver, environment) for one environment; unset when `stands` is.
ApproverStands StandsIn(const std::function<bool(const std::string&, const std::string&)>& stands,
                        const std::string& environment);

// The state of `plan`'s approvals at `now`, from every decision on it; an approval by one
// `stands` denies (revoked, or narrowed since) does not count.
ApprovalState EvaluateApprovals(const state::PlanRecord& plan, int needed,
                                const std::vector<state::ApprovalRecord>& decisions, int64_t now,
                                int64_t max_age_seconds, const ApproverStands& stands = nullptr);

// The approvals a deployment goes out with, as recorded with it: [{"by", "at", "comment"}].
std::string ApprovalsJson(const std::vector<state::ApprovalRecord>& counted);

}  // namespace lockstep::engine
