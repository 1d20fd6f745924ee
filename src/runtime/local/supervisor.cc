// Supervision of service instances: one thread notices exits and restarts them with
// backoff (restart_backoff.h); health checks run each on a thread of their own, so a
// hanging check holds up no other instance.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <future>

#include "os/file.h"
#include "runtime/local/health_probe.h"
#include "runtime/local/local_target.h"
#include "runtime/local/local_target_internal.h"
#include "runtime/local/restart_backoff.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

void LocalTarget::Supervise() {
  std::vector<std::future<void>> probes;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<std::string> ids;
    for (const auto& [id, instance] : instances_) {
      if (!instance->retiring) ids.push_back(id);
    }
    lock.unlock();
    // Exits and restarts are handled here one by one (quick). A health check that is due
    // runs on a thread of its own and the loop goes on: a slow check holds up nobody, and
    // an instance is not checked again before its last check is over.
    std::erase_if(probes, [](std::future<void>& f) {
      return f.wait_for(milliseconds(0)) == std::future_status::ready;
    });
    for (const std::string& id : ids) {
      if (stopping_) break;
      if (CheckInstance(id)) {
        probes.push_back(std::async(std::launch::async, [this, id] { Probe(id); }));
      }
    }
    lock.lock();
    // Exits are looked for every 50 ms; a health check that falls due sooner (the
    // instance's interval can be 10 ms) wakes the loop at its time, and a new instance or
    // an ended check wakes it at once.
    auto now = clock_->Now();
    auto next = now + milliseconds(50);
    for (const auto& [id, instance] : instances_) {
      if (instance->retiring || instance->probing ||
          instance->health.state == HealthState::kExited) {
        continue;
      }
      next = std::min(next, instance->next_check);
    }
    if (next > now && !woken_) {
      wake_.wait_for(lock, next - now, [this] { return stopping_.load() || woken_; });
    }
    woken_ = false;
  }
  lock.unlock();
  probes.clear();  // waits for the checks still running
}

bool LocalTarget::CheckInstance(const std::string& id) {
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard lock(mutex_);
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second->retiring) return false;
    instance = it->second;
  }
  auto now = clock_->Now();
  if (!ProcessRunning(instance->pid)) {
    std::unique_lock lock(mutex_);
    if (instance->retiring) return false;
    if (instance->health.state != HealthState::kExited) {
      instance->health.state = HealthState::kExited;
      instance->health.since_unix = clock_->NowSeconds();
      instance->health.last_error = "the process exited";
      instance->passes = 0;
      std::optional<std::chrono::nanoseconds> healthy_for;
      if (instance->healthy_since != os::Clock::Instant()) {
        healthy_for = now - instance->healthy_since;
      }
      instance->backoff = NextRestartBackoff(instance->backoff, healthy_for);
      instance->next_restart = now + instance->backoff;
      return false;
    }
    if (now < instance->next_restart) return false;
    lock.unlock();
    // Retire waits for a restart in progress (and a restart never follows a retire).
    std::lock_guard life(instance->lifecycle);
    if (instance->retiring) return false;
    fs::path bundle = options_.dir / "instances" / id;
    (void)runc_.Delete(id, true);
    Result<os::UniqueFd> log = os::OpenAppend(bundle / "log");
    Result<int> started =
        log.ok() ? runc_.RunDetached(id, bundle, log->get()) : Result<int>(log.status());
    lock.lock();
    if (started.ok()) {
      instance->pid = *started;
      instance->health.state = HealthState::kStarting;
      instance->health.since_unix = clock_->NowSeconds();
      instance->health.restarts++;
      instance->next_check = clock_->Now();
      instance->started = instance->next_check;
    } else {
      instance->health.last_error = started.status().message();
      instance->backoff = NextRestartBackoff(instance->backoff, std::nullopt);
      instance->next_restart = clock_->Now() + instance->backoff;
    }
    return false;
  }
  std::lock_guard lock(mutex_);
  if (instance->probing || now < instance->next_check) return false;
  instance->probing = true;
  return true;
}

void LocalTarget::Probe(const std::string& id) {
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard lock(mutex_);
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second->retiring) return;
    instance = it->second;
  }
  Status probe = ProbeHttp(instance->port, instance->check.path,
                           milliseconds(instance->check.timeout_ms), instance->netns);
  TrimLog(options_.dir / "instances" / id / "log");
  std::lock_guard lock(mutex_);
  instance->probing = false;
  auto now = clock_->Now();
  instance->next_check =
      now + NextCheckIn(milliseconds(instance->check.interval_ms),
                        instance->health.state == HealthState::kStarting, now - instance->started);
  woken_ = true;  // the supervisor sleeps until this instance's next check
  wake_.notify_all();
  if (probe.ok()) {
    if (++instance->passes >= instance->check.successes &&
        instance->health.state != HealthState::kHealthy) {
      instance->health.state = HealthState::kHealthy;
      instance->health.since_unix = clock_->NowSeconds();
      instance->healthy_since = clock_->Now();
    }
  } else {
    instance->passes = 0;
    instance->health.last_error = "health check " + instance->check.path + ": " + probe.message();
    if (instance->health.state == HealthState::kHealthy) {
      instance->health.state = HealthState::kUnhealthy;
      instance->health.since_unix = clock_->NowSeconds();
    }
  }
}

void LocalTarget::TrimLog(const fs::path& log) {
  struct stat st;
  if (stat(log.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) <= options_.log_bytes)
    return;
  os::UniqueFd fd(open(log.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return;
  // Drop the oldest part, in whole blocks, keeping about log_bytes. Writers append with
  // O_APPEND, so they carry on at the new end.
  uint64_t excess = static_cast<uint64_t>(st.st_size) - options_.log_bytes;
  uint64_t block = static_cast<uint64_t>(st.st_blksize);
  uint64_t cut = excess / block * block;
  if (cut == 0) return;
  if (fallocate(fd.get(), FALLOC_FL_COLLAPSE_RANGE, 0, static_cast<off_t>(cut)) != 0) {
    // Filesystems without collapse (tmpfs before 6.x, overlayfs): free the blocks instead;
    // readers skip the hole.
    (void)fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                    static_cast<off_t>(cut));
  }
}

}  // namespace lockstep::runtime::local
