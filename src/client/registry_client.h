// A client of the OCI distribution API for any registry (lockstep's own, Distribution,
// ECR, Harbor, GHCR...).
//
// Authentication follows the registry's challenge: Basic with the configured
// credentials, or the bearer-token flow (realm + service + scope per repository), with
// tokens cached per scope; a realm gets credentials only as token_realm.h allows (https,
// the registry's own host), else the token is asked for anonymously. Idempotent requests are
// retried with exponential backoff on 429, 5xx and lost connections (retry.h). Blob uploads
// (upload.cc) stream from a file, in one PATCH or in chunks of a configured size, and after a
// failure resume from the offset the registry reports instead of starting over. Downloads
// (download.cc) stream to a file, resume with Range after a lost connection, and are refused unless
// every byte matches the digest. What registries answer is parsed in registry_answers.h. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "client/credentials.h"
#include "client/http.h"
#include "client/retry.h"
#include "core/digest.h"

namespace lockstep::client {

struct ClientOptions {
  bool insecure = false;    // plain HTTP (loopback development); TLS verified otherwise
  std::string ca_file;      // extra trust anchors
  uint64_t chunk_size = 0;  // 0: one PATCH per blob; else PATCHes of this many bytes
  RetryPolicy retry;        // per request, upload or download
  // Called as bytes move, for a progress display; may be empty.
  std::function<void(const std::string& what, uint64_t done, uint64_t total)> progress;
};

struct RemoteManifest {
  Digest digest;  // computed from the body, never taken on trust
  std::string media_type;
  std::string body;
};

class RegistryClient {
 public:
  RegistryClient(std::string registry, ClientOptions options, const CredentialStore* credentials);

  const std::string& registry() const { return registry_; }

  // The blob's size if the repository has it, nullopt if not.
  Result<std::optional<uint64_t>> StatBlob(const std::string& repo, const Digest& d);
  // Uploads the file at `path` as blob `d` unless the repository already has it.
  // Returns whether bytes were sent.
  Result<bool> UploadBlob(const std::string& repo, const Digest& d,
                          const std::filesystem::path& path);
  // Cross-repository mount within this registry; false if the registry declined.
  Result<bool> MountBlob(const std::string& repo, const Digest& d, const std::string& from);
  // Downloads blob `d` to `dest` (replacing it), verifying every byte.
  Status DownloadBlob(const std::string& repo, const Digest& d, const std::filesystem::path& dest);

  Result<RemoteManifest> GetManifest(const std::string& repo, const std::string& reference);
  // The digest the registry reports for a reference (HEAD), nullopt if unknown.
  Result<std::optional<Digest>> HeadManifest(const std::string& repo, const std::string& reference);
  Result<Digest> PutManifest(const std::string& repo, const std::string& reference,
                             const std::string& media_type, const std::string& body);
  // Every tag, following Link pagination.
  Result<std::vector<std::string>> Tags(const std::string& repo);

 private:
  struct Call;
  Result<HttpResponse> Send(HttpRequest request, const std::string& repo,
                            const std::string& actions, bool retry);
  Status Authorize(const HttpResponse& challenge, const std::string& repo,
                   const std::string& actions);
  Status ErrorFrom(const HttpResponse& r, const std::string& what) const;
  std::string Url(const std::string& path) const;
  Result<uint64_t> UploadedSoFar(const std::string& location, const std::string& repo);

  std::string registry_;
  ClientOptions options_;
  const CredentialStore* credentials_;
  HttpClient http_;
  std::map<std::string, std::string> auth_;  // scope → Authorization header value
};

}  // namespace lockstep::client
