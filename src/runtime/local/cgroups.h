// A cgroup of lockstep's own around one container, to read what the container used after
// it is gone: `runc run` removes the container's cgroup when it exits, so the container is
// placed one level below ours (cgroupsPath /lockstep/SCOPE/ID/c) and ours keeps the
// counters. SCOPE names the runtime directory, so targets over different directories never
// touch each other's cgroups.
//
// Works with cgroup v1 (and the "hybrid" layout: v1 controllers plus a v2 mount) and with
// the unified v2 hierarchy. Not thread-safe; one owner per invocation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "base/status.h"

namespace lockstep::runtime::local {

// The memory a running container's cgroup (its cgroupsPath, e.g. "/lockstep/ID") uses now,
// in bytes; 0 when it cannot be read.
uint64_t MemoryInUse(const std::string& cgroups_path);

class OwnCgroup {
 public:
  // Creates lockstep/SCOPE/NAME (both [A-Za-z0-9_.-]).
  static Result<OwnCgroup> Create(const std::string& scope, const std::string& name);
  OwnCgroup(OwnCgroup&& o) noexcept;
  OwnCgroup& operator=(OwnCgroup&&) = delete;
  ~OwnCgroup();  // removes what is left (best effort)

  // The cgroupsPath for the container's runtime config.
  std::string ContainerPath() const { return "/lockstep/" + name_ + "/c"; }
  // The most memory the container used, in bytes (0 if the kernel does not say).
  uint64_t PeakMemory() const;
  // How many of the container's processes the kernel's OOM killer ended, a child as much as
  // the main process; nullopt when the kernel does not say. Read from the container's own
  // cgroup, so before runc deletes the container (`runc run --keep`).
  std::optional<uint64_t> OomKills() const;

 private:
  explicit OwnCgroup(std::string name) : name_(std::move(name)) {}
  void Remove();
  std::string name_;
};

// Removes the (empty) cgroups of `scope` itself, when nothing runs in it any more: a target
// over a directory that is going away (tests) leaves nothing in the hierarchy.
void RemoveCgroupScope(const std::string& scope);

// Removes the invocation cgroups of `scope` whose invocation is not `in_progress` (their
// owner died before cleaning up). A cgroup that still holds processes cannot be removed
// (the kernel refuses), so running containers are safe either way.
void RemoveIdleInvocationCgroups(const std::string& scope,
                                 const std::function<bool(const std::string&)>& in_progress);

}  // namespace lockstep::runtime::local
