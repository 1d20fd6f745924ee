// Media types of the OCI image spec and their Docker equivalents that registries and
// clients exchange.
#pragma once

#include <string_view>

namespace lockstep::image::media {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

inline bool IsIndex(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }
inline bool IsImageManifest(std::string_view t) {
  return t == kOciManifest || t == kDockerManifest;
}
inline bool IsManifest(std::string_view t) { return IsIndex(t) || IsImageManifest(t); }

}  // namespace lockstep::image::media
