// The engine API's promotions and the attestations they leave: a promotion into an
// environment, the attestations listed, the public key they verify with.
#include <boost/json.hpp>

#include "api/engine/answers.h"
#include "api/engine/call.h"
#include "api/engine/engine_api.h"
#include "base/json.h"
#include "base/strings.h"
#include "core/digest.h"
#include "core/release.h"

namespace lockstep::api {

namespace bj = boost::json;
using http::Response;

// {"from": ENV, "services": [S...] | "all": true, "reason": TEXT}.
Result<Response> EngineApi::PromoteInto(const Call& call) {
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(call.body, "promotion"));
  LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
  engine::PromoteRequest request{.to = call.path[1], .branch = options_.branch};
  LS_ASSIGN_OR_RETURN(request.from, o.String("from"));
  if (!IsResourceName(request.from)) {
    return InvalidArgument("\"from\": '" + request.from.substr(0, 64) + "' is not an environment");
  }
  if (o.Has("services")) {
    LS_ASSIGN_OR_RETURN(request.services, o.Strings("services"));
  }
  LS_ASSIGN_OR_RETURN(std::optional<bool> all, o.OptionalBool("all"));
  request.all = all.value_or(false);
  for (const std::string& s : request.services) {
    if (!IsResourceName(s))
      return InvalidArgument("service '" + s.substr(0, 64) + "' is not a name");
  }
  if (request.all == !request.services.empty()) {
    return InvalidArgument("name the \"services\" to promote, or \"all\": true (not both)");
  }
  LS_ASSIGN_OR_RETURN(std::optional<std::string> reason, o.OptionalString("reason"));
  LS_ASSIGN_OR_RETURN(
      engine::PromoteResult result,
      engine_->Promote(request, {call.who.name, reason.value_or("").substr(0, 1000)}));
  bj::array promoted;
  for (const engine::Promoted& p : result.promoted) {
    promoted.push_back(bj::object{{"service", p.service},
                                  {"version", p.version},
                                  {"digest", p.digest},
                                  {"release", p.release_id},
                                  {"live_seconds", p.live_seconds},
                                  {"attestation_id", p.attestation_id}});
  }
  return Json(201, bj::object{{"environment", request.to},
                              {"from", request.from},
                              {"commit", Nullable(result.commit)},
                              {"promoted", std::move(promoted)}});
}

Result<Response> EngineApi::ListAttestations(const Call& call) {
  std::string service = call.Query("service"), digest = call.Query("digest");
  if (!service.empty() && !IsResourceName(service)) {
    return InvalidArgument("service '" + service.substr(0, 64) + "' is not a name");
  }
  if (!digest.empty()) LS_RETURN_IF_ERROR(Digest::Parse(digest).status());
  int limit =
      static_cast<int>(std::min<uint64_t>(ParseUint(call.Query("limit")).value_or(100), 1000));
  LS_ASSIGN_OR_RETURN(std::vector<state::AttestationRecord> found,
                      engine_->store().ListAttestations(service, digest, limit));
  bj::array out;
  for (const state::AttestationRecord& a : found) {
    out.push_back(bj::object{{"id", a.id},
                             {"kind", a.kind},
                             {"service", a.service},
                             {"digest", a.digest},
                             {"release", a.release_id},
                             {"environment", a.environment},
                             {"from", Nullable(a.from)},
                             {"soak_seconds", a.soak_seconds},
                             {"at", a.at},
                             {"payload", a.payload},
                             {"signature", a.signature},
                             {"key_id", a.key_id}});
  }
  return Json(200, bj::object{{"attestations", std::move(out)}});
}

Result<Response> EngineApi::AttestationKey(const Call&) {
  const attest::Signer* signer = engine_->attestor().signer();
  if (signer == nullptr) return NotFound("this server has no attestation key");
  Response r;
  r.body = signer->public_key_pem();
  r.Set("Content-Type", "application/x-pem-file");
  r.Set("X-Lockstep-Key-Id", signer->key_id());
  return r;
}

}  // namespace lockstep::api
