#include "runtime/fake_target.h"

#include "runtime/switch_routes.h"

namespace lockstep::runtime {

FakeTarget::FakeTarget(Router* router) : router_(router != nullptr ? router : &own_router_) {}

void FakeTarget::SetHealthOnStart(HealthState state) {
  std::lock_guard lock(mutex_);
  health_on_start_ = state;
}

void FakeTarget::SetHealthOnStart(const std::string& service, HealthState state) {
  std::lock_guard lock(mutex_);
  service_health_on_start_[service] = state;
}

void FakeTarget::SetHealth(const std::string& instance_id, HealthState state) {
  std::lock_guard lock(mutex_);
  if (auto it = instances_.find(instance_id); it != instances_.end()) it->second.health = state;
}

void FakeTarget::FailNext(Step step, Status status) {
  std::lock_guard lock(mutex_);
  failures_[step] = std::move(status);
}

void FakeTarget::OnInvoke(std::function<Invocation(const Release&, const InvokeRequest&)> handler) {
  std::lock_guard lock(mutex_);
  on_invoke_ = std::move(handler);
}

std::vector<std::string> FakeTarget::Calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

Status FakeTarget::Injected(Step step) {
  auto it = failures_.find(step);
  if (it == failures_.end()) return Status::Ok();
  Status s = std::move(it->second);
  failures_.erase(it);
  return s;
}

Result<PreparedRelease> FakeTarget::Prepare(const Release& release) {
  LS_RETURN_IF_ERROR(Validate(release));
  std::lock_guard lock(mutex_);
  LS_RETURN_IF_ERROR(Injected(Step::kPrepare));
  std::string id = ReleaseId(release);
  calls_.push_back("prepare " + id);
  bool known = releases_.contains(id);
  releases_.emplace(id, release);
  return PreparedRelease{id, *release.image.digest, known};
}

Result<std::string> FakeTarget::Start(const Placement& where, const std::string& release_id) {
  std::lock_guard lock(mutex_);
  LS_RETURN_IF_ERROR(Injected(Step::kStart));
  auto release = releases_.find(release_id);
  if (release == releases_.end()) return NotFound("release " + release_id + " is not prepared");
  if (release->second.config.kind != ReleaseKind::kService) {
    return FailedPrecondition("release " + release_id + " is a function");
  }
  std::string id = where.environment + "." + where.service + "." + std::to_string(++next_instance_);
  auto scripted = service_health_on_start_.find(where.service);
  instances_[id] = {
      where, release_id,
      scripted != service_health_on_start_.end() ? scripted->second : health_on_start_};
  calls_.push_back("start " + where.environment + "/" + where.service + " " + release_id);
  return id;
}

Result<InstanceHealth> FakeTarget::Health(const std::string& instance_id) {
  std::lock_guard lock(mutex_);
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) return NotFound("no instance '" + instance_id + "'");
  return InstanceHealth{it->second.health, 0, ""};
}

Status FakeTarget::SwitchRoutes(const std::string& environment, const RouteChanges& changes) {
  std::lock_guard lock(mutex_);
  LS_RETURN_IF_ERROR(Injected(Step::kSwitch));
  RoutableInstance seen;
  auto find = [&](const std::string& id) -> const RoutableInstance* {
    auto it = instances_.find(id);
    if (it == instances_.end()) return nullptr;
    const Instance& i = it->second;
    seen = {id, i.where.environment, i.where.service, i.health, "", i.retiring};
    return &seen;
  };
  LS_ASSIGN_OR_RETURN(std::shared_ptr<const RoutingTable> next,
                      NextRoutingTable(*router_->Current(), environment, changes, find));
  router_->Publish(std::move(next));
  std::string call = "switch " + environment;
  for (const auto& [service, change] : changes) call += " " + service + "=" + change.instance_id;
  calls_.push_back(call);
  return Status::Ok();
}

// As the local target: a routed instance is refused; once a retirement has begun the
// instance is never routed again, even when the retirement then fails (a scripted
// failure fails it after it began).
Status FakeTarget::Retire(const std::string& instance_id, std::chrono::milliseconds) {
  std::lock_guard lock(mutex_);
  Status injected = Injected(Step::kRetire);  // used up by this call, whatever it finds
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) return NotFound("no instance '" + instance_id + "'");
  for (const auto& [port, backend] : router_->Current()->by_port) {
    if (backend->instance_id == instance_id) {
      return FailedPrecondition("instance " + instance_id + " serves public port " +
                                std::to_string(port));
    }
  }
  it->second.retiring = true;
  LS_RETURN_IF_ERROR(injected);
  instances_.erase(it);
  calls_.push_back("retire " + instance_id);
  return Status::Ok();
}

Result<Invocation> FakeTarget::Invoke(const Placement& where, const std::string& release_id,
                                      const InvokeRequest& request) {
  std::function<Invocation(const Release&, const InvokeRequest&)> handler;
  Release release;
  {
    std::lock_guard lock(mutex_);
    LS_RETURN_IF_ERROR(Injected(Step::kInvoke));
    auto it = releases_.find(release_id);
    if (it == releases_.end()) return NotFound("release " + release_id + " is not prepared");
    if (it->second.config.kind != ReleaseKind::kFunction) {
      return FailedPrecondition("release " + release_id + " is a service");
    }
    release = it->second;
    handler = on_invoke_;
    calls_.push_back("invoke " + where.environment + "/" + where.service + " " + release_id);
  }
  Invocation result = handler ? handler(release, request) : Invocation{.output = request.event};
  std::lock_guard lock(mutex_);
  result.invocation_id = "inv-fake-" + std::to_string(++next_invocation_);
  return result;
}

Result<std::map<std::string, std::string>> FakeTarget::Routed(const std::string& environment) {
  return router_->Current()->InstancesOf(environment);
}

Result<std::vector<ObservedInstance>> FakeTarget::Observe(const std::string& environment) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<const RoutingTable> table = router_->Current();
  std::vector<ObservedInstance> out;
  auto routes = table->ByService();
  for (const auto& [id, instance] : instances_) {
    if (!environment.empty() && instance.where.environment != environment) continue;
    auto found = routes.find({instance.where.environment, instance.where.service});
    const Backend* route = found == routes.end() ? nullptr : found->second;
    ObservedInstance o;
    o.instance_id = id;
    o.environment = instance.where.environment;
    o.service = instance.where.service;
    o.release_id = instance.release_id;
    o.image = *releases_.at(instance.release_id).image.digest;
    o.status = "running";
    o.health = instance.health;
    o.routed = route != nullptr && route->instance_id == id;
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::string> FakeTarget::Logs(const std::string& id, uint64_t) {
  std::lock_guard lock(mutex_);
  if (!instances_.contains(id)) return NotFound("no instance or invocation '" + id + "'");
  return std::string();
}

}  // namespace lockstep::runtime
