#include "runtime/local/rootfs.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "os/file.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;

Status MakeSkeleton(const fs::path& skeleton, const std::vector<std::string>& mount_points) {
  for (const std::string& m : mount_points) {
    fs::path rel = fs::path(m).relative_path();
    if (rel.empty() || rel.lexically_normal().string().starts_with("..")) {
      return InvalidArgument("mount point '" + m + "' is not a path inside the container");
    }
    LS_RETURN_IF_ERROR(os::MakeDirs(skeleton / rel));
    // runc gives a tmpfs the mode of the directory it is mounted on, and /tmp must be
    // writable by whichever user the program runs as (sticky, as on any host).
    if (m == "/tmp" && ::chmod((skeleton / rel).c_str(), 01777) != 0) {
      return os::ErrnoStatus("chmod", skeleton / rel);
    }
  }
  return os::MakeDirs(skeleton);
}

bool IsMountPoint(const fs::path& path) {
  struct stat self, parent;
  if (stat(path.c_str(), &self) != 0) return false;
  if (stat(path.parent_path().c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

Status MountRootfs(const fs::path& target, const fs::path& skeleton,
                   const std::vector<fs::path>& layers) {
  LS_RETURN_IF_ERROR(os::MakeDirs(target));
  if (IsMountPoint(target)) return Status::Ok();
  // overlayfs lists lower directories top first.
  std::string lower = skeleton.string();
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) lower += ":" + it->string();
  if (layers.empty()) {
    // A read-only overlay needs two lower layers; an image without layers gets an empty one.
    fs::path empty = skeleton.parent_path() / "empty";
    LS_RETURN_IF_ERROR(os::MakeDirs(empty));
    lower += ":" + empty.string();
  }
  std::string options = "lowerdir=" + lower;
  if (options.size() >= 4000) {
    return FailedPrecondition(
        "the image has too many layers to stack (" + std::to_string(layers.size()) + ")",
        "overlayfs options are limited to one page; squash the image");
  }
  if (mount("overlay", target.c_str(), "overlay", MS_RDONLY | MS_NODEV, options.c_str()) != 0) {
    int e = errno;
    return Status(
        e == EPERM ? Code::kFailedPrecondition : Code::kIo,
        "cannot mount the root filesystem at " + target.string() + ": " + std::strerror(e),
        e == EPERM ? "the local runtime needs root" : "");
  }
  return Status::Ok();
}

Status UnmountRootfs(const fs::path& target) {
  if (!IsMountPoint(target)) return Status::Ok();
  if (umount2(target.c_str(), MNT_DETACH) != 0) return os::ErrnoStatus("umount", target);
  return Status::Ok();
}

}  // namespace lockstep::runtime::local
