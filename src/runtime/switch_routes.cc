#include "runtime/switch_routes.h"

namespace lockstep::runtime {

Result<std::shared_ptr<const RoutingTable>> NextRoutingTable(const RoutingTable& current,
                                                             const std::string& environment,
                                                             const RouteChanges& changes,
                                                             const FindInstance& find) {
  auto next = std::make_shared<RoutingTable>(current);
  // Routes removed first, so that a port one service gives up can serve another at once.
  for (const auto& [service, change] : changes) {
    if (!change.instance_id.empty()) continue;
    if (uint16_t old = next->PortOf(environment, service); old != 0) next->by_port.erase(old);
  }
  for (const auto& [service, change] : changes) {
    if (change.instance_id.empty()) continue;
    const RoutableInstance* instance = find(change.instance_id);
    if (instance == nullptr) return NotFound("no instance '" + change.instance_id + "'");
    if (instance->environment != environment || instance->service != service) {
      return InvalidArgument("instance " + instance->id + " is not of " + environment + "/" +
                             service);
    }
    if (instance->retiring) {
      return FailedPrecondition("instance " + instance->id + " is being retired",
                                "start a new instance of the release and route that one");
    }
    if (instance->health != HealthState::kHealthy) {
      std::string why = instance->last_error.empty() ? "" : " (" + instance->last_error + ")";
      return FailedPrecondition("instance " + instance->id + " is " +
                                std::string(HealthName(instance->health)) + why +
                                "; only healthy instances are routed");
    }
    uint16_t port =
        change.public_port != 0 ? change.public_port : current.PortOf(environment, service);
    if (port == 0) {
      return InvalidArgument("service " + environment + "/" + service +
                             " has no public port yet; give one with its first route");
    }
    if (uint16_t old = next->PortOf(environment, service); old != 0) next->by_port.erase(old);
    if (auto taken = next->by_port.find(port); taken != next->by_port.end()) {
      return FailedPrecondition("public port " + std::to_string(port) + " already serves " +
                                taken->second->environment + "/" + taken->second->service);
    }
    next->by_port[port] = std::make_shared<const Backend>(Backend{
        instance->id, environment, service, instance->host, instance->port, instance->netns});
  }
  return std::shared_ptr<const RoutingTable>(std::move(next));
}

}  // namespace lockstep::runtime
