// Shared by the registry's route groups (blob, upload, manifest and discovery routes).
// Internal to the server module.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/access.h"
#include "oci/registry.h"
#include "server/exchange.h"
#include "server/oci_errors.h"

namespace lockstep::server {

class Authenticator;

// One routed registry request: /v2/<repo>/<kind>/<ref>?<query>.
struct RegistryCall {
  Exchange& ex;
  const Request& req;
  oci::Registry& registry;
  const Identity& who;
  std::string repo;
  std::string ref;  // the last path segment (reference, digest or upload id); may be empty
  std::vector<std::pair<std::string, std::string>> query;

  // The first query parameter of that name, if present.
  std::optional<std::string> Param(std::string_view name) const;
  std::vector<std::string> Params(std::string_view name) const;
  Task<void> Fail(const Status& status, std::string_view fallback_code) {
    co_await ex.Send(OciError(status, fallback_code));
  }
};

Task<void> HandleBlob(RegistryCall& call);
Task<void> HandleUploadStart(RegistryCall& call);
Task<void> HandleUpload(RegistryCall& call);
Task<void> HandleManifest(RegistryCall& call);
Task<void> HandleTagsList(RegistryCall& call);
Task<void> HandleReferrers(RegistryCall& call);

std::string BlobLocation(std::string_view repo, const Digest& d);
std::string UploadLocation(std::string_view repo, std::string_view id);
// The Range header value for an upload holding `offset` bytes: "0-<offset-1>".
std::string UploadRange(uint64_t offset);

}  // namespace lockstep::server
