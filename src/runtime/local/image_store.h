// The local image store: images fetched by digest into an OCI layout, and their layers
// unpacked once each into a cache keyed by diff_id, ready to be stacked by overlayfs.
//
// A layer is unpacked into a temporary directory and renamed into place, so the cache
// holds only complete layers, also after a crash; two threads unpacking the same layer
// both succeed and one copy is kept. Thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/image_ref.h"
#include "image/image_config.h"
#include "image/oci_layout.h"

namespace lockstep::runtime::local {

// Fetches a pinned image (manifest, config, layers) into a layout; the target does not
// know how to reach registries, its owner does.
using ImageFetcher = std::function<Status(const ImageRef& ref, image::OciLayout& into)>;

// What the image config says about running it.
using image::ImageConfig;

struct UnpackedImage {
  Digest manifest;
  ImageConfig config;
  std::vector<std::filesystem::path> layers;  // unpacked trees, bottom layer first
};

class ImageStore {
 public:
  ImageStore(std::filesystem::path dir, ImageFetcher fetch);

  // Fetches `ref` (which must carry a digest) unless the store has it, unpacks the layers
  // the cache lacks, and returns the image. For an index, the linux/amd64 image is used.
  Result<UnpackedImage> Ensure(const ImageRef& ref);

  // Removes layer extractions that a process killed mid-way left behind.
  void SweepTemporaries();

 private:
  Result<UnpackedImage> Load(const image::OciLayout& layout, const Digest& digest, int depth);
  Result<std::filesystem::path> UnpackedLayer(const image::OciLayout& layout,
                                              const std::string& media_type, const Digest& blob,
                                              const Digest& diff_id);

  std::filesystem::path dir_;
  ImageFetcher fetch_;
};

}  // namespace lockstep::runtime::local
