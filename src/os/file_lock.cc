#include "os/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace lockstep::os {

Result<FileLock> FileLock::Acquire(const std::filesystem::path& path, Mode mode) {
  return Take(path, mode, /*wait=*/true);
}

Result<FileLock> FileLock::TryAcquire(const std::filesystem::path& path, Mode mode) {
  return Take(path, mode, /*wait=*/false);
}

Result<FileLock> FileLock::Take(const std::filesystem::path& path, Mode mode, bool wait) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open lock", path);
  UniqueFd owned(fd);
  int op = (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  while (::flock(fd, op) != 0) {
    if (errno == EWOULDBLOCK && !wait) {
      return FailedPrecondition(path.string() + " is locked by another process");
    }
    if (errno != EINTR) return ErrnoStatus("lock", path);
  }
  return FileLock(std::move(owned));
}

}  // namespace lockstep::os
