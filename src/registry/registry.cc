// Repositories and their blobs. Manifests, tags and referrers are in
// registry_manifests.cc.
#include "registry/registry.h"

#include <algorithm>

#include "image/manifest.h"

namespace lockstep::registry {

Registry::Registry(const fs::path& root, RegistryOptions options, const os::Clock* clock)
    : layout_(root),
      options_(std::move(options)),
      clock_(clock),
      blobs_(layout_),
      uploads_(layout_, &blobs_, clock, options_.max_upload_bytes) {}

bool Registry::RepositoryExists(std::string_view repo) const {
  return os::Exists(layout_.ManifestLinks(repo)) || os::Exists(layout_.BlobLinks(repo));
}

Result<std::vector<std::string>> Registry::ListRepositories() const {
  // A repository is any directory under repos/ that holds a _manifests or _blobs entry;
  // names nest, so walk the tree (skipping the '_' internals).
  std::vector<std::string> out;
  std::vector<std::string> stack = {""};
  while (!stack.empty()) {
    std::string prefix = std::move(stack.back());
    stack.pop_back();
    fs::path dir = prefix.empty() ? layout_.repos() : layout_.Repo(prefix);
    LS_ASSIGN_OR_RETURN(std::vector<std::string> names, os::ListDir(dir));
    for (const std::string& name : names) {
      if (name.empty() || name[0] == '_') continue;
      std::string repo = prefix.empty() ? name : prefix + "/" + name;
      if (!ValidateRepositoryName(repo).ok()) continue;
      if (RepositoryExists(repo)) out.push_back(repo);
      stack.push_back(repo);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<os::FileLock> Registry::CommitLock() const {
  LS_RETURN_IF_ERROR(os::MakeDirs(layout_.root()));
  return os::FileLock::Acquire(layout_.gc_lock(), os::FileLock::Mode::kShared);
}

Result<uint64_t> Registry::StatBlob(std::string_view repo, const Digest& d) const {
  if (!os::Exists(layout_.BlobLink(repo, d)) && !os::Exists(layout_.ManifestLink(repo, d))) {
    return NotFound("blob " + d.str() + " is not in repository " + std::string(repo),
                    "BLOB_UNKNOWN");
  }
  return blobs_.Size(d);
}

Result<os::UniqueFd> Registry::OpenBlob(std::string_view repo, const Digest& d) const {
  LS_RETURN_IF_ERROR(StatBlob(repo, d).status());
  return blobs_.Open(d);
}

void Registry::NoteBlobWanted(const Digest& d) {
  // Refresh at most every few minutes: a pull-heavy registry should not turn every HEAD
  // into an inode write.
  constexpr int64_t kRefreshAfterSeconds = 300;
  fs::path path = layout_.BlobPath(d);
  Result<int64_t> mtime = os::ModifiedTime(path);
  if (mtime.ok() && *mtime + kRefreshAfterSeconds < clock_->NowSeconds()) {
    (void)os::Touch(path);
  }
}

Status Registry::LinkBlobLocked(std::string_view repo, const Digest& d) {
  fs::path link = layout_.BlobLink(repo, d);
  if (os::Exists(link)) return os::Touch(link);
  LS_RETURN_IF_ERROR(os::MakeDirs(link.parent_path()));
  Status s = os::CreateFileExclusive(link, "");
  if (s.code() == Code::kAlreadyExists) return Status::Ok();
  return s;
}

Result<Digest> Registry::FinishUpload(std::string_view repo, UploadWriter& writer,
                                      const Digest& expected) {
  LS_ASSIGN_OR_RETURN(os::FileLock lock, CommitLock());
  LS_ASSIGN_OR_RETURN(Digest d, writer.Finish(expected));
  LS_RETURN_IF_ERROR(LinkBlobLocked(repo, d));
  return d;
}

Result<bool> Registry::MountBlob(std::string_view repo, const Digest& d, std::string_view from) {
  if (!os::Exists(layout_.BlobLink(from, d)) || !blobs_.Has(d)) return false;
  LS_ASSIGN_OR_RETURN(os::FileLock lock, CommitLock());
  if (!blobs_.Has(d)) return false;  // collected between the check and the lock
  LS_RETURN_IF_ERROR(LinkBlobLocked(repo, d));
  return true;
}

Status Registry::DeleteBlob(std::string_view repo, const Digest& d) {
  fs::path link = layout_.BlobLink(repo, d);
  if (!os::Exists(link)) {
    return NotFound("blob " + d.str() + " is not in repository " + std::string(repo),
                    "BLOB_UNKNOWN");
  }
  LS_ASSIGN_OR_RETURN(os::FileLock commit, CommitLock());
  // Under the repository's lock, so no manifest naming the blob arrives meanwhile.
  LS_ASSIGN_OR_RETURN(os::FileLock lock, RepoLock(repo));
  for (auto alg : {"sha256", "sha512"}) {
    fs::path dir = layout_.ManifestLinks(repo) / alg;
    LS_ASSIGN_OR_RETURN(std::vector<std::string> hexes, os::ListDir(dir));
    for (const std::string& hex : hexes) {
      Result<Digest> md = Digest::Parse(std::string(alg) + ":" + hex);
      if (!md.ok()) continue;
      Result<image::Manifest> m = ReadManifest(repo, *md);
      if (!m.ok() && m.status().code() == Code::kNotFound) continue;
      if (!m.ok()) {
        return FailedPrecondition("manifest " + md->str() + " of " + std::string(repo) +
                                      " cannot be read, so it may use blob " + d.str() +
                                      "; delete that manifest first",
                                  "DENIED");
      }
      bool uses = m->config && m->config->digest == d;
      for (const image::Descriptor& r : m->references) uses = uses || r.digest == d;
      if (uses) {
        return FailedPrecondition(
            "blob " + d.str() + " is used by manifest " + md->str() + "; delete the manifest first",
            "DENIED");
      }
    }
  }
  return os::RemoveFile(link);
}

}  // namespace lockstep::registry
