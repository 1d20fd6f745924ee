// Functions: one fresh container per invocation.
//
// An invocation costs what `runc run` costs plus a few file operations: the release's
// root filesystem is already mounted (shared, read-only), so all that is written is the
// bundle's config.json. The container's stdio are pipes of ours; the event is written to
// stdin while stdout and stderr are read, so neither side can block the other. The
// container runs one cgroup level below a cgroup of ours, which keeps the memory peak
// readable after runc has removed the container's own cgroup.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include "base/strings.h"
#include "os/file.h"
#include "os/file_lock.h"
#include "os/random.h"
#include "runtime/local/cgroups.h"
#include "runtime/local/local_target.h"
#include "runtime/local/local_target_internal.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Keeps the last `bound` bytes appended.
class Tail {
 public:
  explicit Tail(size_t bound) : bound_(bound) {}
  void Append(const char* data, size_t n) {
    text_.append(data, n);
    if (text_.size() > 2 * bound_) text_.erase(0, text_.size() - bound_);
  }
  std::string Take() {
    if (text_.size() > bound_) text_.erase(0, text_.size() - bound_);
    return std::move(text_);
  }

 private:
  size_t bound_;
  std::string text_;
};

// For files nobody needs after a crash (a bundle that dies with its container, a log):
// no fsync, which would cost more than the rest of an invocation's bookkeeping.
Status WriteUnsynced(const fs::path& path, std::string_view data) {
  os::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return os::ErrnoStatus("open", path);
  return os::WriteAll(fd.get(), data);
}

}  // namespace

