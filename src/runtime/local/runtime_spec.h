// The OCI runtime configuration (config.json) of a container, generated from the image
// config and the release config. Everything a container may do is written here:
//
//   process   args (release entrypoint/cmd over the image's), env (image, then release,
//             then lockstep's own such as PORT), working dir, a numeric user that is not
//             root unless the release grants root, no new privileges, capabilities only
//             for root (a short list), an open-files limit
//   root      the release's read-only root filesystem; /tmp is a private tmpfs
//   mounts    /proc, /dev, /sys (read-only), and each granted volume at /volumes/NAME,
//             read-only unless granted writable
//   linux     new pid/ipc/uts/mount namespaces; a network namespace with only loopback
//             unless the host network is granted (a fresh one for a function, the
//             instance's own for a service); memory (no swap), pids and CPU-share
//             limits, masked and read-only kernel paths, the seccomp policy (seccomp.h)
//             with the release's granted system calls
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/release.h"
#include "runtime/local/image_store.h"

namespace lockstep::runtime::local {

struct SpecInput {
  const ImageConfig* image = nullptr;
  const ReleaseConfig* release = nullptr;
  std::filesystem::path rootfs;
  std::map<std::string, std::string> extra_env;          // set last
  std::map<std::string, std::filesystem::path> volumes;  // granted name → host directory
  std::string cgroups_path;
  std::string network_namespace;  // join this one (a service's own) instead of a new one
  std::map<std::string, std::string> annotations;
  std::string hostname = "lockstep";
};

// The command a container runs: the release's entrypoint/cmd where set, else the image's
// (a release cmd without an entrypoint keeps the image's entrypoint, as Docker does).
std::vector<std::string> ContainerArgs(const ImageConfig& image, const ReleaseConfig& release);

// Who the program runs as: the release's user, else the image's USER, else
// kUnprivilegedUser (root when the release grants root and nothing names a user).
// kInvalidArgument for a user that is not numeric ("uid" or "uid:gid"; names would need an
// /etc/passwd lookup lockstep does not do) and for uid 0 without the root grant.
Result<UserIds> ContainerUser(const ImageConfig& image, const ReleaseConfig& release);

// kInvalidArgument when there is nothing to run (no entrypoint or cmd anywhere), when the
// program or the image's WORKDIR is not a plain absolute path outside /proc, /sys and
// /dev, or when ContainerUser fails.
Status CheckRunnable(const ImageConfig& image, const ReleaseConfig& release);

// The mount points the root filesystem must already have for `release`.
std::vector<std::string> MountPoints(const ReleaseConfig& release);

// config.json text. Fails as CheckRunnable does, and with kFailedPrecondition for a granted
// volume missing from `in.volumes`.
Result<std::string> RuntimeSpec(const SpecInput& in);

}  // namespace lockstep::runtime::local
