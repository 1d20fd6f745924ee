// What the parts of LocalTarget (local_target.cc, invoke.cc, services.cc) share.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>

#include "core/release.h"
#include "os/clock.h"
#include "runtime/local/image_store.h"
#include "runtime/local/local_target.h"

namespace lockstep::runtime::local {

// Annotations in every container's config.json: how Observe and Recover know what a
// container is without asking lockstep's memory.
inline constexpr const char* kAnnotationEnvironment = "dev.lockstep.environment";
inline constexpr const char* kAnnotationService = "dev.lockstep.service";
inline constexpr const char* kAnnotationRelease = "dev.lockstep.release";
inline constexpr const char* kAnnotationImage = "dev.lockstep.image";
inline constexpr const char* kAnnotationPort = "dev.lockstep.port";
inline constexpr const char* kAnnotationNetns = "dev.lockstep.netns";

// Held (flock) by the process running an invocation, in the invocation's bundle.
inline constexpr const char* kRunningLock = ".running";

// True while some process runs the invocation whose bundle is `bundle`.
bool InvocationInProgress(const std::filesystem::path& bundle);

// The port every isolated service listens on: its namespace is its own, so any is free.
inline constexpr uint16_t kIsolatedServicePort = 8080;

struct LocalTarget::Prepared {
  Release release;
  std::string id;
  UnpackedImage image;
  std::filesystem::path dir;  // releases/ID
};

struct LocalTarget::Instance {
  std::string id;
  Placement where;
  std::string release_id;
  HealthCheck check;
  uint16_t port = 0;
  std::string netns;  // held on instances/ID/netns, or empty for the host's
  // Read by the supervisor outside mutex_ (a restart checks them under `lifecycle`
  // only), written under mutex_: atomic.
  std::atomic<int> pid{0};
  InstanceHealth health;
  uint32_t passes = 0;  // consecutive successful checks
  std::atomic<bool> retiring{false};
  bool probing = false;  // a health check is running
  std::mutex lifecycle;  // held while the container is restarted or stopped
  os::Clock::Instant next_check;
  os::Clock::Instant next_restart;
  std::chrono::milliseconds backoff{0};
  os::Clock::Instant healthy_since;
  os::Clock::Instant started;  // its container's last start (a restart included)
};

Status ValidatePlacement(const Placement& where);

// Alive and not a zombie (a container's init is not our child, so nobody here reaps it).
bool ProcessRunning(int pid);

// A service bundle may hold the instance's network namespace, a mount point that must be
// released before the directory can go.
Status RemoveBundle(const std::filesystem::path& bundle);

// The last `max_bytes` of the file open at `fd`.
Result<std::string> ReadTail(int fd, uint64_t max_bytes);

}  // namespace lockstep::runtime::local
