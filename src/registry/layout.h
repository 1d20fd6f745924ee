// Where the registry keeps things under its root directory. Every path is built here
// from validated names (core/names.h), so no request string reaches the disk unchecked.
//
//   blobs/<alg>/<hh>/<hex>              content, written once, shared by all repositories
//   uploads/<id>/{data,repo}            upload sessions in progress
//   repos/<name>/_blobs/<alg>/<hex>     the repository may serve this blob
//   repos/<name>/_manifests/<alg>/<hex> a manifest of the repository; holds its media type
//   repos/<name>/_tags/<tag>            the digest the tag points at
//   repos/<name>/_referrers/<alg>-<hex>/<alg>-<hex>
//                                       descriptor of a manifest whose subject is <alg>-<hex>
//   repos/<name>/_lock                  held by every write of the repository's manifests
//   repos/<name>/_pending-tags          tags one push is moving together (a journal)
//   .<name>.tmp-<pid>-<random>          a file being written (os::WriteTemp), beside it
//   gc.lock                             shared by commits, exclusive for a GC sweep
//
// Repository names cannot contain a component starting with '_', so a repository's own
// directories never collide with a nested repository.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/digest.h"

namespace lockstep::registry {

namespace fs = std::filesystem;

class Layout {
 public:
  explicit Layout(fs::path root) : root_(std::move(root)) {}

  const fs::path& root() const { return root_; }
  fs::path blobs() const { return root_ / "blobs"; }
  fs::path uploads() const { return root_ / "uploads"; }
  fs::path repos() const { return root_ / "repos"; }
  fs::path gc_lock() const { return root_ / "gc.lock"; }

  fs::path BlobPath(const Digest& d) const {
    return blobs() / std::string(d.algorithm_name()) / d.hex().substr(0, 2) / d.hex();
  }
  fs::path UploadDir(std::string_view id) const { return uploads() / std::string(id); }
  fs::path Repo(std::string_view name) const { return repos() / std::string(name); }
  fs::path ManifestLinks(std::string_view repo) const { return Repo(repo) / "_manifests"; }
  fs::path ManifestLink(std::string_view repo, const Digest& d) const {
    return ManifestLinks(repo) / std::string(d.algorithm_name()) / d.hex();
  }
  fs::path BlobLinks(std::string_view repo) const { return Repo(repo) / "_blobs"; }
  fs::path BlobLink(std::string_view repo, const Digest& d) const {
    return BlobLinks(repo) / std::string(d.algorithm_name()) / d.hex();
  }
  fs::path Tags(std::string_view repo) const { return Repo(repo) / "_tags"; }
  fs::path Tag(std::string_view repo, std::string_view tag) const {
    return Tags(repo) / std::string(tag);
  }
  fs::path RepoLock(std::string_view repo) const { return Repo(repo) / "_lock"; }
  fs::path PendingTags(std::string_view repo) const { return Repo(repo) / "_pending-tags"; }
  fs::path Referrers(std::string_view repo) const { return Repo(repo) / "_referrers"; }
  fs::path ReferrersOf(std::string_view repo, const Digest& subject) const {
    return Referrers(repo) / FlatName(subject);
  }

  // "sha256-<hex>": a digest as one file name.
  static std::string FlatName(const Digest& d) {
    return std::string(d.algorithm_name()) + "-" + d.hex();
  }

 private:
  fs::path root_;
};

}  // namespace lockstep::registry
