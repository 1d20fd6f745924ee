#include "os/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace lockstep::os {

Result<FileLock> FileLock::Acquire(const std::filesystem::path& path, Mode mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open lock", path);
  UniqueFd owned(fd);
  int op = mode == Mode::kShared ? LOCK_SH : LOCK_EX;
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) return ErrnoStatus("lock", path);
  }
  return FileLock(std::move(owned));
}

}  // namespace lockstep::os
