#include "engine/approvals.h"

#include <algorithm>
#include <boost/json.hpp>

#include "base/strings.h"

namespace lockstep::engine {

bool ApprovalState::Satisfied() const {
  return !rejection && static_cast<int>(counted.size()) >= needed;
}

std::string ApprovalState::Missing(const state::PlanRecord& plan) const {
  if (rejection) {
    return "plan " + plan.id + " was rejected by " + rejection->approver + " at " +
           FormatRfc3339(rejection->at) +
           (rejection->comment.empty() ? "" : " (\"" + rejection->comment + "\")") +
           "; a rejected plan is never applied: make a new plan (lockstep plan " +
           plan.environment + ")";
  }
  if (Satisfied()) return "";
  std::string has;
  for (const state::ApprovalRecord& a : counted) {
    has += (has.empty() ? "" : ", ") + a.approver + " at " + FormatRfc3339(a.at);
  }
  std::string old, gone;
  for (const state::ApprovalRecord& a : expired) old += (old.empty() ? "" : ", ") + a.approver;
  for (const state::ApprovalRecord& a : revoked) gone += (gone.empty() ? "" : ", ") + a.approver;
  return "plan " + plan.id + " of " + plan.environment + " needs " + std::to_string(needed) +
         " approval" + (needed == 1 ? "" : "s") + " from approvers of " + plan.environment +
         " other than its author " + plan.actor + "; it has " + std::to_string(counted.size()) +
         (has.empty() ? "" : " (" + has + ")") +
         (old.empty() ? "" : "; expired: " + old + " (approve it again)") +
         (gone.empty() ? "" : "; no longer approvers of " + plan.environment + ": " + gone) +
         ": `lockstep approve " + plan.id + "` with an approver's token";
}

ApproverStands StandsIn(const std::function<bool(const std::string&, const std::string&)>& stands,
                        const std::string& environment) {
  if (!stands) return nullptr;
  return
      [stands, environment](const std::string& approver) { return stands(approver, environment); };
}

ApprovalState EvaluateApprovals(const state::PlanRecord& plan, int needed,
                                const std::vector<state::ApprovalRecord>& decisions, int64_t now,
                                int64_t max_age_seconds, const ApproverStands& stands) {
  ApprovalState out;
  out.needed = needed;
  // Each approver's newest approval, in the order approvers first decided.
  std::vector<state::ApprovalRecord> newest;
  for (const state::ApprovalRecord& d : decisions) {
    if (!d.approved) {
      if (!out.rejection) out.rejection = d;
      continue;
    }
    // Refused when asked for; a record written otherwise still never counts.
    if (d.approver == plan.actor) continue;
    auto same = std::find_if(newest.begin(), newest.end(), [&](const state::ApprovalRecord& n) {
      return n.approver == d.approver;
    });
    if (same == newest.end()) {
      newest.push_back(d);
    } else if (d.at >= same->at) {
      *same = d;
    }
  }
  for (const state::ApprovalRecord& d : newest) {
    if (stands && !stands(d.approver)) {
      out.revoked.push_back(d);
      continue;
    }
    // One dated after now (a clock that stepped back) never counts: it would never expire.
    (now - d.at > max_age_seconds || d.at > now ? out.expired : out.counted).push_back(d);
  }
  return out;
}

std::string ApprovalsJson(const std::vector<state::ApprovalRecord>& counted) {
  if (counted.empty()) return "";
  boost::json::array out;
  for (const state::ApprovalRecord& a : counted) {
    out.push_back(boost::json::object{{"by", a.approver}, {"at", a.at}, {"comment", a.comment}});
  }
  return boost::json::serialize(out);
}

}  // namespace lockstep::engine
