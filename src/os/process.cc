#include "os/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/strings.h"

extern char** environ;

namespace lockstep::os {

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0) (void)Wait();
    pid_ = std::exchange(o.pid_, -1);
  }
  return *this;
}

Child::~Child() {
  if (pid_ > 0) (void)Wait();
}

Result<int> Child::Wait() {
  if (pid_ <= 0) return FailedPrecondition("no child to wait for");
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      pid_ = -1;
      return ErrnoStatus("waitpid", "");
    }
  }
  pid_ = -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

void Child::Signal(int signal) const {
  if (pid_ > 0) kill(pid_, signal);
}

Result<std::pair<UniqueFd, UniqueFd>> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "");
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::optional<ProcessStat> ReadProcessStat(int pid) {
  if (pid <= 0) return std::nullopt;
  Result<std::string> text = ReadFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!text.ok()) return std::nullopt;
  // The command name in parentheses may hold spaces and parentheses itself: the fields
  // (from the third, the state, on) start after the last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<std::string_view> fields =
      Split(Trim(std::string_view(*text).substr(close + 1)), ' ');
  if (fields.size() < 20 || fields[0].size() != 1) return std::nullopt;
  std::optional<uint64_t> parent = ParseUint(fields[1]), utime = ParseUint(fields[11]),
                          stime = ParseUint(fields[12]), start = ParseUint(fields[19]);
  if (!parent || !utime || !stime || !start) return std::nullopt;
  return ProcessStat{fields[0][0], static_cast<int>(*parent), *utime + *stime, *start};
}

std::optional<std::string> FindInPath(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return name;
  const char* path = getenv("PATH");
  std::string_view dirs =
      path != nullptr ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs.remove_prefix(colon == std::string_view::npos ? dirs.size() : colon + 1);
    // An empty or relative entry means the working directory, wherever that is: never.
    if (dir.empty() || dir.front() != '/') continue;
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        access(candidate.c_str(), X_OK) != 0) {
      continue;
    }
    char* real = realpath(candidate.c_str(), nullptr);
    if (real == nullptr) continue;
    std::string out(real);
    free(real);
    return out;
  }
  return std::nullopt;
}

Result<Child> Spawn(const std::vector<std::string>& argv, const Stdio& stdio,
                    const std::vector<std::string>& env) {
  if (argv.empty()) return InvalidArgument("nothing to run");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const int fds[3] = {stdio.in, stdio.out, stdio.err};
  for (int target = 0; target < 3; ++target) {
    if (fds[target] >= 0) {
      posix_spawn_file_actions_adddup2(&actions, fds[target], target);
    } else {
      posix_spawn_file_actions_addopen(&actions, target, "/dev/null",
                                       target == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with default signal dispositions and an empty mask, whatever the
  // parent ignores (the server ignores SIGPIPE).
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(),
                        env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status(Code::kUnavailable, "cannot start " + argv[0] + ": " + std::strerror(rc),
                  rc == ENOENT ? "is it installed? (scripts/setup installs it)" : "");
  }
  return Child(pid);
}

Result<Captured> RunCapture(const std::vector<std::string>& argv) {
  LS_ASSIGN_OR_RETURN(auto out, MakePipe());
  LS_ASSIGN_OR_RETURN(auto err, MakePipe());
  LS_ASSIGN_OR_RETURN(Child child, Spawn(argv, {.out = out.second.get(), .err = err.second.get()}));
  out.second = UniqueFd();
  err.second = UniqueFd();

  constexpr size_t kMax = 16 << 20;
  Captured captured;
  pollfd polls[2] = {{out.first.get(), POLLIN, 0}, {err.first.get(), POLLIN, 0}};
  std::string* sinks[2] = {&captured.out, &captured.err};
  int open = 2;
  char buf[16384];
  while (open > 0) {
    if (poll(polls, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll", "");
    }
    for (int i = 0; i < 2; ++i) {
      if (polls[i].fd < 0 || polls[i].revents == 0) continue;
      ssize_t n = read(polls[i].fd, buf, sizeof buf);
      if (n > 0) {
        if (sinks[i]->size() < kMax) sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        polls[i].fd = -1;
        --open;
      }
    }
  }
  LS_ASSIGN_OR_RETURN(captured.exit_code, child.Wait());
  return captured;
}

}  // namespace lockstep::os

namespace lockstep::os {

void RaiseOpenFileLimit() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace lockstep::os
