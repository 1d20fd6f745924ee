// A directory that exists for the lifetime of a test and is removed afterwards.
#pragma once

#include <filesystem>

#include "os/file.h"
#include "os/random.h"

namespace lockstep::os::testing {

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("lockstep-test-" + RandomHex(8))) {
    (void)MakeDirs(path_);
  }
  ~TempDir() { (void)RemoveTree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace lockstep::os::testing
