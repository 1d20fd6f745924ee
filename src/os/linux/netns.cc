#include "os/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

namespace lockstep::os {

namespace fs = std::filesystem;

namespace {

// Brings up "lo" in the calling thread's network namespace.
Status LoopbackUp() {
  UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return ErrnoStatus("socket", "");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s.get(), SIOCGIFFLAGS, &req) != 0) return ErrnoStatus("SIOCGIFFLAGS", "lo");
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  if (ioctl(s.get(), SIOCSIFFLAGS, &req) != 0) return ErrnoStatus("SIOCSIFFLAGS", "lo");
  return Status::Ok();
}

}  // namespace

Status CreateNetworkNamespace(const fs::path& file) {
  {
    UniqueFd f(open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!f.valid()) return ErrnoStatus("create", file);
  }
  // unshare() moves only the calling thread: a thread of its own takes the new namespace,
  // pins it with the bind mount and ends, leaving every other thread where it was.
  Status result;
  std::thread([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      result = ErrnoStatus("unshare(CLONE_NEWNET)", file);
      return;
    }
    std::string self = "/proc/thread-self/ns/net";
    if (mount(self.c_str(), file.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      result = ErrnoStatus("bind-mount the network namespace on", file);
      return;
    }
    result = LoopbackUp();
  }).join();
  if (!result.ok()) (void)RemoveNetworkNamespace(file);
  return result;
}

Status RemoveNetworkNamespace(const fs::path& file) {
  if (umount2(file.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoStatus("unmount", file);
  }
  if (unlink(file.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", file);
  return Status::Ok();
}

Result<UniqueFd> SocketIn(const fs::path& file, int domain, int type) {
  UniqueFd target(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target.valid()) return ErrnoStatus("open network namespace", file);
  UniqueFd home(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home.valid()) return ErrnoStatus("open", "/proc/thread-self/ns/net");
  if (setns(target.get(), CLONE_NEWNET) != 0) return ErrnoStatus("setns", file);
  UniqueFd s(socket(domain, type | SOCK_CLOEXEC, 0));
  int socket_errno = errno;
  if (setns(home.get(), CLONE_NEWNET) != 0) {
    // This thread would go on in a container's namespace: nothing sensible can follow.
    std::cerr << "lockstep: cannot return to the host network namespace: " << std::strerror(errno)
              << "\n";
    std::abort();
  }
  if (!s.valid()) {
    errno = socket_errno;
    return ErrnoStatus("socket in", file);
  }
  return s;
}

}  // namespace lockstep::os
