// What git says about a directory inside a work tree, for build provenance.
#pragma once

#include <filesystem>
#include <string>

#include "base/status.h"

namespace lockstep::git {

struct WorkTreeInfo {
  std::string commit;      // full hash of HEAD
  bool dirty = false;      // modified, staged or untracked files under the directory
  std::string origin_url;  // remote "origin", if any
};

// Finds the repository holding `dir` (searching upwards) and describes it. Dirtiness
// is judged under `dir` only: it is what gets packed. kNotFound outside a repository.
Result<WorkTreeInfo> DescribeWorkTree(const std::filesystem::path& dir);

}  // namespace lockstep::git
