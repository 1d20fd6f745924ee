// A release: one image, by digest, plus the whole configuration it runs with. The two
// travel together and are named together: a release's id is a hash of the digest and the
// config, so changing either makes a new release and the same pair is never prepared
// twice. Where the image was fetched from (registry, repository) is not part of the id:
// the same digest from a mirror is the same artifact.
//
// Plain values; no I/O. Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/image_ref.h"

namespace lockstep {

enum class ReleaseKind { kFunction, kService };

// What a release may reach besides its own files. The default is nothing.
enum class NetworkGrant {
  kNone,  // its own network namespace with only loopback
  kHost,  // the host's network
};

struct VolumeGrant {
  std::string name;  // a volume of the environment; mounted at /volumes/NAME
  bool writable = false;

  friend bool operator==(const VolumeGrant&, const VolumeGrant&) = default;
};

struct Limits {
  uint64_t memory_bytes = 256ull << 20;
  uint32_t pids = 256;
  uint32_t cpu_shares = 1024;    // relative weight, as in cgroups
  uint32_t timeout_ms = 30'000;  // functions: one invocation at most this long

  friend bool operator==(const Limits&, const Limits&) = default;
};

// How a service shows it is ready: HTTP GET of `path` on its port answered 2xx within
// `timeout_ms`, `successes` times in a row, tried every `interval_ms`.
struct HealthCheck {
  std::string path = "/";
  uint32_t interval_ms = 500;
  uint32_t timeout_ms = 1000;
  uint32_t successes = 1;

  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

struct ReleaseConfig {
  ReleaseKind kind = ReleaseKind::kFunction;
  // Empty means the image's own ENTRYPOINT / CMD.
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;  // added to (and overriding) the image's env
  Limits limits;
  HealthCheck health;  // services only
  NetworkGrant network = NetworkGrant::kNone;
  std::vector<VolumeGrant> volumes;
  // Who the program runs as: "UID" or "UID:GID". Empty means the image's USER when that
  // names a uid other than 0, else kUnprivilegedUser. Uid 0 needs `root`.
  std::string user;
  // Grant: run as root (uid 0), with a short capability list, when the release or the
  // image asks for uid 0. Without it such a release is refused, not quietly demoted.
  bool root = false;
  // Grant: system calls allowed beyond the runtime's default policy (as in "ptrace").
  std::vector<std::string> syscalls;

  friend bool operator==(const ReleaseConfig&, const ReleaseConfig&) = default;
};

// The uid:gid a program runs as when neither the release nor the image names one: the
// conventional "nobody", which owns no file of the image.
inline constexpr std::string_view kUnprivilegedUser = "65534:65534";

struct Release {
  ImageRef image;  // pinned: image.digest is set
  ReleaseConfig config;
};

// Checks what no runtime could run: an unpinned image, env names with '=' or NUL,
// volume names outside [a-z0-9-], zero limits, a user that is not numeric, uid 0 without
// the root grant, system call names outside [a-z0-9_]. The message names the field.
Status Validate(const Release& release);

// "r" + the first 24 hex characters of sha256 over the canonical form of the image
// digest and the config. Grants added after a release format was first used (user, root,
// syscalls) enter the canonical form only when set, so the ids of releases made before
// them do not change.
std::string ReleaseId(const Release& release);

// The canonical JSON form (keys in a fixed order, no insignificant whitespace) and back.
std::string ToJson(const Release& release);
Result<Release> ReleaseFromJson(std::string_view json);

struct UserIds {
  uint32_t uid = 0;
  uint32_t gid = 0;
};
// "UID" (the gid is then the same number) or "UID:GID"; `field` names it in the error.
Result<UserIds> ParseUserIds(std::string_view user, std::string_view field);

// Names of environments, services and volumes: 1-63 of a-z, 0-9 and '-', not starting with
// '-' (safe as a path component and in a container id).
bool IsResourceName(std::string_view name);

std::string_view KindName(ReleaseKind kind);
std::string_view NetworkName(NetworkGrant network);

}  // namespace lockstep
