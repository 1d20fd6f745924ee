// Raw distribution-API calls for end-to-end tests: each helper is one HTTP request, so a
// test can walk every push path step by step.
#pragma once

#include <string>

#include "core/digest.h"
#include "tests/support/http.h"
#include "tests/support/lockstep_server.h"

namespace lockstep::testing {

class RegistryClient {
 public:
  explicit RegistryClient(const LockstepServer& server, std::string token = "")
      : base_("http://" + server.host()), token_(std::move(token)) {}

  std::string Url(const std::string& path) const { return base_ + path; }
  HttpResponse Do(std::string method, const std::string& path, std::string body = "",
                  std::vector<std::string> headers = {}) const;

  // POST /v2/<repo>/blobs/uploads/ and return the Location (empty on failure).
  std::string StartUpload(const std::string& repo) const;
  // Monolithic push; returns the digest.
  std::string PushBlob(const std::string& repo, const std::string& content) const;
  // A minimal image manifest over a pushed config and one layer; returns its body.
  std::string PushImageParts(const std::string& repo, const std::string& seed,
                             const std::string& extra_fields = "") const;
  HttpResponse PutManifest(const std::string& repo, const std::string& ref,
                           const std::string& body) const;

 private:
  std::string base_;
  std::string token_;
};

inline std::string Sha(const std::string& data) { return DigestOf(data).str(); }

}  // namespace lockstep::testing
