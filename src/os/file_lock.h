// Advisory locks between processes (flock(2) on a lock file). The registry server
// holds a shared lock while it commits blobs and manifests; `lockstep registry gc`
// holds the exclusive lock while it deletes, so a sweep never races a commit even
// though the two run in different processes.
#pragma once

#include <filesystem>

#include "base/status.h"
#include "os/file.h"

namespace lockstep::os {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };

  // Blocks until the lock is held. Each call opens its own descriptor, so locks taken
  // by different threads of one process are independent. The kernel drops the lock if
  // the process dies: a lock is never stuck.
  static Result<FileLock> Acquire(const std::filesystem::path& path, Mode mode);

  // Takes the lock only if nobody holds it; kFailedPrecondition otherwise.
  static Result<FileLock> TryAcquire(const std::filesystem::path& path, Mode mode);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  ~FileLock() = default;  // closing the descriptor releases the lock

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  static Result<FileLock> Take(const std::filesystem::path& path, Mode mode, bool wait);
  UniqueFd fd_;
};

}  // namespace lockstep::os
