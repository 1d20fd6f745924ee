// Unpacking one image layer into a directory that overlayfs can use as a lower layer.
//
// The blob is decompressed by lockstep (gzip or zstd, or none) and the tar stream is
// hashed on the way into libarchive, so the layer's diff_id is checked against the image
// config in the same pass; on a mismatch, or any refused entry, the directory is removed
// and nothing is left behind.
//
// Extraction refuses entries that would escape the directory: "..", absolute paths and
// writes through symlinks (libarchive's SECURE_* flags). Owners and modes are kept.
// OCI whiteouts become overlayfs whiteouts, so layers stack without copying:
//   .wh.NAME          → a 0:0 character device NAME (overlayfs hides NAME below)
//   DIR/.wh..wh..opq  → xattr trusted.overlay.opaque=y on DIR (DIR hides what is below)
#pragma once

#include <filesystem>
#include <string_view>

#include "base/status.h"
#include "core/digest.h"

namespace lockstep::runtime::local {

// Unpacks the layer blob at `blob` (media type `media_type`) into `dest`, which must not
// exist yet. Fails with kFailedPrecondition if the tar stream's digest is not
// `expected_diff_id`, and kInvalidArgument (naming the entry) for an unsafe entry.
Status UnpackLayer(const std::filesystem::path& blob, std::string_view media_type,
                   const Digest& expected_diff_id, const std::filesystem::path& dest);

}  // namespace lockstep::runtime::local
