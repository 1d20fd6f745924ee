// A bare mirror of a remote git repository (the deploy repository) under a directory of
// the server's, fetched on demand, and the files of a tree read at an exact commit:
// never a work tree, never whatever happens to be checked out.
//
// Remotes: a local path, file://, ssh:// (an ed25519 or ECDSA key; the host key must be
// in the known_hosts file given, never accepted blindly) and https:// (a token; redirects
// are not followed). One fetch at a time per mirror; reads open handles of their own and
// may run beside a fetch. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "git/known_hosts.h"

namespace lockstep::git {

struct RemoteOptions {
  std::string url;
  std::string branch = "main";
  std::filesystem::path ssh_key;      // ssh://: the private key (not passphrase-protected)
  std::filesystem::path known_hosts;  // ssh://: required; pins the server's host key
  std::string https_user = "x-access-token";
  std::string https_token;  // https://: sent as the password, never over anything else
  uint64_t max_fetch_bytes = 1ull << 30;  // a fetch that brings more is refused
};

// Files of a tree, and what was left out of them.
struct TreeFiles {
  std::map<std::string, std::string> files;  // path → contents
  struct Skipped {
    std::string path;
    std::string why;  // "is a symbolic link", "is a submodule", "is larger than 1 MiB"…
  };
  std::vector<Skipped> skipped;
};

// Past max_files or max_total_bytes the whole commit is refused; a file past max_file_bytes
// or a directory deeper than max_depth (counted from the root) is listed as skipped.
struct TreeLimits {
  size_t max_depth = 2;
  size_t max_files = 20'000;
  size_t max_file_bytes = 1 << 20;
  size_t max_total_bytes = 64 << 20;
};

// Who a commit is by.
struct Signature {
  std::string name;
  std::string email;
};

class Mirror {
 public:
  // Opens the bare mirror at `dir`, creating it if it is not there.
  static Result<std::unique_ptr<Mirror>> Open(const std::filesystem::path& dir,
                                              RemoteOptions remote);
  ~Mirror();

  // Fetches the branch from the remote; returns the commit it now points at.
  Result<std::string> Fetch();

  // The full commit id `revision` names in the mirror: a commit id (full or abbreviated),
  // or a branch the mirror has. kNotFound when it names nothing, kInvalidArgument when it
  // is not a commit.
  Result<std::string> Resolve(const std::string& revision) const;

  // The blobs of `commit`'s tree whose paths are `top` or under a directory of `dirs`
  // (nothing else is read). Links and submodules are listed as skipped, never followed;
  // the limits bound what one commit can make the server read.
  Result<TreeFiles> ReadTree(const std::string& commit, const std::vector<std::string>& top,
                             const std::vector<std::string>& dirs,
                             const TreeLimits& limits = {}) const;

  // A commit on top of `parent` (a commit of the mirror) whose tree is parent's with each
  // of `files` (path → contents, e.g. "environments/prod/web.toml"; nullopt removes the
  // file) written, pushed to the remote's branch; returns its id. Nothing is forced:
  // kUnavailable when the remote cannot be reached or refuses, a branch that moved since
  // `parent` included (fetch to see).
  Result<std::string> CommitAndPush(const std::string& parent,
                                    const std::map<std::string, std::optional<std::string>>& files,
                                    const std::string& message, const Signature& author);

  const RemoteOptions& remote() const { return remote_; }

 private:
  struct Impl;
  Mirror(std::unique_ptr<Impl> impl, RemoteOptions remote);
  std::unique_ptr<Impl> impl_;
  RemoteOptions remote_;
  std::mutex fetch_mu_;
};

}  // namespace lockstep::git
