#include "client/registry_client.h"

#include "base/strings.h"
#include "client/registry_answers.h"
#include "client/token_realm.h"
#include "image/manifest.h"
#include "image/media_types.h"

namespace lockstep::client {

namespace {

constexpr const char* kManifestAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string StripParams(std::string content_type) {
  if (size_t semi = content_type.find(';'); semi != std::string::npos) content_type.resize(semi);
  return std::string(Trim(content_type));
}

}  // namespace

RegistryClient::RegistryClient(std::string registry, ClientOptions options,
                               const CredentialStore* credentials)
    : registry_(std::move(registry)),
      options_(std::move(options)),
      credentials_(credentials),
      http_(HttpOptions{!options_.insecure, options_.ca_file}) {}

std::string RegistryClient::Url(const std::string& path) const {
  return (options_.insecure ? "http://" : "https://") + registry_ + path;
}

Status RegistryClient::ErrorFrom(const HttpResponse& r, const std::string& what) const {
  std::string message = registry_ + " refused " + what + " (HTTP " + std::to_string(r.status) +
                        "): " + ErrorDetail(r.body);
  switch (r.status) {
    case 401:
      return Unauthenticated(message + "; log in with `podman login " + registry_ +
                             "` (or docker), or set LOCKSTEP_REGISTRY=" + registry_ +
                             " with LOCKSTEP_REGISTRY_USERNAME/PASSWORD");
    case 403:
      return PermissionDenied(message);
    case 404:
      return NotFound(message);
    case 409:
      return AlreadyExists(message);
    case 416:
      return OutOfRange(message);
    case 429:
      return Unavailable(message);
    default:
      break;
  }
  if (r.status >= 500) return Unavailable(message);
  return FailedPrecondition(message);
}

Status RegistryClient::Authorize(const HttpResponse& r, const std::string& repo,
                                 const std::string& actions) {
  std::string scope = repo.empty() ? "" : "repository:" + repo + ":" + actions;
  Challenge c = ParseChallenge(r.Header("www-authenticate"));
  std::optional<Credentials> creds =
      credentials_ ? credentials_->For(registry_) : std::optional<Credentials>();
  if (c.scheme == "basic") {
    if (!creds) return ErrorFrom(r, "the request");
    auth_[scope] = "Basic " + Base64Encode(creds->username + ":" + creds->password);
    return Status::Ok();
  }
  if (c.scheme != "bearer" || c.params["realm"].empty()) return ErrorFrom(r, "the request");
  const std::string& realm = c.params["realm"];
  // Credentials only where token_realm.h allows; anywhere else the token is asked for
  // anonymously.
  LS_ASSIGN_OR_RETURN(std::optional<Credentials> realm_creds,
                      CredentialsForRealm(realm, registry_, options_.insecure, credentials_));
  std::string url = realm;
  url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("service=") +
         UrlEncode(c.params["service"]);
  if (!scope.empty()) url += "&scope=" + UrlEncode(scope);
  HttpRequest token_request;
  token_request.url = url;
  if (realm_creds) {
    token_request.headers.push_back(
        "Authorization: Basic " +
        Base64Encode(realm_creds->username + ":" + realm_creds->password));
  }
  LS_ASSIGN_OR_RETURN(HttpResponse t, http_.Do(token_request));
  if (t.status != 200) {
    Status refused = ErrorFrom(t, "a token for " + (scope.empty() ? registry_ : scope));
    if (creds && !realm_creds) {
      return Status(refused.code(),
                    refused.message() + " (the credentials for " + registry_ +
                        " were not sent to its token endpoint " + realm +
                        ": a token endpoint gets them only over verified https (or plain HTTP "
                        "on loopback with --insecure) and only on the registry's own host and "
                        "port)");
    }
    return refused;
  }
  std::optional<std::string> token = ParseTokenAnswer(t.body);
  if (!token)
    return Unavailable("the token endpoint of " + registry_ + " answered without a token");
  auth_[scope] = "Bearer " + *token;
  return Status::Ok();
}

Result<HttpResponse> RegistryClient::Send(HttpRequest request, const std::string& repo,
                                          const std::string& actions, bool retry) {
  std::string scope = repo.empty() ? "" : "repository:" + repo + ":" + actions;
  bool challenged = false;
  Retries retries(options_.retry);
  // A URL the registry named (an upload's Location, a Link) may point anywhere: only the
  // registry's own origin gets credentials or has its challenges answered.
  bool own = SameOrigin(request.url, Url("/"));
  while (true) {
    HttpRequest r = request;
    if (auto it = auth_.find(scope); own && it != auth_.end())
      r.headers.push_back("Authorization: " + it->second);
    Result<HttpResponse> response = http_.Do(r);
    if (own && response.ok() && response->status == 401 && !challenged) {
      challenged = true;  // answering a challenge is not a failed attempt
      LS_RETURN_IF_ERROR(Authorize(*response, repo, actions));
      continue;
    }
    if (retry && IsTransient(response) && retries.Again()) continue;
    return response;
  }
}

Result<std::optional<uint64_t>> RegistryClient::StatBlob(const std::string& repo, const Digest& d) {
  HttpRequest r{.method = "HEAD", .url = Url("/v2/" + repo + "/blobs/" + d.str())};
  LS_ASSIGN_OR_RETURN(HttpResponse response, Send(r, repo, "pull", true));
  if (response.status == 404) return std::optional<uint64_t>();
  if (response.status != 200) return ErrorFrom(response, "HEAD of blob " + d.str());
  return std::optional<uint64_t>(ParseUint(response.Header("content-length")).value_or(0));
}

Result<bool> RegistryClient::MountBlob(const std::string& repo, const Digest& d,
                                       const std::string& from) {
  HttpRequest r{.method = "POST",
                .url = Url("/v2/" + repo + "/blobs/uploads/?mount=" + d.str() + "&from=" + from),
                .send_body = true};
  LS_ASSIGN_OR_RETURN(HttpResponse response, Send(r, repo, "pull,push", true));
  if (response.status == 201) return true;
  if (response.status == 202) {
    // Declined: cancel the upload session the registry opened instead.
    HttpRequest cancel{.method = "DELETE",
                       .url = ResolveUrl(Url("/"), response.Header("location"))};
    (void)Send(cancel, repo, "pull,push", false);
    return false;
  }
  return ErrorFrom(response, "a mount of " + d.str());
}

Result<RemoteManifest> RegistryClient::GetManifest(const std::string& repo,
                                                   const std::string& reference) {
  HttpRequest r{.method = "GET",
                .url = Url("/v2/" + repo + "/manifests/" + reference),
                .headers = {kManifestAccept},
                .max_body = image::kMaxManifestBytes};
  LS_ASSIGN_OR_RETURN(HttpResponse response, Send(r, repo, "pull", true));
  if (response.status != 200) return ErrorFrom(response, "manifest " + repo + ":" + reference);
  RemoteManifest m;
  m.body = std::move(response.body);
  m.media_type = StripParams(response.Header("content-type"));
  Result<Digest> asked = Digest::Parse(reference);
  m.digest = DigestOf(m.body, asked.ok() ? asked->algorithm() : DigestAlgorithm::kSha256);
  if (asked.ok() && *asked != m.digest) {
    return FailedPrecondition("manifest " + reference + " from " + registry_ + "/" + repo +
                              " does not match its digest (" + m.digest.str() + "); refused");
  }
  if (!image::media::IsManifest(m.media_type)) {
    if (std::string declared = DeclaredMediaType(m.body); !declared.empty()) {
      m.media_type = std::move(declared);
    }
  }
  return m;
}

Result<std::optional<Digest>> RegistryClient::HeadManifest(const std::string& repo,
                                                           const std::string& reference) {
  HttpRequest r{.method = "HEAD",
                .url = Url("/v2/" + repo + "/manifests/" + reference),
                .headers = {kManifestAccept}};
  LS_ASSIGN_OR_RETURN(HttpResponse response, Send(r, repo, "pull", true));
  if (response.status == 404) return std::optional<Digest>();
  if (response.status != 200) return ErrorFrom(response, "manifest " + repo + ":" + reference);
  Result<Digest> d = Digest::Parse(response.Header("docker-content-digest"));
  if (!d.ok()) return std::optional<Digest>();
  return std::optional<Digest>(*d);
}

Result<Digest> RegistryClient::PutManifest(const std::string& repo, const std::string& reference,
                                           const std::string& media_type, const std::string& body) {
  HttpRequest r{.method = "PUT",
                .url = Url("/v2/" + repo + "/manifests/" + reference),
                .headers = {"Content-Type: " + media_type},
                .body = body,
                .send_body = true};
  LS_ASSIGN_OR_RETURN(HttpResponse response, Send(r, repo, "pull,push", true));
  if (response.status != 201) return ErrorFrom(response, "manifest " + repo + ":" + reference);
  return DigestOf(body);
}

Result<std::vector<std::string>> RegistryClient::Tags(const std::string& repo) {
  std::vector<std::string> tags;
  std::string url = Url("/v2/" + repo + "/tags/list?n=1000");
  for (int page = 0; page < 10000 && !url.empty(); ++page) {
    LS_ASSIGN_OR_RETURN(HttpResponse response, Send(HttpRequest{.url = url}, repo, "pull", true));
    if (response.status != 200) return ErrorFrom(response, "the tags of " + repo);
    for (std::string& t : ParseTagPage(response.body)) tags.push_back(std::move(t));
    std::string next = NextLink(response.Header("link"));
    url = next.empty() ? "" : ResolveUrl(url, next);
  }
  return tags;
}

}  // namespace lockstep::client
