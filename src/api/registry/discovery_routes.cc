// GET /v2/<name>/tags/list and GET /v2/<name>/referrers/<digest>
#include <boost/json.hpp>

#include "api/registry/registry_routes.h"
#include "base/strings.h"
#include "image/media_types.h"

namespace lockstep::api {

http::Task<void> HandleTagsList(RegistryCall& call) {
  std::optional<uint64_t> n;
  if (auto param = call.Param("n")) {
    n = ParseUint(*param);
    if (!n) {
      co_return co_await call.Fail(
          InvalidArgument("n must be a non-negative integer, got '" + *param + "'"),
          "PAGINATION_NUMBER_INVALID");
    }
  }
  std::string last = call.Param("last").value_or("");
  Result<registry::TagPage> page = call.registry.ListTags(call.repo, n, last);
  if (!page.ok()) co_return co_await call.Fail(page.status(), "NAME_UNKNOWN");

  boost::json::object body;
  body["name"] = call.repo;
  boost::json::array tags;
  for (const std::string& t : page->tags) tags.emplace_back(t);
  body["tags"] = std::move(tags);
  http::Response r;
  r.Set("Content-Type", "application/json");
  if (page->more && !page->tags.empty()) {
    r.Set("Link", "</v2/" + call.repo + "/tags/list?n=" + std::to_string(*n) +
                      "&last=" + page->tags.back() + ">; rel=\"next\"");
  }
  r.body = boost::json::serialize(body);
  co_await call.ex.Send(std::move(r));
}

http::Task<void> HandleReferrers(RegistryCall& call) {
  Result<Digest> subject = Digest::Parse(call.ref);
  if (!subject.ok()) co_return co_await call.Fail(subject.status(), "DIGEST_INVALID");
  std::string artifact_type = call.Param("artifactType").value_or("");
  Result<registry::ReferrersResult> result =
      call.registry.Referrers(call.repo, *subject, artifact_type);
  if (!result.ok()) co_return co_await call.Fail(result.status(), "NAME_UNKNOWN");
  http::Response r;
  r.Set("Content-Type", std::string(image::media::kOciIndex));
  if (result->filtered) r.Set("OCI-Filters-Applied", "artifactType");
  r.body = std::move(result->index_json);
  co_await call.ex.Send(std::move(r));
}

}  // namespace lockstep::api
