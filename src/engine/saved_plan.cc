#include "engine/saved_plan.h"

#include <algorithm>
#include <boost/json.hpp>

#include "base/json.h"

namespace lockstep::engine {

namespace bj = boost::json;

namespace {

constexpr int64_t kFormat = 1;

bj::object Side(const std::string& version, const std::string& digest, const std::string& release) {
  return {{"version", version}, {"digest", digest}, {"release", release}};
}

Result<Action> ActionFrom(const std::string& name) {
  for (Action a : {Action::kNone, Action::kAdd, Action::kChange, Action::kRemove}) {
    if (ActionName(a) == name) return a;
  }
  return InvalidArgument("unknown action " + name);
}

Result<ServicePlan> ReadServicePlan(const json::ObjectView& o) {
  ServicePlan s;
  LS_ASSIGN_OR_RETURN(s.service, o.String("service"));
  LS_ASSIGN_OR_RETURN(std::string action, o.String("action"));
  LS_ASSIGN_OR_RETURN(s.action, ActionFrom(action));
  LS_ASSIGN_OR_RETURN(std::string kind, o.String("kind"));
  s.kind =
      kind == KindName(ReleaseKind::kFunction) ? ReleaseKind::kFunction : ReleaseKind::kService;
  for (auto [key, version, digest, release] :
       {std::tuple{"from", &s.from_version, &s.from_digest, &s.from_release},
        std::tuple{"to", &s.to_version, &s.to_digest, &s.to_release}}) {
    LS_ASSIGN_OR_RETURN(json::ObjectView side, o.Object(key));
    LS_ASSIGN_OR_RETURN(*version, side.String("version"));
    LS_ASSIGN_OR_RETURN(*digest, side.String("digest"));
    LS_ASSIGN_OR_RETURN(*release, side.String("release"));
  }
  LS_ASSIGN_OR_RETURN(json::ArrayView changes, o.Array("changes"));
  LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> items, changes.Objects());
  for (const json::ObjectView& c : items) {
    KeyChange k;
    LS_ASSIGN_OR_RETURN(k.key, c.String("key"));
    LS_ASSIGN_OR_RETURN(k.from, c.String("from"));
    LS_ASSIGN_OR_RETURN(k.to, c.String("to"));
    s.changes.push_back(std::move(k));
  }
  LS_ASSIGN_OR_RETURN(s.drift, o.String("drift"));
  return s;
}

bj::object EncodeServicePlan(const ServicePlan& s) {
  bj::array changes;
  for (const KeyChange& k : s.changes) {
    changes.push_back(bj::object{{"key", k.key}, {"from", k.from}, {"to", k.to}});
  }
  return bj::object{{"service", s.service},
                    {"action", ActionName(s.action)},
                    {"kind", KindName(s.kind)},
                    {"from", Side(s.from_version, s.from_digest, s.from_release)},
                    {"to", Side(s.to_version, s.to_digest, s.to_release)},
                    {"changes", std::move(changes)},
                    {"drift", s.drift}};
}

Result<Plan> Decode(const state::PlanRecord& record) {
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(record.body, "saved plan"));
  LS_ASSIGN_OR_RETURN(json::ObjectView root, json::ObjectView::Of(doc, ""));
  LS_ASSIGN_OR_RETURN(int64_t format, root.Int("format"));
  if (format != kFormat) return InvalidArgument("format " + std::to_string(format));
  Plan plan;
  plan.environment = record.environment;
  plan.commit = record.commit;
  plan.lineage = record.lineage;
  plan.serial = record.serial;
  LS_ASSIGN_OR_RETURN(std::optional<std::string> approval, root.OptionalString("approval"));
  plan.approval_required = approval == "required";
  if (root.Has("approvals")) {
    LS_ASSIGN_OR_RETURN(int64_t needed, root.Int("approvals"));
    plan.approvals_needed = static_cast<int>(std::clamp<int64_t>(needed, 0, 10));
    // Required means at least one, whatever was written.
    if (plan.approval_required) plan.approvals_needed = std::max(plan.approvals_needed, 1);
  } else if (plan.approval_required) {
    plan.approvals_needed = 1;  // saved before approvals were counted
  }
  LS_ASSIGN_OR_RETURN(std::optional<std::string> promote_from, root.OptionalString("promote_from"));
  plan.promote_from = promote_from.value_or("");
  if (root.Has("soak")) {
    LS_ASSIGN_OR_RETURN(plan.soak_seconds, root.Int("soak"));
  }
  LS_ASSIGN_OR_RETURN(std::optional<std::string> kind, root.OptionalString("kind"));
  plan.kind = kind.value_or("apply");
  if (plan.kind != "apply" && plan.kind != "rollback") return InvalidArgument("kind " + plan.kind);
  if (root.Has("rollback_window")) {
    LS_ASSIGN_OR_RETURN(plan.rollback_window_seconds, root.Int("rollback_window"));
  }
  if (root.Has("held")) {
    LS_ASSIGN_OR_RETURN(json::ArrayView held, root.Array("held"));
    LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> entries, held.Objects());
    for (const json::ObjectView& o : entries) {
      HeldService h;
      LS_ASSIGN_OR_RETURN(h.by, o.String("by"));
      LS_ASSIGN_OR_RETURN(h.reason, o.String("reason"));
      LS_ASSIGN_OR_RETURN(h.since, o.Int("since"));
      LS_ASSIGN_OR_RETURN(json::ObjectView wanted, o.Object("wanted"));
      LS_ASSIGN_OR_RETURN(h.wanted, ReadServicePlan(wanted));
      plan.held.push_back(std::move(h));
    }
  }
  LS_ASSIGN_OR_RETURN(json::ArrayView services, root.Array("services"));
  LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> items, services.Objects());
  for (const json::ObjectView& o : items) {
    LS_ASSIGN_OR_RETURN(ServicePlan s, ReadServicePlan(o));
    plan.services.push_back(std::move(s));
  }
  LS_ASSIGN_OR_RETURN(json::ObjectView desired, root.Object("desired"));
  for (const auto& member : desired.object()) {
    std::string service(member.key());
    LS_ASSIGN_OR_RETURN(json::ObjectView d, json::ObjectView::Of(member.value(), service));
    LS_ASSIGN_OR_RETURN(std::string version, d.String("version"));
    LS_ASSIGN_OR_RETURN(std::string spec, d.String("spec"));
    LS_ASSIGN_OR_RETURN(std::string details, d.String("details"));
    LS_ASSIGN_OR_RETURN(std::string release_id, d.String("release"));
    LS_ASSIGN_OR_RETURN(deploy::DeployedService s, FromRecord(service, version, spec, details));
    if (ReleaseId(s.release) != release_id) {
      return InvalidArgument(service + ": release " + release_id + " does not match its spec");
    }
    plan.desired.emplace(service, std::move(s));
  }
  return plan;
}

}  // namespace

