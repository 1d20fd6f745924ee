// A directory tree as one deterministic OCI layer.
//
// The tar stream depends only on the tree's content: entries sorted by path bytes;
// owners 0:0 with no names; every time set to one given epoch; modes normalised to
// 0755 (directories, and files with any execute bit) or 0644, so umask and creation
// order do not leak in; symlinks kept as links; empty directories kept; hard links
// stored as separate files. Device files, FIFOs and sockets are refused. The
// uncompressed stream is hashed for the diff_id and the compressed one for the digest
// in the same pass.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "artifact/compressor.h"
#include "base/status.h"
#include "core/digest.h"

namespace lockstep::artifact {

struct LayerOptions {
  Compression compression = Compression::kGzip;
  int64_t mtime = 0;  // seconds since the epoch for every entry
};

struct LayerInfo {
  Digest digest;   // of the compressed blob
  Digest diff_id;  // of the uncompressed tar
  uint64_t size = 0;
  std::string media_type;
};

// Writes the layer for `dir` to `out_path`.
Result<LayerInfo> WriteLayer(const std::filesystem::path& dir,
                             const std::filesystem::path& out_path, const LayerOptions& options);

}  // namespace lockstep::artifact
