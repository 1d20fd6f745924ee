#include "registry/attach.h"

#include <boost/json.hpp>

#include "image/media_types.h"

namespace lockstep::registry {

namespace bj = boost::json;

namespace {

// Stores `data` as a blob of `repo` through an upload session, as a push does.
Result<Digest> PutBlob(Registry& registry, std::string_view repo, std::string_view data) {
  Digest digest = DigestOf(data);
  if (registry.StatBlob(repo, digest).ok()) return digest;
  LS_ASSIGN_OR_RETURN(std::string id, registry.uploads().Start(repo));
  LS_ASSIGN_OR_RETURN(UploadWriter writer, registry.uploads().Open(repo, id));
  LS_RETURN_IF_ERROR(writer.Write(data));
  LS_RETURN_IF_ERROR(writer.Keep());
  return registry.FinishUpload(repo, writer, digest);
}

}  // namespace

Result<Digest> Attach(Registry& registry, std::string_view repo, const Digest& subject,
                      const Attachment& a) {
  LS_ASSIGN_OR_RETURN(ManifestContent image, registry.GetManifest(repo, Reference{subject}));
  constexpr std::string_view kEmpty = "{}";
  LS_ASSIGN_OR_RETURN(Digest config, PutBlob(registry, repo, kEmpty));
  LS_ASSIGN_OR_RETURN(Digest layer, PutBlob(registry, repo, a.content));
  bj::object annotations;
  for (const auto& [k, v] : a.annotations) annotations[k] = v;
  std::string body = bj::serialize(bj::object{
      {"schemaVersion", 2},
      {"mediaType", image::media::kOciManifest},
      {"artifactType", a.artifact_type},
      {"config",
       bj::object{{"mediaType", image::media::kOciEmpty}, {"digest", config.str()}, {"size", 2}}},
      {"layers",
       bj::array{bj::object{
           {"mediaType", a.artifact_type}, {"digest", layer.str()}, {"size", a.content.size()}}}},
      {"subject", bj::object{{"mediaType", image.media_type},
                             {"digest", image.digest.str()},
                             {"size", image.body.size()}}},
      {"annotations", std::move(annotations)}});
  LS_ASSIGN_OR_RETURN(
      PutManifestResult put,
      registry.PutManifest(repo, Reference{DigestOf(body)}, body, image::media::kOciManifest, {}));
  return put.digest;
}

}  // namespace lockstep::registry
