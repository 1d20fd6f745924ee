// Garbage collection of the registry, safe to run while `lockstep serve` keeps serving.
//
// What is live: every manifest a tag points at; every manifest an index that is live
// lists; every referrer (a manifest with a `subject`) of a live manifest; the config and
// layers of every live image manifest. Anything written or wanted within the grace
// period is live too: a client pushes layers before the manifest that references them,
// and the children of an index before the index, so a fresh unreferenced blob or
// manifest is most likely about to be referenced.
//
// How it stays safe beside a running server: the whole mark and sweep runs under the
// registry's commit lock held exclusively. The server takes that lock (shared) around
// each commit (upload finish, mount, manifest put, delete), so no commit interleaves
// with a sweep; reads and streaming uploads go on meanwhile. Upload sessions are not
// blobs and are only removed when idle past their time-to-live.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "os/clock.h"
#include "registry/registry.h"

namespace lockstep::registry {

struct GcOptions {
  bool dry_run = false;
  int64_t grace_seconds = 3600;
  int64_t upload_ttl_seconds = 86400;
};

struct GcReport {
  std::vector<std::string> manifests_removed;  // "repo@digest"
  size_t blob_links_removed = 0;
  std::vector<Digest> blobs_removed;
  uint64_t bytes_freed = 0;
  size_t blobs_kept = 0;
  size_t uploads_expired = 0;
};

Result<GcReport> CollectGarbage(Registry& registry, const os::Clock& clock,
                                const GcOptions& options);

}  // namespace lockstep::registry
