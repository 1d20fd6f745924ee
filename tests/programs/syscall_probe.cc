// syscall_probe: tries what a container must not be able to do, and a few things it must,
// and prints one line each: "NAME=ok" or "NAME=<errno name>". Static, so it runs in an
// image that holds nothing else.
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

void Report(const char* name, long result) {
  if (result >= 0) {
    std::printf("%s=ok\n", name);
  } else {
    std::printf("%s=%s\n", name, errno == EPERM ? "EPERM" : strerrorname_np(errno));
  }
}

long CloneNewUser() {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return pid;
}

long RaiseSysAdmin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return -1;
  data[0].effective |= 1u << CAP_SYS_ADMIN;
  data[0].permitted |= 1u << CAP_SYS_ADMIN;
  return syscall(SYS_capset, &header, data);
}

long Bpf() {
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
}

}  // namespace

int main() {
  std::printf("uid=%d\n", static_cast<int>(getuid()));
  Report("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
  Report("unshare_mount", syscall(SYS_unshare, CLONE_NEWNS));
  Report("clone_user", CloneNewUser());
  Report("keyctl", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "probe"));
  Report("bpf", Bpf());
  Report("mount", mount("none", "/tmp", "tmpfs", 0, nullptr));
  Report("raise_cap", RaiseSysAdmin());
  Report("setuid_root", syscall(SYS_setuid, 0));
  // What every program needs keeps working: processes and threads.
  long child = fork();
  if (child == 0) _exit(0);
  if (child > 0) waitpid(static_cast<pid_t>(child), nullptr, 0);
  Report("fork", child);
  bool ran = false;
  std::thread([&ran] { ran = true; }).join();
  Report("thread", ran ? 0 : -1);
  return 0;
}
