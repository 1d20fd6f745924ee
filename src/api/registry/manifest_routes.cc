// GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference>
#include "api/registry/registry_routes.h"
#include "core/names.h"
#include "image/manifest.h"

namespace lockstep::api {

http::Task<void> HandleManifest(RegistryCall& call) {
  Result<Reference> ref = Reference::Parse(call.ref);
  const std::string& method = call.req.method;
  bool digest_form = call.ref.find(':') != std::string::npos;
  if (!ref.ok() && !digest_form && (method == "GET" || method == "HEAD")) {
    // No tag can have that name, so no manifest has it: what a pull of any unknown tag
    // answers (as the reference registry and the conformance suite expect).
    co_return co_await call.Fail(
        NotFound("manifest unknown: '" + call.ref + "' is not a valid tag, so nothing has it"),
        "MANIFEST_UNKNOWN");
  }
  if (!ref.ok()) {
    co_return co_await call.Fail(ref.status(), digest_form ? "DIGEST_INVALID" : "MANIFEST_INVALID");
  }
  registry::Registry& registry = call.registry;

  if (method == "GET" || method == "HEAD") {
    Result<registry::ManifestContent> m = registry.GetManifest(call.repo, *ref);
    if (!m.ok()) co_return co_await call.Fail(m.status(), "MANIFEST_UNKNOWN");
    http::Response r;
    r.Set("Content-Type", m->media_type);
    r.Set("Docker-Content-Digest", m->digest.str());
    r.Set("ETag", "\"" + m->digest.str() + "\"");
    if (method == "HEAD") {
      r.head_length = m->body.size();
    } else {
      r.body = std::move(m->body);
    }
    co_return co_await call.ex.Send(std::move(r));
  }

  if (method == "DELETE") {
    Status s = co_await call.blocking.Run([&] {
      Status deleted = registry.DeleteManifest(call.repo, *ref);
      if (deleted.ok())
        call.Audited("delete manifest", call.repo + (ref->is_digest() ? "@" : ":") + call.ref);
      return deleted;
    });
    if (!s.ok()) co_return co_await call.FailDelete(s, "MANIFEST_UNKNOWN");
    co_return co_await call.ex.Send(http::Response::Empty(202));
  }

  // PUT
  Result<std::string> body = co_await call.ex.ReadSmallBody(image::kMaxManifestBytes);
  if (!body.ok()) {
    Status s = body.status();
    if (s.code() == Code::kOutOfRange)
      s = OutOfRange("manifest is larger than 4 MiB", "SIZE_INVALID");
    co_return co_await call.Fail(s, "MANIFEST_INVALID");
  }
  std::string content_type(call.req.Header("content-type"));
  if (size_t semi = content_type.find(';'); semi != std::string::npos) content_type.resize(semi);
  std::vector<std::string> tags = call.Params("tag");
  Result<registry::PutManifestResult> put = co_await call.blocking.Run([&] {
    Result<registry::PutManifestResult> stored =
        registry.PutManifest(call.repo, *ref, *body, content_type, tags);
    if (stored.ok()) {
      if (!ref->is_digest()) tags.insert(tags.begin(), call.ref);
      std::string detail;
      for (const std::string& tag : tags) detail += (detail.empty() ? "tags " : ", ") + tag;
      call.Audited("push manifest", call.repo + "@" + stored->digest.str(), detail);
    }
    return stored;
  });
  if (!put.ok()) co_return co_await call.Fail(put.status(), "MANIFEST_INVALID");
  http::Response r;
  r.status = 201;
  r.Set("Location", "/v2/" + call.repo + "/manifests/" + put->digest.str());
  r.Set("Docker-Content-Digest", put->digest.str());
  if (put->subject) r.Set("OCI-Subject", put->subject->str());
  // One OCI-Tag per tag a push by digest created (distribution spec 1.1).
  if (ref->is_digest()) {
    for (const std::string& tag : call.Params("tag")) r.Set("OCI-Tag", tag);
  }
  co_await call.ex.Send(std::move(r));
}

}  // namespace lockstep::api
