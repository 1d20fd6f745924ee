// The routing table: which instance serves each routed service, as one immutable value.
//
// A switch builds a new table and publishes it with one atomic store, so a request (which
// loads the table once) sees every route of a multi-service switch or none of them. A
// request keeps the Backend it was given alive until it is answered; an instance is
// drained when no table and no request holds its Backend any more, which Retire waits for.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "os/clock.h"

namespace lockstep::runtime {

struct Backend {
  std::string instance_id;
  std::string environment;
  std::string service;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string netns;  // the network namespace to connect from (empty: the host's)
};

struct RoutingTable {
  // Public port → the backend that answers it.
  std::map<uint16_t, std::shared_ptr<const Backend>> by_port;

  // The public port of `service` in `environment`, or 0.
  uint16_t PortOf(const std::string& environment, const std::string& service) const;
  const Backend* RouteOf(const std::string& environment, const std::string& service) const;
  // Every route by (environment, service): for looking up many services at once (RouteOf
  // walks the table).
  std::map<std::pair<std::string, std::string>, const Backend*> ByService() const;
  // Service → instance id of every route of `environment`.
  std::map<std::string, std::string> InstancesOf(const std::string& environment) const;
};

class Router {
 public:
  Router();

  std::shared_ptr<const RoutingTable> Current() const { return table_.load(); }

  // Replaces the table. Listeners run after the store, on the publishing thread; they
  // must not publish or subscribe themselves.
  void Publish(std::shared_ptr<const RoutingTable> table);

  // `listener` runs after every Publish (the proxy opens listeners for new public ports)
  // until Unsubscribe(id) returns.
  int Subscribe(std::function<void(const RoutingTable&)> listener);
  void Unsubscribe(int id);

  // The backend `instance_id` had in the newest table that routed it (expired once drained).
  std::weak_ptr<const Backend> LastBackendOf(const std::string& instance_id);

  // Waits until nothing holds `backend` any more, up to `timeout` of `clock`; true if it
  // drained.
  static bool WaitDrained(const std::weak_ptr<const Backend>& backend,
                          std::chrono::milliseconds timeout, const os::Clock& clock);

 private:
  std::atomic<std::shared_ptr<const RoutingTable>> table_;
  std::mutex listeners_mutex_;
  std::map<int, std::function<void(const RoutingTable&)>> listeners_;
  int next_listener_ = 0;
  std::map<std::string, std::weak_ptr<const Backend>> backends_;  // guarded by listeners_mutex_
};

}  // namespace lockstep::runtime
