// syscall_probe: tries what a container must not be able to do, and a few things it must,
// and prints one line each: "NAME=ok" or "NAME=<errno name>". Static, so it runs in an
// image that holds nothing else.
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
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

long Socket(int family, int type) {
  long fd = syscall(SYS_socket, family, type, 0);
  if (fd >= 0) close(static_cast<int>(fd));
  return fd;
}

long SocketPair(int family) {
  int sv[2];
  long r = syscall(SYS_socketpair, family, SOCK_STREAM, 0, sv);
  if (r == 0) {
    close(sv[0]);
    close(sv[1]);
  }
  return r;
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
  // Refused only by the filter (the kernel would allow them to anyone).
  Report("socket_vsock", Socket(AF_VSOCK, SOCK_STREAM));
  Report("socket_alg", Socket(AF_ALG, SOCK_SEQPACKET));
  Report("socketpair_tipc", SocketPair(AF_TIPC));
  Report("personality_no_aslr", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
  Report("userfaultfd", syscall(SYS_userfaultfd, 0));
  Report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
  Report("io_uring_setup", syscall(SYS_io_uring_setup, 1, nullptr));
  Report("clone3", syscall(SYS_clone3, nullptr, 0));
  Report("socket_inet", Socket(AF_INET, SOCK_STREAM));
  Report("socketpair_unix", SocketPair(AF_UNIX));
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
