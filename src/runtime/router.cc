#include "runtime/router.h"

namespace lockstep::runtime {

uint16_t RoutingTable::PortOf(const std::string& environment, const std::string& service) const {
  for (const auto& [port, backend] : by_port) {
    if (backend->environment == environment && backend->service == service) return port;
  }
  return 0;
}

const Backend* RoutingTable::RouteOf(const std::string& environment,
                                     const std::string& service) const {
  for (const auto& [port, backend] : by_port) {
    if (backend->environment == environment && backend->service == service) return backend.get();
  }
  return nullptr;
}

std::map<std::pair<std::string, std::string>, const Backend*> RoutingTable::ByService() const {
  std::map<std::pair<std::string, std::string>, const Backend*> index;
  for (const auto& [port, backend] : by_port) {
    index.emplace(std::make_pair(backend->environment, backend->service), backend.get());
  }
  return index;
}

std::map<std::string, std::string> RoutingTable::InstancesOf(const std::string& environment) const {
  std::map<std::string, std::string> out;
  for (const auto& [port, backend] : by_port) {
    if (backend->environment == environment) out.emplace(backend->service, backend->instance_id);
  }
  return out;
}

Router::Router() : table_(std::make_shared<const RoutingTable>()) {}

void Router::Publish(std::shared_ptr<const RoutingTable> table) {
  table_.store(table);
  std::lock_guard lock(listeners_mutex_);
  std::erase_if(backends_, [](const auto& entry) { return entry.second.expired(); });
  for (const auto& [port, backend] : table->by_port) backends_[backend->instance_id] = backend;
  for (const auto& [id, listener] : listeners_) listener(*table);
}

int Router::Subscribe(std::function<void(const RoutingTable&)> listener) {
  std::lock_guard lock(listeners_mutex_);
  listeners_[++next_listener_] = std::move(listener);
  return next_listener_;
}

void Router::Unsubscribe(int id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

std::weak_ptr<const Backend> Router::LastBackendOf(const std::string& instance_id) {
  std::lock_guard lock(listeners_mutex_);
  auto it = backends_.find(instance_id);
  return it == backends_.end() ? std::weak_ptr<const Backend>() : it->second;
}

bool Router::WaitDrained(const std::weak_ptr<const Backend>& backend,
                         std::chrono::milliseconds timeout, const os::Clock& clock) {
  auto deadline = clock.Now() + timeout;
  while (!backend.expired()) {
    if (clock.Now() >= deadline) return false;
    clock.SleepFor(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace lockstep::runtime
