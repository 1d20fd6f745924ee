#include "client/registry_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "base/strings.h"
#include "image/media_types.h"
#include "os/file.h"

namespace lockstep::client {

namespace json = boost::json;

namespace {

constexpr const char* kManifestAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

// Parameters of a WWW-Authenticate challenge: scheme plus key="value" pairs.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

Challenge ParseChallenge(std::string_view header) {
  Challenge c;
  size_t space = header.find(' ');
  c.scheme = std::string(header.substr(0, space));
  for (char& ch : c.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string_view rest = space == std::string_view::npos ? "" : header.substr(space + 1);
  while (!rest.empty()) {
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string key(Trim(rest.substr(0, eq)));
    rest = rest.substr(eq + 1);
    std::string value;
    if (!rest.empty() && rest[0] == '"') {
      size_t end = rest.find('"', 1);
      value = std::string(
          rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
      rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    } else {
      size_t comma = rest.find(',');
      value = std::string(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? "" : rest.substr(comma);
    }
    c.params[key] = value;
    size_t comma = rest.find(',');
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
  }
  return c;
}

void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

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
  std::string detail;
  boost::system::error_code ec;
  json::value doc = json::parse(r.body, ec);
  const json::object* o = ec ? nullptr : doc.if_object();
  const json::value* errors = o ? o->if_contains("errors") : nullptr;
  if (errors && errors->is_array() && !errors->as_array().empty() &&
      errors->as_array()[0].is_object()) {
    const json::object& e = errors->as_array()[0].as_object();
    const json::value* code = e.if_contains("code");
    const json::value* message = e.if_contains("message");
    if (code && code->is_string()) detail = std::string(code->as_string());
    if (message && message->is_string())
      detail += (detail.empty() ? "" : ": ") + std::string(message->as_string());
  }
  if (detail.empty())
    detail = Trim(r.body.substr(0, 200)).empty() ? "no details"
                                                 : std::string(Trim(r.body.substr(0, 200)));
  std::string message =
      registry_ + " refused " + what + " (HTTP " + std::to_string(r.status) + "): " + detail;
  switch (r.status) {
    case 401:
      return Unauthenticated(
          message + "; set LOCKSTEP_REGISTRY_USERNAME/PASSWORD or log in with docker/podman");
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
  std::optional<Credentials> creds = credentials_->For(registry_);
  if (c.scheme == "basic") {
    if (!creds) return ErrorFrom(r, "the request");
    auth_[scope] = "Basic " + Base64Encode(creds->username + ":" + creds->password);
    return Status::Ok();
  }
  if (c.scheme != "bearer" || c.params["realm"].empty()) return ErrorFrom(r, "the request");
  std::string url = c.params["realm"];
  url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("service=") +
         UrlEncode(c.params["service"]);
  if (!scope.empty()) url += "&scope=" + UrlEncode(scope);
  HttpRequest token_request;
  token_request.url = url;
  if (creds)
    token_request.headers.push_back("Authorization: Basic " +
                                    Base64Encode(creds->username + ":" + creds->password));
  LS_ASSIGN_OR_RETURN(HttpResponse t, http_.Do(token_request));
  if (t.status != 200) return ErrorFrom(t, "a token for " + (scope.empty() ? registry_ : scope));
  boost::system::error_code ec;
  json::value doc = json::parse(t.body, ec);
  const json::object* o = ec ? nullptr : doc.if_object();
  const json::value* token = o ? o->if_contains("token") : nullptr;
  if (token == nullptr || !token->is_string()) token = o ? o->if_contains("access_token") : nullptr;
  if (token == nullptr || !token->is_string()) {
    return Unavailable("the token endpoint of " + registry_ + " answered without a token");
  }
  auth_[scope] = "Bearer " + std::string(token->as_string());
  return Status::Ok();
}

Result<HttpResponse> RegistryClient::Send(HttpRequest request, const std::string& repo,
                                          const std::string& actions, bool retry) {
  std::string scope = repo.empty() ? "" : "repository:" + repo + ":" + actions;
  bool challenged = false;
  int backoff = options_.backoff_ms;
  for (int attempt = 1;; ++attempt) {
    HttpRequest r = request;
    if (auto it = auth_.find(scope); it != auth_.end())
      r.headers.push_back("Authorization: " + it->second);
    Result<HttpResponse> response = http_.Do(r);
    bool transient = !response.ok() ? response.status().code() == Code::kUnavailable
                                    : response->status == 429 || response->status >= 500;
    if (response.ok() && response->status == 401 && !challenged) {
      challenged = true;
      LS_RETURN_IF_ERROR(Authorize(*response, repo, actions));
      --attempt;  // answering a challenge is not a failed attempt
      continue;
    }
    if (transient && retry && attempt < options_.max_attempts) {
      Sleep(backoff);
      backoff *= 2;
      continue;
    }
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

Result<uint64_t> RegistryClient::UploadedSoFar(const std::string& location,
                                               const std::string& repo) {
  HttpRequest r{.method = "GET", .url = location};
  LS_ASSIGN_OR_RETURN(HttpResponse response, Send(r, repo, "pull,push", true));
  if (response.status != 204 && response.status != 202)
    return ErrorFrom(response, "the upload status");
  std::string range = response.Header("range");
  size_t dash = range.find('-');
  if (dash == std::string::npos) return uint64_t{0};
  // "0-N" holds N+1 bytes; registries also answer "0-0" for an empty upload, so that
  // one is read as nothing (at worst one byte is sent again and refused, and the upload
  // starts over).
  std::optional<uint64_t> last = ParseUint(range.substr(dash + 1));
  if (!last || *last == 0) return uint64_t{0};
  return *last + 1;
}

Result<bool> RegistryClient::UploadBlob(const std::string& repo, const Digest& d,
                                        const std::filesystem::path& path) {
  LS_ASSIGN_OR_RETURN(std::optional<uint64_t> present, StatBlob(repo, d));
  if (present) return false;
  LS_ASSIGN_OR_RETURN(os::UniqueFd fd, os::OpenRead(path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return os::ErrnoStatus("stat", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  int failures = 0;
  int backoff = options_.backoff_ms;
  std::string location;
  uint64_t offset = 0;
  auto fail = [&](const Status& why) -> Status {
    if (++failures >= options_.max_attempts)
      return why.WithContext("upload of " + d.str() + " to " + registry_ + "/" + repo);
    Sleep(backoff);
    backoff *= 2;
    return Status::Ok();
  };
  while (true) {
    if (location.empty()) {
      HttpRequest start{
          .method = "POST", .url = Url("/v2/" + repo + "/blobs/uploads/"), .send_body = true};
      LS_ASSIGN_OR_RETURN(HttpResponse r, Send(start, repo, "pull,push", true));
      if (r.status != 202) return ErrorFrom(r, "an upload to " + repo);
      location = ResolveUrl(Url("/"), r.Header("location"));
      offset = 0;
    }
    if (offset < size) {
      uint64_t length =
          options_.chunk_size ? std::min(options_.chunk_size, size - offset) : size - offset;
      HttpRequest patch{.method = "PATCH",
                        .url = location,
                        .headers = {"Content-Type: application/octet-stream"},
                        .body_fd = fd.get(),
                        .body_offset = offset,
                        .body_length = length,
                        .send_body = true};
      if (options_.chunk_size || offset > 0) {
        patch.headers.push_back("Content-Range: " + std::to_string(offset) + "-" +
                                std::to_string(offset + length - 1));
      }
      if (options_.progress) {
        uint64_t base = offset;
        patch.on_progress = [&, base](uint64_t done, uint64_t) {
          options_.progress(d.str(), base + done, size);
        };
      }
      Result<HttpResponse> r = Send(patch, repo, "pull,push", false);
      if (r.ok() && r->status == 202) {
        offset += length;
        if (std::string next = r->Header("location"); !next.empty())
          location = ResolveUrl(location, next);
        continue;
      }
      Status why = r.ok() ? ErrorFrom(*r, "a chunk of " + d.str()) : r.status();
      if (r.ok() && r->status < 500 && r->status != 416 && r->status != 429) return why;
      LS_RETURN_IF_ERROR(fail(why));
      // Resume where the registry says the upload stands; a lost session starts over.
      Result<uint64_t> have = r.ok() && r->status == 416
                                  ? Result<uint64_t>(OutOfRange("start over"))
                                  : UploadedSoFar(location, repo);
      if (have.ok() && *have <= size) {
        offset = *have;
      } else {
        location.clear();
      }
      continue;
    }
    std::string finish =
        location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + d.str();
    Result<HttpResponse> r = Send(HttpRequest{.method = "PUT", .url = finish, .send_body = true},
                                  repo, "pull,push", false);
    if (r.ok() && r->status == 201) return true;
    Status why = r.ok() ? ErrorFrom(*r, "the end of the upload of " + d.str()) : r.status();
    if (r.ok() && r->status < 500) return why;
    LS_RETURN_IF_ERROR(fail(why));
    // The PUT may have landed before the connection broke.
    LS_ASSIGN_OR_RETURN(std::optional<uint64_t> landed, StatBlob(repo, d));
    if (landed) return true;
    location.clear();
  }
}

Status RegistryClient::DownloadBlob(const std::string& repo, const Digest& d,
                                    const std::filesystem::path& dest) {
  std::filesystem::path part = dest;
  part += ".part";
  int raw = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (raw < 0) return os::ErrnoStatus("create", part);
  os::UniqueFd fd(raw);
  Hasher hasher(d.algorithm());
  uint64_t have = 0;
  int backoff = options_.backoff_ms;
  for (int attempt = 1;; ++attempt) {
    HttpRequest r{.method = "GET", .url = Url("/v2/" + repo + "/blobs/" + d.str())};
    if (have > 0) r.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
    bool fresh = true;
    r.on_data = [&](long status, std::string_view bytes) -> Status {
      if (fresh && have > 0 && status == 200) {  // the range was ignored: start again
        if (::ftruncate(fd.get(), 0) != 0) return os::ErrnoStatus("truncate", part);
        ::lseek(fd.get(), 0, SEEK_SET);
        hasher = Hasher(d.algorithm());
        have = 0;
      }
      fresh = false;
      LS_RETURN_IF_ERROR(os::WriteAll(fd.get(), bytes));
      hasher.Update(bytes);
      have += bytes.size();
      return Status::Ok();
    };
    if (options_.progress)
      r.on_progress = [&](uint64_t, uint64_t) { options_.progress(d.str(), have, 0); };
    Result<HttpResponse> response = Send(r, repo, "pull", false);
    bool transient = !response.ok() ? response.status().code() == Code::kUnavailable
                                    : response->status == 429 || response->status >= 500;
    if (response.ok() && (response->status == 200 || response->status == 206)) break;
    if (!transient || attempt >= options_.max_attempts) {
      (void)os::RemoveFile(part);
      return response.ok() ? ErrorFrom(*response, "blob " + d.str()) : response.status();
    }
    Sleep(backoff);
    backoff *= 2;
  }
  Digest got = hasher.Finish();
  if (got != d) {
    (void)os::RemoveFile(part);
    return FailedPrecondition("blob " + d.str() + " from " + registry_ + "/" + repo +
                              " does not match its digest (the bytes hash to " + got.str() +
                              "); refused");
  }
  LS_RETURN_IF_ERROR(os::Fsync(fd.get(), part));
  std::error_code ec;
  std::filesystem::rename(part, dest, ec);
  if (ec) return IoError("rename " + part.string() + ": " + ec.message());
  return Status::Ok();
}

Result<RemoteManifest> RegistryClient::GetManifest(const std::string& repo,
                                                   const std::string& reference) {
  HttpRequest r{.method = "GET",
                .url = Url("/v2/" + repo + "/manifests/" + reference),
                .headers = {kManifestAccept}};
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
    boost::system::error_code ec;
    json::value doc = json::parse(m.body, ec);
    const json::object* o = ec ? nullptr : doc.if_object();
    const json::value* mt = o ? o->if_contains("mediaType") : nullptr;
    if (mt && mt->is_string()) m.media_type = std::string(mt->as_string());
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
    boost::system::error_code ec;
    json::value doc = json::parse(response.body, ec);
    const json::object* o = ec ? nullptr : doc.if_object();
    const json::value* list = o ? o->if_contains("tags") : nullptr;
    if (list && list->is_array()) {
      for (const json::value& t : list->as_array()) {
        if (t.is_string()) tags.emplace_back(t.as_string());
      }
    }
    std::string link = response.Header("link");
    size_t open = link.find('<'), close = link.find('>');
    url = open != std::string::npos && close != std::string::npos &&
                  link.find("rel=\"next\"") != std::string::npos
              ? ResolveUrl(url, link.substr(open + 1, close - open - 1))
              : "";
  }
  return tags;
}

}  // namespace lockstep::client
