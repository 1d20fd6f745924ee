// The rule every target applies to a route switch, as one pure function, so the local
// target and FakeTarget cannot disagree on what may be routed.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "runtime/router.h"
#include "runtime/target.h"

namespace lockstep::runtime {

// What a target knows of an instance when a switch names it.
struct RoutableInstance {
  std::string id;
  std::string environment;
  std::string service;
  HealthState health = HealthState::kStarting;
  std::string last_error;  // of the health check, when it failed
  bool retiring = false;   // a Retire has begun: it never serves again
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string netns;
};

// The instance of that id, or null. Called with whatever lock guards the instances held.
using FindInstance = std::function<const RoutableInstance*(const std::string& id)>;

// The table that `changes` to `environment` make of `current`: every named instance must
// exist, belong to that environment and service, be healthy and not retiring; a service
// keeps its public port unless the change gives one (required the first time); a public
// port serves one service; an empty instance id removes the service's route (before any other
// change, so its port may serve another service in the same switch). Any refusal refuses the
// whole switch.
Result<std::shared_ptr<const RoutingTable>> NextRoutingTable(const RoutingTable& current,
                                                             const std::string& environment,
                                                             const RouteChanges& changes,
                                                             const FindInstance& find);

}  // namespace lockstep::runtime
