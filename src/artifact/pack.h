// `lockstep pack`: a directory (plus optional base image) as an OCI image whose digest
// depends only on the content and the options.
//
// Pipeline: the directory becomes one deterministic layer (layer.h); the image config
// is the base's config (or an empty one) with the requested entrypoint, cmd, env,
// workdir, user, labels and exposed port applied and the new diff_id appended; the
// manifest lists the base's layers then the new one, with provenance annotations
// (version, revision, source, created). Config and manifest are serialised with a fixed
// key order, and every time comes from one epoch (SOURCE_DATE_EPOCH or 0), so two packs
// of equal trees give byte-identical manifests on any machine.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "artifact/layer.h"
#include "base/status.h"
#include "core/digest.h"
#include "image/manifest.h"
#include "image/oci_layout.h"

namespace lockstep::artifact {

struct ImageSettings {
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> env;  // KEY=VALUE; replaces the base's value of KEY
  std::optional<std::string> workdir;
  std::optional<std::string> user;
  std::map<std::string, std::string> labels;
  std::optional<uint16_t> port;  // exposed TCP port the service listens on
};

struct Provenance {
  std::string version;   // SemVer or a git commit (with "-dirty" when allowed)
  std::string revision;  // git commit, if known
  std::string source;    // repository URL, if known
  int64_t epoch = 0;     // SOURCE_DATE_EPOCH, else 0
};

struct PackOptions {
  std::filesystem::path dir;
  std::string name;  // the image's name in the layout (the version tag)
  ImageSettings settings;
  Provenance provenance;
  LayerOptions layer;
  std::optional<Digest> base;  // a manifest already in the layout
  // The platform the image is for. Unset: the base's, or without a base this machine's.
  // Set, it must agree with the base's.
  std::optional<image::Platform> platform;
};

struct PackResult {
  Digest manifest;
  uint64_t manifest_size = 0;
  LayerInfo layer;
  image::Platform platform;  // what the config says
};

// "os/architecture[/variant]", as OCI platforms are written (linux/arm64/v8).
Result<image::Platform> ParsePlatform(std::string_view text);
std::string PlatformString(const image::Platform& p);

Result<PackResult> Pack(const PackOptions& options, image::OciLayout& layout);

}  // namespace lockstep::artifact
