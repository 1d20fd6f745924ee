// Reading a deploy repository's files from a work tree (for `lockstep validate`).
#include <filesystem>
#include <system_error>

#include "base/strings.h"
#include "deploy/repo.h"
#include "os/file.h"

namespace lockstep::deploy {

namespace fs = std::filesystem;

WorkTree ReadWorkTree(const std::string& root) {
  WorkTree tree;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    tree.problems.push_back({root, 0, 0, "not a directory: give the deploy repository's root"});
    return tree;
  }
  size_t total = 0;
  auto read = [&](const fs::path& path, const std::string& name) {
    fs::file_status status = fs::symlink_status(path, ec);
    if (fs::is_symlink(status)) {
      tree.problems.push_back(
          {name, 0, 0,
           "is a symbolic link: lockstep follows no links in a deploy repository (one could "
           "point anywhere on the host); put the file itself here"});
      return;
    }
    if (!fs::is_regular_file(status)) return;
    if (tree.files.size() >= kMaxRepoFiles) {
      tree.problems.push_back({name, 0, 0,
                               "one file too many: a deploy repository holds at most " +
                                   std::to_string(kMaxRepoFiles) + " files"});
      return;
    }
    Result<std::string> contents = os::ReadFile(path, kMaxFileBytes);
    if (!contents.ok()) {
      tree.problems.push_back({name, 0, 0,
                               "cannot be read (" + contents.status().message() +
                                   "); a file is at most " + HumanBytes(kMaxFileBytes)});
      return;
    }
    total += contents->size();
    if (total > kMaxRepoBytes) {
      tree.problems.push_back({name, 0, 0,
                               "the repository's files pass " + HumanBytes(kMaxRepoBytes) +
                                   " in all here: that is more than a deploy repository holds"});
      return;
    }
    tree.files.emplace(name, std::move(*contents));
  };
  read(fs::path(root) / "lockstep.toml", "lockstep.toml");
  for (const char* dir : {"services", "environments"}) {
    fs::path top = fs::path(root) / dir;
    fs::file_status status = fs::symlink_status(top, ec);
    if (fs::is_symlink(status)) {
      read(top, dir);  // reported as a link
      continue;
    }
    if (!fs::is_directory(status)) continue;
    // Links to directories are not descended into: each is reported by `read`.
    for (auto it = fs::recursive_directory_iterator(top, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string name = fs::path(it->path()).lexically_relative(root).generic_string();
      if (it->is_symlink(ec) || !it->is_directory(ec)) read(it->path(), name);
    }
    if (ec) tree.problems.push_back({dir, 0, 0, "cannot be listed: " + ec.message()});
  }
  return tree;
}

}  // namespace lockstep::deploy
