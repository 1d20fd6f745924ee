#include "engine/attestations.h"

#include <algorithm>

#include "base/strings.h"
#include "core/release.h"

namespace lockstep::engine {

std::string Span(int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  std::string out;
  if (seconds >= 3600) out += std::to_string(seconds / 3600) + "h";
  if (seconds % 3600 >= 60) out += std::to_string(seconds % 3600 / 60) + "m";
  if (seconds < 3600 && seconds % 60 != 0) out += std::to_string(seconds % 60) + "s";
  return out;
}

Attestor::Attestor(state::StateStore& store, runtime::Target& target, const attest::Signer* signer,
                   const os::Clock& clock)
    : store_(store), target_(target), signer_(signer), clock_(clock) {}

Result<Attestor::Recorded> Attestor::Record(attest::Attestation a) {
  if (signer_ == nullptr) return FailedPrecondition("this server has no attestation key");
  a.at = clock_.NowSeconds();
  attest::Signed s = signer_->Sign(a);
  state::AttestationRecord record{.kind = a.kind,
                                  .service = a.service,
                                  .digest = a.digest,
                                  .release_id = a.release,
                                  .environment = a.environment,
                                  .from = a.from,
                                  .soak_seconds = a.soak_seconds,
                                  .payload = s.payload,
                                  .signature = s.signature,
                                  .key_id = s.key_id,
                                  .at = a.at};
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store_.Begin());
    LS_ASSIGN_OR_RETURN(record.id, tx->AddAttestation(record));
    LS_RETURN_IF_ERROR(tx->Commit());
  }
  Status published = publish_ ? publish_(record) : Status::Ok();
  return Recorded{std::move(record), std::move(published)};
}

std::string Attestor::Unhealthy(const state::CurrentRecord& current) {
  if (current.instance_id.empty()) return "";  // a function: nothing to check
  Result<runtime::InstanceHealth> health = target_.Health(current.instance_id);
  if (!health.ok()) {
    return "its instance in " + current.environment +
           " cannot be checked: " + health.status().message();
  }
  if (health->state == runtime::HealthState::kHealthy) return "";
  return std::string(runtime::HealthName(health->state)) + " in " + current.environment +
         (health->since_unix != 0 ? " since " + FormatRfc3339(health->since_unix) : "") +
         (health->last_error.empty() ? "" : ": " + health->last_error);
}

Result<std::vector<std::string>> Attestor::AttestSoaks(const deploy::DeployRepo& repo) {
  std::vector<std::string> out;
  if (signer_ == nullptr) return out;
  const int64_t now = clock_.NowSeconds();
  for (const deploy::Environment& upstream : repo.environments) {
    bool promoted_from = false;
    int64_t soak = 0;
    for (const deploy::Environment& e : repo.environments) {
      if (e.promote_from != upstream.name) continue;
      promoted_from = true;
      soak = std::max(soak, e.soak_seconds);
    }
    if (!promoted_from) continue;
    std::map<std::string, state::CurrentRecord> current;
    {
      LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store_.Begin());
      LS_ASSIGN_OR_RETURN(current, tx->Current(upstream.name));
    }
    for (const auto& [service, c] : current) {
      const int64_t live = now - c.since;
      if (live < soak) continue;
      Result<Release> release = ReleaseFromJson(c.release_spec);
      // Recorded by another lockstep, or not pinned: not ours to vouch for.
      if (!release.ok() || !release->image.digest) continue;
      const std::string digest = release->image.digest->str();
      bool attested = false;
      {
        LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store_.Begin());
        LS_ASSIGN_OR_RETURN(std::vector<state::AttestationRecord> known,
                            tx->Attestations(upstream.name, digest));
        for (const state::AttestationRecord& k : known) {
          attested = attested || (k.kind == "soak" && k.service == service &&
                                  k.release_id == c.release_id && k.soak_seconds >= soak);
        }
      }
      if (attested || !Unhealthy(c).empty()) continue;
      LS_ASSIGN_OR_RETURN(
          Recorded r,
          Record({.kind = "soak",
                  .service = service,
                  .repository = release->image.repository,
                  .digest = digest,
                  .release = c.release_id,
                  .environment = upstream.name,
                  .live_since = c.since,
                  .soak_seconds = live,
                  .health = c.instance_id.empty() ? "a function (no health check)" : "healthy",
                  .by = "lockstep"}));
      out.push_back("attested " + service + " " + c.version + " in " + upstream.name + ": live " +
                    Span(live) + " (soak " + Span(soak) + "), attestation " +
                    std::to_string(r.record.id) +
                    (r.published.ok() ? "" : " (not published: " + r.published.message() + ")"));
    }
  }
  return out;
}

namespace {

// Whether `k` vouches for `service` at `digest` in `plan`'s environment: signed by the
// server's key, about that service and digest, and a soak upstream long enough or a
// promotion from upstream to here.
bool Vouches(const state::AttestationRecord& k, const std::string& service,
             const std::string& digest, const Plan& plan, const std::string& public_key_pem) {
  Result<attest::Attestation> a =
      attest::Verify({k.payload, k.signature, k.key_id}, public_key_pem);
  if (!a.ok() || a->digest != digest || a->service != service) return false;
  if (a->kind == "soak") {
    return a->environment == plan.promote_from && a->soak_seconds >= plan.soak_seconds;
  }
  return a->kind == "promotion" && a->from == plan.promote_from &&
         a->environment == plan.environment;
}

}  // namespace

std::vector<std::string> MissingAttestations(state::Transaction& tx, const Plan& plan,
                                             const std::string& public_key_pem) {
  std::vector<std::string> missing;
  if (plan.promote_from.empty() || plan.kind != "apply") return missing;
  for (const ServicePlan& s : plan.services) {
    if (s.action != Action::kAdd && s.action != Action::kChange) continue;
    if (s.to_digest.empty() || s.to_digest == s.from_digest) continue;  // the artifact stays
    bool vouched = false;
    for (const std::string& where : {plan.promote_from, plan.environment}) {
      Result<std::vector<state::AttestationRecord>> known = tx.Attestations(where, s.to_digest);
      if (!known.ok()) continue;
      for (const state::AttestationRecord& k : *known) {
        vouched = vouched || Vouches(k, s.service, s.to_digest, plan, public_key_pem);
      }
    }
    if (vouched) continue;
    missing.push_back(s.service + " " + s.to_version + " (" + s.to_digest.substr(0, 19) +
                      ") has no attestation from " + plan.promote_from +
                      (plan.soak_seconds > 0 ? " of a " + Span(plan.soak_seconds) + " soak" : "") +
                      ": it has not proved itself there (`lockstep promote " + s.service +
                      " --from " + plan.promote_from + " --to " + plan.environment +
                      "` pins it once it has)");
  }
  return missing;
}

}  // namespace lockstep::engine
