// Parsing and validation of pushed manifests (OCI image manifest and index, and their
// Docker v2 equivalents). The registry stores manifests byte for byte; this only reads
// what it needs: the referenced descriptors, the subject and the artifact type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/digest.h"

namespace lockstep::image {

inline constexpr size_t kMaxManifestBytes = 4 << 20;

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::string artifact_type;
  std::string annotations_json;  // the "annotations" object as JSON text, or empty
  bool has_urls = false;         // a foreign layer: not expected in the registry
};

struct Manifest {
  std::string media_type;  // resolved from the body, else from Content-Type
  bool is_index = false;
  std::optional<Descriptor> config;    // image manifests only
  std::vector<Descriptor> references;  // layers, or an index's manifests
  std::optional<Descriptor> subject;   // OCI 1.1 referrers
  std::string artifact_type;           // artifactType, else the config's media type
  std::string annotations_json;
};

// Parses `body` pushed with `content_type` (may be empty). Errors carry the reason
// MANIFEST_INVALID and say which field is wrong.
Result<Manifest> ParseManifest(std::string_view body, std::string_view content_type);

// Serialises one referrer descriptor for an index's "manifests" array.
std::string DescriptorJson(const Descriptor& d);

// An OCI image index (no subject) listing `descriptors`, for the referrers API.
std::string IndexJson(const std::vector<std::string>& descriptor_jsons);

}  // namespace lockstep::image
