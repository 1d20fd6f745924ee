// Moving images between OCI layouts and registries, by digest.
//
// Tags are resolved to digests once, at the start; everything after uses the digest,
// and the digest is what the caller gets back. Blobs the destination already has are
// skipped; copies within one registry use cross-repository mounts; children of an
// index go before the index and blobs before the manifest that names them.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "client/registry_client.h"
#include "core/image_ref.h"
#include "image/oci_layout.h"

namespace lockstep::client {

struct Pushed {
  Digest digest;
  size_t blobs_sent = 0;
  size_t blobs_skipped = 0;
};

// Pushes the layout's image `name` to `ref` (its tag, or by digest when it has none).
Result<Pushed> PushImage(const image::OciLayout& layout, const std::string& name,
                         RegistryClient& client, const ImageRef& ref);

// Pulls `ref` into `layout` under `name` (unnamed when empty); returns the manifest digest.
Result<Digest> PullImage(RegistryClient& client, const ImageRef& ref, image::OciLayout& layout,
                         const std::string& name);

// Copies `src` to `dst` (registry to registry) keeping the digest.
Result<Pushed> CopyImage(RegistryClient& from, const ImageRef& src, RegistryClient& to,
                         const ImageRef& dst, const std::filesystem::path& scratch);

}  // namespace lockstep::client
