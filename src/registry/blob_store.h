// Content-addressed blob storage shared by every repository. A blob becomes visible
// only by an atomic link(2) of a complete, fsynced file whose digest was verified, so a
// reader never sees a partial or mismatched blob. Two writers of the same digest both
// succeed and one copy is kept. Thread-safe; safe across processes.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/digest.h"
#include "os/file.h"
#include "registry/layout.h"

namespace lockstep::registry {

class BlobStore {
 public:
  explicit BlobStore(Layout layout) : layout_(std::move(layout)) {}

  bool Has(const Digest& d) const;
  // Size in bytes, or kNotFound with reason BLOB_UNKNOWN.
  Result<uint64_t> Size(const Digest& d) const;
  Result<os::UniqueFd> Open(const Digest& d) const;
  Result<std::string> ReadSmall(const Digest& d, uint64_t max_bytes) const;

  // Makes the complete file at `temp` (already fsynced, digest verified by the caller)
  // the blob `d`. The temporary name is removed either way.
  Status Commit(const fs::path& temp, const Digest& d);

  // Writes a small blob (a manifest) from memory; returns its digest.
  Result<Digest> Put(std::string_view data, DigestAlgorithm algorithm = DigestAlgorithm::kSha256);

  // Every stored digest (for GC).
  Result<std::vector<Digest>> List() const;
  Status Remove(const Digest& d);

  const Layout& layout() const { return layout_; }

 private:
  Layout layout_;
};

}  // namespace lockstep::registry
