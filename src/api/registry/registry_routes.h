// Shared by the registry's route groups (blob, upload, manifest and discovery routes).
// Internal to the server module.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/registry/oci_errors.h"
#include "api/registry/registry_api.h"
#include "core/access.h"
#include "http/blocking_pool.h"
#include "http/exchange.h"
#include "registry/registry.h"

namespace lockstep::auth {
class Authenticator;
}

namespace lockstep::api {

// One routed registry request: /v2/<repo>/<kind>/<ref>?<query>.
struct RegistryCall {
  http::Exchange& ex;
  const http::Request& req;
  registry::Registry& registry;
  http::BlockingPool& blocking;
  const Identity& who;
  std::string repo;
  std::string ref;  // the last path segment (reference, digest or upload id); may be empty
  std::vector<std::pair<std::string, std::string>> query;
  const AuditSink& audit;

  // Records a change this request made (on the blocking pool, after it is stored).
  void Audited(std::string action, std::string target, std::string detail = "") const {
    if (audit) {
      audit({.actor = who.name,
             .action = std::move(action),
             .target = std::move(target),
             .detail = std::move(detail)});
    }
  }

  // The first query parameter of that name, if present.
  std::optional<std::string> Param(std::string_view name) const;
  std::vector<std::string> Params(std::string_view name) const;
  http::Task<void> Fail(const Status& status, std::string_view fallback_code) {
    co_await ex.Send(OciError(status, fallback_code));
  }
  // A delete the registry will not do (an immutable tag, a blob or manifest something
  // live needs) is 405, as the distribution spec names for deletes a registry does not
  // allow, with the reason in the error body; other failures as Fail.
  http::Task<void> FailDelete(const Status& status, std::string_view fallback_code) {
    // (An immutable tag is kAlreadyExists: it already points somewhere, for good.)
    if (status.code() != Code::kFailedPrecondition && status.code() != Code::kAlreadyExists) {
      co_return co_await Fail(status, fallback_code);
    }
    co_await ex.Send(OciError(405, "UNSUPPORTED", status.message()));
  }
};

http::Task<void> HandleBlob(RegistryCall& call);
http::Task<void> HandleUploadStart(RegistryCall& call);
http::Task<void> HandleUpload(RegistryCall& call);
http::Task<void> HandleManifest(RegistryCall& call);
http::Task<void> HandleTagsList(RegistryCall& call);
http::Task<void> HandleReferrers(RegistryCall& call);

std::string BlobLocation(std::string_view repo, const Digest& d);
std::string UploadLocation(std::string_view repo, std::string_view id);
// The Range header value for an upload holding `offset` bytes: "0-<offset-1>".
std::string UploadRange(uint64_t offset);

}  // namespace lockstep::api
