#include "api/registry/registry_api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <ctime>

#include "api/registry/oci_errors.h"
#include "api/registry/registry_routes.h"
#include "base/strings.h"
#include "core/names.h"

namespace lockstep::api {

namespace {

constexpr std::string_view kService = "lockstep";

enum class Kind { kBase, kCatalog, kBlob, kUploadStart, kUpload, kManifest, kTags, kReferrers };

// A request's path, split.
struct PathParts {
  Kind kind = Kind::kBase;
  std::string repo;
  std::string ref;
};

// Splits the decoded segments after "v2" into a route, or fails with NAME_INVALID /
// NAME_UNKNOWN-style errors for anything that is not an API path.
Result<PathParts> Parse(const std::vector<std::string>& seg) {
  PathParts r;
  size_t n = seg.size();
  auto repo_of = [&](size_t count) {
    std::string name;
    for (size_t i = 0; i < count; ++i) name += (i ? "/" : "") + seg[i];
    return name;
  };
  if (n == 0 || (n == 1 && seg[0].empty())) return r;
  if (n == 1 && seg[0] == "_catalog") {
    r.kind = Kind::kCatalog;
    return r;
  }
  if (n >= 3 && seg[n - 2] == "tags" && seg[n - 1] == "list") {
    r.kind = Kind::kTags;
    r.repo = repo_of(n - 2);
  } else if (n >= 3 && seg[n - 3] == "blobs" && seg[n - 2] == "uploads" && n >= 4) {
    r.kind = seg[n - 1].empty() ? Kind::kUploadStart : Kind::kUpload;
    r.repo = repo_of(n - 3);
    r.ref = seg[n - 1];
  } else if (n >= 3 && seg[n - 2] == "blobs" && seg[n - 1] == "uploads") {
    r.kind = Kind::kUploadStart;  // "/blobs/uploads" without the trailing slash
    r.repo = repo_of(n - 2);
  } else if (n >= 3 &&
             (seg[n - 2] == "blobs" || seg[n - 2] == "manifests" || seg[n - 2] == "referrers")) {
    r.kind = seg[n - 2] == "blobs"       ? Kind::kBlob
             : seg[n - 2] == "manifests" ? Kind::kManifest
                                         : Kind::kReferrers;
    r.repo = repo_of(n - 2);
    r.ref = seg[n - 1];
  } else {
    return NotFound("no registry endpoint at this path", "NAME_UNKNOWN");
  }
  LS_RETURN_IF_ERROR(ValidateRepositoryName(r.repo));
  return r;
}

// The form of a kind's paths, as the route table names them.
std::string_view PathForm(Kind kind) {
  switch (kind) {
    case Kind::kBase:
      return "/v2/";
    case Kind::kCatalog:
      return "/v2/_catalog";
    case Kind::kBlob:
      return "/v2/NAME/blobs/DIGEST";
    case Kind::kUploadStart:
      return "/v2/NAME/blobs/uploads/";
    case Kind::kUpload:
      return "/v2/NAME/blobs/uploads/ID";
    case Kind::kManifest:
      return "/v2/NAME/manifests/REFERENCE";
    case Kind::kTags:
      return "/v2/NAME/tags/list";
    case Kind::kReferrers:
      return "/v2/NAME/referrers/DIGEST";
  }
  return "";
}

// The route of `kind` and `method`; null when the method is not one the path answers.
const RegistryApi::Route* RouteOf(Kind kind, std::string_view method) {
  for (const RegistryApi::Route& route : RegistryApi::Routes()) {
    if (route.path == PathForm(kind) && route.method == method) return &route;
  }
  return nullptr;
}

}  // namespace

std::span<const RegistryApi::Route> RegistryApi::Routes() {
  using A = Action;
  static const Route routes[] = {
      {"/v2/", "GET", A::kPull},
      {"/v2/", "HEAD", A::kPull},
      {"/v2/_catalog", "GET", A::kPull},
      {"/v2/NAME/blobs/DIGEST", "GET", A::kPull},
      {"/v2/NAME/blobs/DIGEST", "HEAD", A::kPull},
      {"/v2/NAME/blobs/DIGEST", "DELETE", A::kDelete},
      {"/v2/NAME/blobs/uploads/", "POST", A::kPush},
      {"/v2/NAME/blobs/uploads/ID", "GET", A::kPush},
      {"/v2/NAME/blobs/uploads/ID", "PATCH", A::kPush},
      {"/v2/NAME/blobs/uploads/ID", "PUT", A::kPush},
      // Cancelling an upload deletes nothing stored: it is part of pushing.
      {"/v2/NAME/blobs/uploads/ID", "DELETE", A::kPush},
      {"/v2/NAME/manifests/REFERENCE", "GET", A::kPull},
      {"/v2/NAME/manifests/REFERENCE", "HEAD", A::kPull},
      {"/v2/NAME/manifests/REFERENCE", "PUT", A::kPush},
      {"/v2/NAME/manifests/REFERENCE", "DELETE", A::kDelete},
      {"/v2/NAME/tags/list", "GET", A::kPull},
      {"/v2/NAME/tags/list", "HEAD", A::kPull},
      {"/v2/NAME/referrers/DIGEST", "GET", A::kPull},
      {"/v2/NAME/referrers/DIGEST", "HEAD", A::kPull},
  };
  return routes;
}

namespace {

http::Response Challenge(std::string_view realm, std::string_view repo, Action action,
                         const Status& why) {
  http::Response r = OciError(why, "UNAUTHORIZED");
  std::string challenge =
      "Bearer realm=\"" + std::string(realm) + "\",service=\"" + std::string(kService) + "\"";
  if (!repo.empty()) {
    std::string actions = action == Action::kPull   ? "pull"
                          : action == Action::kPush ? "pull,push"
                                                    : "delete";
    challenge += ",scope=\"repository:" + std::string(repo) + ":" + actions + "\"";
  }
  r.Set("WWW-Authenticate", challenge);
  return r;
}

}  // namespace

std::optional<std::string> RegistryCall::Param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> RegistryCall::Params(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

std::string BlobLocation(std::string_view repo, const Digest& d) {
  return "/v2/" + std::string(repo) + "/blobs/" + d.str();
}
std::string UploadLocation(std::string_view repo, std::string_view id) {
  return "/v2/" + std::string(repo) + "/blobs/uploads/" + std::string(id);
}
std::string UploadRange(uint64_t offset) {
  return "0-" + std::to_string(offset > 0 ? offset - 1 : 0);
}

http::Task<void> RegistryApi::Handle(http::Exchange& ex) {
  const http::Request& req = ex.request();
  auto url = boost::urls::parse_origin_form(req.target);
  if (!url) {
    co_return co_await ex.Send(
        OciError(400, "NAME_INVALID", "request target is not a valid URL path"));
  }
  std::vector<std::pair<std::string, std::string>> query;
  for (auto param : url->params()) query.emplace_back(param.key, param.value);
  std::vector<std::string> segments;
  for (auto s : url->segments()) segments.emplace_back(s);

  if (url->path() == "/auth/token") co_return co_await HandleToken(ex, query);
  segments.erase(segments.begin());  // "v2"

  Result<PathParts> route = Parse(segments);
  if (!route.ok()) co_return co_await ex.Send(OciError(route.status(), "NAME_INVALID"));
  const Route* table_route = RouteOf(route->kind, req.method);
  if (table_route == nullptr) {
    co_return co_await ex.Send(OciError(
        405, "UNSUPPORTED", req.method + " is not supported at " + std::string(url->path())));
  }
  Action action = table_route->action;
  std::string authorization(req.Header("authorization"));
  Result<Identity> who =
      co_await lookups_->Run([this, &authorization] { return auth_->Identify(authorization); });
  if (!who.ok()) co_return co_await ex.Send(Challenge(realm_, route->repo, action, who.status()));
  if (!route->repo.empty() && !who->Allows(action, route->repo)) {
    co_return co_await ex.Send(OciError(403, "DENIED", who->Check(action, route->repo).message()));
  }

  if (route->kind == Kind::kBase) {
    http::Response r;
    r.Set("Content-Type", "application/json");
    r.Set("Docker-Distribution-API-Version", "registry/2.0");
    r.body = "{}";
    co_return co_await ex.Send(std::move(r));
  }
  if (route->kind == Kind::kCatalog) co_return co_await HandleCatalog(ex, *who);

  RegistryCall call{ex,          req,        *registry_,       *commits_, *who,
                    route->repo, route->ref, std::move(query), audit_};
  switch (route->kind) {
    case Kind::kBlob:
      co_return co_await HandleBlob(call);
    case Kind::kUploadStart:
      co_return co_await HandleUploadStart(call);
    case Kind::kUpload:
      co_return co_await HandleUpload(call);
    case Kind::kManifest:
      co_return co_await HandleManifest(call);
    case Kind::kTags:
      co_return co_await HandleTagsList(call);
    case Kind::kReferrers:
      co_return co_await HandleReferrers(call);
    case Kind::kBase:
    case Kind::kCatalog:
      break;
  }
}

http::Task<void> RegistryApi::HandleToken(
    http::Exchange& ex, const std::vector<std::pair<std::string, std::string>>& query) {
  const http::Request& req = ex.request();
  std::string authorization(req.Header("authorization"));
  Result<Identity> who = co_await lookups_->Run(
      [this, &authorization] { return auth_->IdentifyBasic(authorization); });
  if (!who.ok()) {
    http::Response r = OciError(who.status(), "UNAUTHORIZED");
    r.Set("WWW-Authenticate", "Basic realm=\"lockstep\"");
    co_return co_await ex.Send(std::move(r));
  }
  std::string scope;
  for (const auto& [k, v] : query) {
    if (k == "scope") scope = v;
  }
  auth::Authenticator::Minted minted = auth_->MintBearer(*who);
  boost::json::object body;
  body["token"] = minted.token;
  body["access_token"] = minted.token;
  body["expires_in"] = minted.expires_in;
  body["issued_at"] = FormatRfc3339(minted.issued_at);
  if (!scope.empty()) body["scope"] = scope;
  http::Response r;
  r.Set("Content-Type", "application/json");
  r.Set("Cache-Control", "no-store");
  r.body = boost::json::serialize(body);
  co_await ex.Send(std::move(r));
}

http::Task<void> RegistryApi::HandleCatalog(http::Exchange& ex, const Identity& who) {
  Result<std::vector<std::string>> repos = registry_->ListRepositories();
  if (!repos.ok()) co_return co_await ex.Send(OciError(repos.status(), "UNKNOWN"));
  boost::json::array visible;
  for (const std::string& repo : *repos) {
    if (who.Allows(Action::kPull, repo)) visible.emplace_back(repo);
  }
  boost::json::object body;
  body["repositories"] = std::move(visible);
  http::Response r;
  r.Set("Content-Type", "application/json");
  r.body = boost::json::serialize(body);
  co_await ex.Send(std::move(r));
}

}  // namespace lockstep::api
