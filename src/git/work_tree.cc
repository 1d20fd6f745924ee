#include "git/work_tree.h"

#include <memory>

#include "git/libgit2.h"

namespace lockstep::git {

namespace fs = std::filesystem;

namespace {

Status GitError(const std::string& what) { return Unavailable(what + ": " + LastError()); }

}  // namespace

Result<WorkTreeInfo> DescribeWorkTree(const fs::path& dir) {
  Library lib;
  std::error_code ec;
  fs::path absolute = fs::canonical(dir, ec);
  if (ec) return NotFound(dir.string() + ": " + ec.message());
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, absolute.c_str(), 0, nullptr) != 0) {
    return NotFound(dir.string() +
                    " is not inside a git repository (use --version instead of --git)");
  }
  Repo repo(raw);
  WorkTreeInfo info;
  git_oid head;
  if (git_reference_name_to_id(&head, repo.get(), "HEAD") != 0) {
    return FailedPrecondition("the repository holding " + dir.string() + " has no commit yet");
  }
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &head);
  info.commit = hex;

  const char* workdir = git_repository_workdir(repo.get());
  std::string spec;
  if (workdir != nullptr) {
    spec = absolute.lexically_relative(fs::path(workdir)).generic_string();
    if (spec == ".") spec.clear();
  }
  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
  char* paths[] = {spec.data()};
  if (!spec.empty()) {
    opts.pathspec.strings = paths;
    opts.pathspec.count = 1;
  }
  git_status_list* status = nullptr;
  if (git_status_list_new(&status, repo.get(), &opts) != 0)
    return GitError("git status of " + dir.string());
  StatusList owned(status);
  info.dirty = git_status_list_entrycount(status) > 0;

  git_remote* remote = nullptr;
  if (git_remote_lookup(&remote, repo.get(), "origin") == 0) {
    Remote owned_remote(remote);
    if (const char* url = git_remote_url(remote)) info.origin_url = url;
  }
  return info;
}

}  // namespace lockstep::git
