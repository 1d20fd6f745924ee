// The one parser of manifests, indexes and descriptors (OCI image manifest and index, and
// their Docker v2 equivalents), used by the registry for what is pushed to it, by the
// client for what registries answer, and for OCI layouts and base images. Manifests are
// stored and moved byte for byte; this reads what lockstep needs of them: the referenced
// descriptors, the subject, the artifact type, annotations and platforms.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/status.h"
#include "core/digest.h"

namespace lockstep::image {

inline constexpr size_t kMaxManifestBytes = 4 << 20;

// The platform an index entry is for.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

using Annotations = std::map<std::string, std::string>;

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::string artifact_type;
  std::string annotations_json;  // the "annotations" object as JSON text, or empty
  Annotations annotations;       // its string values
  std::optional<Platform> platform;
  bool has_urls = false;  // a foreign layer: not expected in the registry
};

struct Manifest {
  std::string media_type;  // resolved from the body, else from Content-Type
  bool is_index = false;
  std::optional<Descriptor> config;    // image manifests only
  std::vector<Descriptor> references;  // layers, or an index's manifests
  std::optional<Descriptor> subject;   // OCI 1.1 referrers
  std::string artifact_type;           // artifactType, else the config's media type
  std::string annotations_json;
  Annotations annotations;

  // The config (if any) and then the references: every blob or child manifest this
  // manifest needs, in the order a copy walks them.
  std::vector<Descriptor> Children() const;
};

// Parses `body` pushed with `content_type` (may be empty: the media type then comes from
// the body, and a body without one is an index when it lists "manifests"). Errors are
// kInvalidArgument with the reason MANIFEST_INVALID and say which field is wrong.
Result<Manifest> ParseManifest(std::string_view body, std::string_view content_type);

// One descriptor: mediaType, digest and size required; artifactType, annotations, urls and
// platform read when they are there. Errors name the field by its path.
Result<Descriptor> ParseDescriptor(const json::ObjectView& o);

// Serialises one referrer descriptor for an index's "manifests" array.
std::string DescriptorJson(const Descriptor& d);

// An OCI image index (no subject) listing `descriptors`, for the referrers API.
std::string IndexJson(const std::vector<std::string>& descriptor_jsons);

}  // namespace lockstep::image
