// Helpers for tests that need small valid images in a Registry.
#pragma once

#include <string>

#include "image/media_types.h"
#include "registry/registry.h"

namespace lockstep::registry::testing {

inline std::string DescriptorFor(std::string_view media_type, std::string_view content) {
  return R"({"mediaType":")" + std::string(media_type) + R"(","digest":")" +
         DigestOf(content).str() + R"(","size":)" + std::to_string(content.size()) + "}";
}

// Uploads `content` as a blob of `repo` through an upload session.
inline Digest PushBlob(Registry& r, std::string_view repo, std::string_view content) {
  std::string id = r.uploads().Start(repo).value();
  UploadWriter w = r.uploads().Open(repo, id).value();
  (void)w.Write(content);
  return r.FinishUpload(repo, w, DigestOf(content)).value();
}

// An image manifest with one config and one layer, both pushed first.
inline std::string PushImageBlobs(Registry& r, std::string_view repo, std::string_view seed,
                                  std::string_view extra = "") {
  std::string config = R"({"seed":")" + std::string(seed) + R"("})";
  std::string layer = "layer-" + std::string(seed);
  PushBlob(r, repo, config);
  PushBlob(r, repo, layer);
  return R"({"schemaVersion":2,"mediaType":")" + std::string(image::media::kOciManifest) +
         R"(","config":)" + DescriptorFor(image::media::kOciConfig, config) + R"(,"layers":[)" +
         DescriptorFor(image::media::kOciLayerGzip, layer) + "]" + std::string(extra) + "}";
}

}  // namespace lockstep::registry::testing