state::PlanRecord ToPlanRecord(const Plan& plan, const std::string& actor) {
  bj::array services;
  for (const ServicePlan& s : plan.services) services.push_back(EncodeServicePlan(s));
  bj::array held;
  for (const HeldService& h : plan.held) {
    held.push_back(bj::object{{"by", h.by},
                              {"reason", h.reason},
                              {"since", h.since},
                              {"wanted", EncodeServicePlan(h.wanted)}});
  }
  bj::object desired;
  for (const auto& [service, d] : plan.desired) {
    desired[service] = bj::object{{"version", d.version},
                                  {"spec", ToJson(d.release)},
                                  {"details", DetailsJson(d)},
                                  {"release", ReleaseId(d.release)}};
  }
  state::PlanRecord record;
  record.environment = plan.environment;
  record.lineage = plan.lineage;
  record.serial = plan.serial;
  record.commit = plan.commit;
  record.actor = actor;
  record.body = bj::serialize(bj::object{{"format", kFormat},
                                         {"kind", plan.kind},
                                         {"rollback_window", plan.rollback_window_seconds},
                                         {"approval", plan.approval_required ? "required" : "none"},
                                         {"approvals", plan.approvals_needed},
                                         {"promote_from", plan.promote_from},
                                         {"soak", plan.soak_seconds},
                                         {"services", std::move(services)},
                                         {"held", std::move(held)},
                                         {"desired", std::move(desired)}});
  return record;
}

Result<Plan> FromPlanRecord(const state::PlanRecord& record) {
  Result<Plan> plan = Decode(record);
  if (!plan.ok()) {
    return Internal("saved plan " + record.id + " is not one this lockstep wrote (" +
                    plan.status().message() + "): make a new plan");
  }
  return plan;
}

}  // namespace lockstep::engine
