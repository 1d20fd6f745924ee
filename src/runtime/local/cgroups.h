// A cgroup of lockstep's own around one container, to read what the container used after
// it is gone: `runc run` removes the container's cgroup when it exits, so the container is
// placed one level below ours (cgroupsPath /lockstep/ID/c) and ours keeps the counters.
//
// Works with cgroup v1 (and the "hybrid" layout: v1 controllers plus a v2 mount) and with
// the unified v2 hierarchy. Not thread-safe; one owner per invocation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/status.h"

namespace lockstep::runtime::local {

class OwnCgroup {
 public:
  // Creates lockstep/NAME (NAME is a container id: [A-Za-z0-9_.-]).
  static Result<OwnCgroup> Create(const std::string& name);
  OwnCgroup(OwnCgroup&& o) noexcept;
  OwnCgroup& operator=(OwnCgroup&&) = delete;
  ~OwnCgroup();  // removes what is left (best effort)

  // The cgroupsPath for the container's runtime config.
  std::string ContainerPath() const { return "/lockstep/" + name_ + "/c"; }
  // The most memory the container used, in bytes (0 if the kernel does not say).
  uint64_t PeakMemory() const;

 private:
  explicit OwnCgroup(std::string name) : name_(std::move(name)) {}
  void Remove();
  std::string name_;
};

// Removes the cgroups of invocations whose owner died before cleaning up. A cgroup that
// still holds processes cannot be removed (the kernel refuses), so live ones are safe.
void RemoveIdleInvocationCgroups();

}  // namespace lockstep::runtime::local
