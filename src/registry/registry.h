// The registry's storage semantics, independent of HTTP: repositories, their blobs,
// manifests, tags and referrers over one shared BlobStore. The HTTP routes in server/
// translate requests into these calls and Status reasons into OCI error bodies.
//
// Invariants kept here:
// - a name or reference reaches the disk only after core/names.h validated it (callers
//   pass validated names; Reference values are validated by construction);
// - an immutable tag never changes target and is never deleted, by any call;
// - every write that makes content reachable (blob link, manifest, tag) happens under
//   the shared commit lock, so a concurrent `registry gc` sweep never races it;
// - every write of a repository's manifests, tags and referrers, and every check it
//   depends on, happens under that repository's own lock (inside the commit lock), so
//   of two racing pushes one wins whole and the other changes nothing;
// - the tags of one push move together: several are journaled first (_pending-tags) and
//   a push interrupted by a crash is finished by the next writer or by Recover();
// - a stored manifest is always read with the media type it was pushed with.
// Thread-safe; several processes may share one root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/names.h"
#include "image/manifest.h"
#include "os/clock.h"
#include "os/file_lock.h"
#include "registry/blob_store.h"
#include "registry/layout.h"
#include "registry/tag_policy.h"
#include "registry/uploads.h"

namespace lockstep::registry {

struct RegistryOptions {
  TagPolicy tag_policy;
  uint64_t max_upload_bytes = uint64_t{64} << 30;
};

struct ManifestContent {
  Digest digest;
  std::string media_type;
  std::string body;
};

struct PutManifestResult {
  Digest digest;
  std::optional<Digest> subject;
};

struct TagPage {
  std::vector<std::string> tags;
  bool more = false;  // tags remain after the last one returned
};

struct ReferrersResult {
  std::string index_json;
  bool filtered = false;
};

class Registry {
 public:
  Registry(const fs::path& root, RegistryOptions options, const os::Clock* clock);

  BlobStore& blobs() { return blobs_; }
  UploadSessions& uploads() { return uploads_; }
  const Layout& layout() const { return layout_; }
  const RegistryOptions& options() const { return options_; }

  bool RepositoryExists(std::string_view repo) const;
  Result<std::vector<std::string>> ListRepositories() const;

  // Blobs ------------------------------------------------------------------------------
  // Size of a blob the repository may serve; BLOB_UNKNOWN otherwise.
  Result<uint64_t> StatBlob(std::string_view repo, const Digest& d) const;
  Result<os::UniqueFd> OpenBlob(std::string_view repo, const Digest& d) const;
  // Marks the blob as recently wanted, so GC's grace period covers a push that found it
  // already present and will reference it from a manifest shortly.
  void NoteBlobWanted(const Digest& d);
  // Verifies and commits an upload, then links the blob into `repo`.
  Result<Digest> FinishUpload(std::string_view repo, UploadWriter& writer, const Digest& expected);
  // Cross-repository mount: links `d` into `repo` if `from` has it. Returns false when
  // `from` does not have it (the caller then starts a normal upload).
  Result<bool> MountBlob(std::string_view repo, const Digest& d, std::string_view from);
  // Unlinks a blob from `repo`; refused while a manifest of the repository uses it.
  Status DeleteBlob(std::string_view repo, const Digest& d);

  // Manifests --------------------------------------------------------------------------
  Result<ManifestContent> GetManifest(std::string_view repo, const Reference& ref) const;
  // A stored manifest parsed as what it was pushed as (its media type is kept beside it).
  Result<image::Manifest> ReadManifest(std::string_view repo, const Digest& d) const;
  // Stores a manifest and points `ref` (if a tag) and `extra_tags` at it. Validates the
  // body, that every referenced blob or child manifest is in the repository, and that no
  // immutable tag would move; on any refusal nothing is stored.
  Result<PutManifestResult> PutManifest(std::string_view repo, const Reference& ref,
                                        std::string_view body, std::string_view content_type,
                                        const std::vector<std::string>& extra_tags);
  // By tag: removes the tag (a mutable one only). By digest: removes the manifest and
  // the mutable tags pointing at it; refused while an immutable tag points at it or an
  // index of the repository names it.
  Status DeleteManifest(std::string_view repo, const Reference& ref);

  // Finishes what a crashed process left: tags a push journaled but did not move, and
  // temporary files beside tags, manifests and referrers. Run at start; safe beside a
  // live writer (it takes the lock of each repository that has something left). Best
  // effort: a repository it cannot finish is reported in the returned error, the others
  // are done.
  Status Recover();

  // Discovery --------------------------------------------------------------------------
  // Tags in lexical order after `last`, at most `n` (all when n is empty).
  Result<TagPage> ListTags(std::string_view repo, std::optional<uint64_t> n,
                           std::string_view last) const;
  // Tags of `repo` that point at `d`.
  Result<std::vector<std::string>> TagsOf(std::string_view repo, const Digest& d) const;
  Result<ReferrersResult> Referrers(std::string_view repo, const Digest& subject,
                                    std::string_view artifact_type) const;

  // Held (shared) around every commit; GC holds it exclusively while it sweeps.
  Result<os::FileLock> CommitLock() const;

 private:
  Result<Digest> ResolveTag(std::string_view repo, std::string_view tag) const;
  Status CheckReferencesPresent(std::string_view repo, const image::Manifest& m) const;
  Result<os::FileLock> RepoLock(std::string_view repo) const;
  // With the repository's lock held: moves the tags a crashed push journaled.
  Status FinishPendingTags(std::string_view repo);
  // With the repository's lock held: points every tag of `tags` at `d`, all or none.
  // `committed` says whether the move is under way (some tag renamed, or the journal
  // written): then it will finish, even if this call failed.
  Status MoveTags(std::string_view repo, const std::vector<std::string>& tags, const Digest& d,
                  bool* committed);
  // Manifests of the repository that are indexes naming `d`.
  Result<std::vector<Digest>> IndexesNaming(std::string_view repo, const Digest& d) const;
  Status LinkBlobLocked(std::string_view repo, const Digest& d);

  Layout layout_;
  RegistryOptions options_;
  const os::Clock* clock_;
  BlobStore blobs_;
  UploadSessions uploads_;
};

}  // namespace lockstep::registry
