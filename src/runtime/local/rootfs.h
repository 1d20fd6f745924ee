// A release's root filesystem: a read-only overlay of its image's cached layer trees, with
// a small "skeleton" layer of lockstep's own on top holding the mount points the runtime
// config needs (/proc, /dev, /tmp, /volumes/NAME...). Nothing is copied; every container
// of the release uses the same mount, since containers only ever write to their own /tmp
// (a tmpfs) and to granted volumes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace lockstep::runtime::local {

// Creates `skeleton` (if missing) holding empty directories for `mount_points`.
Status MakeSkeleton(const std::filesystem::path& skeleton,
                    const std::vector<std::string>& mount_points);

// Mounts a read-only overlay at `target` of `skeleton` over `layers` (bottom first).
// Does nothing if `target` is already a mount point.
Status MountRootfs(const std::filesystem::path& target, const std::filesystem::path& skeleton,
                   const std::vector<std::filesystem::path>& layers);

bool IsMountPoint(const std::filesystem::path& path);

// Detaches the mount at `target` (lazily: containers still using it keep their view).
Status UnmountRootfs(const std::filesystem::path& target);

}  // namespace lockstep::runtime::local
