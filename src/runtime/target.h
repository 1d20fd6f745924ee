// The interface between the engine and whatever runs releases: this host (runtime/local),
// later a fleet of hosts or a Kubernetes cluster.
//
// The engine drives a deployment in steps, so that several services can change together
// and nothing is routed before it is ready:
//
//   Prepare(release)            image present, unpacked, root filesystem built; idempotent
//   Start(instance spec)        a service instance runs (not yet routed)
//   Health(instance)            until it reports healthy (or the engine gives up)
//   SwitchRoutes(env, routes)   every named service of the environment points at its new
//                               instance, in one step
//   Retire(instance, drain)     in-flight requests finish, then it stops and is removed
//
// Functions are not started: Invoke runs one fresh container of a prepared release per
// event. Observe reports what really runs, read from the runtime (not from the target's
// memory), for drift detection.
//
// Implementations are thread-safe: the engine may prepare, invoke and observe from
// several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/release.h"

namespace lockstep::runtime {

// Where an instance belongs: environment and service names (validated by the engine;
// targets check them again before they touch the disk).
struct Placement {
  std::string environment;
  std::string service;
};

struct PreparedRelease {
  std::string release_id;
  Digest image;
  bool already_prepared = false;  // true when nothing had to be done
};

enum class HealthState {
  kStarting,   // running, not yet passed its health check
  kHealthy,    // passed `successes` checks in a row
  kUnhealthy,  // was healthy, then failed
  kExited,     // not running (restarting with backoff, or stopped)
};
std::string_view HealthName(HealthState state);

struct InstanceHealth {
  HealthState state = HealthState::kStarting;
  uint32_t restarts = 0;
  std::string last_error;  // the last failed check or exit, for people
  int64_t since_unix = 0;  // when `state` began (Unix seconds; 0: not known)
};

// A routing change for one environment: service → instance id (for services). Services of
// the environment not named keep their route. A service's public port is set with its
// first route and kept. An empty instance id removes the service's route (its public port
// answers 503 until another service takes it).
struct RouteChange {
  std::string instance_id;   // empty: no route
  uint16_t public_port = 0;  // 0: keep the port the service has (required the first time)
};
using RouteChanges = std::map<std::string, RouteChange>;

struct ObservedInstance {
  std::string instance_id;
  std::string environment;
  std::string service;
  std::string release_id;
  Digest image;
  std::string config_hash;  // sha256 of the runtime config the instance runs with
  uint16_t port = 0;        // where the instance listens (services)
  std::string netns;        // its own network namespace (empty: the host's)
  std::string status;       // the runtime's word: "running", "stopped", "created"...
  HealthState health = HealthState::kStarting;
  bool routed = false;
  int64_t since_unix = 0;     // when the container was created
  uint64_t memory_bytes = 0;  // what it uses now (services; 0 where unknown)
};

struct InvokeRequest {
  std::string event;                                 // given on stdin
  std::optional<std::chrono::milliseconds> timeout;  // else the release's
};

struct Invocation {
  std::string invocation_id;
  int exit_code = 0;   // the shell's convention: 128 + signal when killed
  std::string output;  // stdout
  std::string logs;    // stderr (the last part, within the log bound)
  std::chrono::milliseconds duration{0};
  uint64_t peak_memory_bytes = 0;
  bool timed_out = false;
  bool out_of_memory = false;  // killed for passing its memory limit
  bool output_truncated = false;
};

class Target {
 public:
  virtual ~Target() = default;

  // Makes the release runnable here. Returns kInvalidArgument for a release that fails
  // Validate(), kUnavailable when the registry cannot be reached.
  virtual Result<PreparedRelease> Prepare(const Release& release) = 0;

  // Starts an instance of a prepared service release; returns its instance id.
  virtual Result<std::string> Start(const Placement& where, const std::string& release_id) = 0;

  virtual Result<InstanceHealth> Health(const std::string& instance_id) = 0;

  // Applies every change of `changes` to the environment's routes in one step: a request
  // sees all of them or none. Refused (nothing changes) if any instance is unknown, not
  // of that environment and service, or not healthy.
  virtual Status SwitchRoutes(const std::string& environment, const RouteChanges& changes) = 0;

  // Stops an instance that no route names: waits up to `drain` for requests already
  // forwarded to it, then stops it and removes everything it used.
  virtual Status Retire(const std::string& instance_id, std::chrono::milliseconds drain) = 0;

  // One run of a prepared function release with `request.event` on stdin.
  virtual Result<Invocation> Invoke(const Placement& where, const std::string& release_id,
                                    const InvokeRequest& request) = 0;

  // Every instance of the environment (all environments when empty) as the runtime sees it.
  virtual Result<std::vector<ObservedInstance>> Observe(const std::string& environment) = 0;

  // Service → the instance the environment's routes name now: the routing table alone,
  // cheap (Observe asks the container runtime).
  virtual Result<std::map<std::string, std::string>> Routed(const std::string& environment) = 0;

  // The last `max_bytes` of an instance's or an invocation's log.
  virtual Result<std::string> Logs(const std::string& id, uint64_t max_bytes) = 0;
};

}  // namespace lockstep::runtime