Result<std::string> ReadTail(int fd, uint64_t max_bytes) {
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) return os::ErrnoStatus("lseek", "");
  // A log trimmed from the front may start with a hole; skip to the data.
  off_t data = lseek(fd, 0, SEEK_DATA);
  off_t start = std::max<off_t>(data < 0 ? 0 : data, size - static_cast<off_t>(max_bytes));
  std::string out(static_cast<size_t>(std::max<off_t>(0, size - start)), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = pread(fd, out.data() + got, out.size() - got, start + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

Result<Invocation> LocalTarget::Invoke(const Placement& where, const std::string& release_id,
                                       const InvokeRequest& request) {
  LS_RETURN_IF_ERROR(ValidatePlacement(where));
  LS_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared, Load(release_id));
  const ReleaseConfig& config = prepared->release.config;
  if (config.kind != ReleaseKind::kFunction) {
    return FailedPrecondition("release " + release_id +
                              " is a service; services are started, "
                              "not invoked");
  }
  Invocation result;
  result.invocation_id = "inv-" + HexEncode(os::RandomBytes(8));
  const std::string& id = result.invocation_id;

  // The bundle, locked for as long as the invocation runs, comes first: a server starting
  // meanwhile sees the lock and leaves the invocation (and its cgroup) alone. Destroyed in
  // reverse: the container, the cgroup, then the lock, then the bundle.
  fs::path bundle = options_.dir / "invocations" / id;
  LS_RETURN_IF_ERROR(os::MakeDirs(bundle));
  struct Cleanup {
    fs::path bundle;
    ~Cleanup() { (void)os::RemoveTree(bundle); }
  } cleanup{bundle};
  LS_ASSIGN_OR_RETURN(os::FileLock running,
                      os::FileLock::Acquire(bundle / kRunningLock, os::FileLock::Mode::kExclusive));
  LS_ASSIGN_OR_RETURN(OwnCgroup cgroup, OwnCgroup::Create(cgroup_scope_, id));
  LS_ASSIGN_OR_RETURN(std::string spec, SpecFor(*prepared, where, {}, cgroup.ContainerPath(), {}));
  LS_RETURN_IF_ERROR(WriteUnsynced(bundle / "config.json", spec));

  LS_ASSIGN_OR_RETURN(auto in, os::MakePipe());
  LS_ASSIGN_OR_RETURN(auto out, os::MakePipe());
  LS_ASSIGN_OR_RETURN(auto err, os::MakePipe());
  auto started = Clock::now();
  LS_ASSIGN_OR_RETURN(
      os::Child runc,
      runc_.Run(id, bundle,
                {.in = in.first.get(), .out = out.second.get(), .err = err.second.get()}));
  // The stopped container is kept until its counters are read; deleted before its cgroup.
  // (The id by value: `result`, which holds the other copy, is moved out on return before
  // this runs.)
  struct DeleteContainer {
    const Runc& runc;
    std::string id;
    ~DeleteContainer() { (void)runc.Delete(id, true); }
  } delete_container{runc_, id};
  in.first = os::UniqueFd();
  out.second = os::UniqueFd();
  err.second = os::UniqueFd();
  fcntl(in.second.get(), F_SETFL, O_NONBLOCK);

  auto timeout = request.timeout.value_or(std::chrono::milliseconds(config.limits.timeout_ms));
  auto deadline = started + timeout;
  std::string_view event = request.event;
  if (event.empty()) in.second = os::UniqueFd();
  Tail logs(options_.log_bytes);
  char buf[65536];
  bool killed = false;
  while (out.first.valid() || err.first.valid()) {
    pollfd fds[3] = {{out.first.get(), POLLIN, 0},
                     {err.first.get(), POLLIN, 0},
                     {in.second.valid() ? in.second.get() : -1, POLLOUT, 0}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int ready = killed ? poll(fds, 3, -1)
                       : poll(fds, 3, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno != EINTR) return os::ErrnoStatus("poll", "");
    if (ready == 0 && !killed) {
      // Time is up: the container is killed; its pipes close when it is gone.
      result.timed_out = true;
      killed = true;
      if (!runc_.Kill(id, "KILL").ok()) runc.Signal(SIGKILL);
      in.second = os::UniqueFd();
      continue;
    }
    if (fds[2].revents != 0) {
      ssize_t n = write(in.second.get(), event.data(), event.size());
      if (n > 0) event.remove_prefix(static_cast<size_t>(n));
      if (event.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) in.second = os::UniqueFd();
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        (i == 0 ? out.first : err.first) = os::UniqueFd();
      } else if (i == 1) {
        logs.Append(buf, static_cast<size_t>(n));
      } else if (result.output.size() < options_.max_output_bytes) {
        size_t keep = std::min<size_t>(static_cast<size_t>(n),
                                       options_.max_output_bytes - result.output.size());
        result.output.append(buf, keep);
        result.output_truncated |= keep < static_cast<size_t>(n);
      } else {
        result.output_truncated = true;
      }
    }
  }
  LS_ASSIGN_OR_RETURN(result.exit_code, runc.Wait());
  // runc's own failure (an entrypoint that is not there, say) is not the function's exit:
  // runc exits 1 and says why in its log, and the function has written nothing.
  if (result.exit_code == 1 && !killed && result.output.empty()) {
    if (std::string why = Runc::StartError(bundle); !why.empty()) {
      return FailedPrecondition(
          "the function of release " + release_id + " could not start: " + why,
          "check the release's entrypoint and working directory");
    }
  }
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  result.peak_memory_bytes = cgroup.PeakMemory();
  if (std::optional<uint64_t> kills = cgroup.OomKills()) {
    result.out_of_memory = *kills > 0;
  } else {
    // A kernel that does not count: the OOM killer sends SIGKILL, and at that moment the
    // cgroup is at its limit (this sees only the main process killed).
    result.out_of_memory = result.exit_code == 128 + SIGKILL && !result.timed_out &&
                           result.peak_memory_bytes + (256 << 10) >= config.limits.memory_bytes;
  }
  result.logs = logs.Take();

  // The invocation's log outlives it, within a bound on how many are kept.
  (void)WriteUnsynced(options_.dir / "logs" / (id + ".log"), result.logs);
  if (++invocations_ % 64 == 0) {
    Result<std::vector<std::string>> names = os::ListDir(options_.dir / "logs");
    if (names.ok() && names->size() > 256) {
      std::vector<std::pair<int64_t, std::string>> by_age;
      for (const std::string& n : *names) {
        Result<int64_t> mtime = os::ModifiedTime(options_.dir / "logs" / n);
        by_age.emplace_back(mtime.ok() ? *mtime : 0, n);
      }
      std::sort(by_age.begin(), by_age.end());
      for (size_t i = 0; i + 256 < by_age.size(); ++i) {
        (void)os::RemoveFile(options_.dir / "logs" / by_age[i].second);
      }
    }
  }
  return result;
}

}  // namespace lockstep::runtime::local
