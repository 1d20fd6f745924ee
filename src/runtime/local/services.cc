// Services: start, health, routes, retire, supervision and recovery.
//
// Cutover without failed requests rests on three rules:
//   1. Nothing is routed before it is healthy (SwitchRoutes refuses).
//   2. A switch publishes one new routing table; requests pick a backend once.
//   3. Retire refuses a routed instance and waits until no table and no request holds
//      its Backend (router.h) before it sends SIGTERM.
// routes.json is written (atomically) before the new table is published, so after a
// crash the saved routes are never older than what the proxy last served.
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <future>
#include <set>
#include <thread>

#include "base/strings.h"
#include "os/file.h"
#include "os/netns.h"
#include "os/random.h"
#include "runtime/local/cgroups.h"
#include "runtime/local/health_probe.h"
#include "runtime/local/local_target.h"
#include "runtime/local/local_target_internal.h"
#include "runtime/local/rootfs.h"
#include "runtime/switch_routes.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kFirstBackoff{200};
constexpr milliseconds kMaxBackoff{10'000};

// Alive and not a zombie (a container's init is not our child, so nobody here reaps it).
bool Running(int pid) {
  if (pid <= 0) return false;
  Result<std::string> stat = os::ReadFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

// A service bundle may hold the instance's network namespace, a mount point that must be
// released before the directory can go.
Status RemoveBundle(const fs::path& bundle) {
  if (os::Exists(bundle / "netns"))
    LS_RETURN_IF_ERROR(os::RemoveNetworkNamespace(bundle / "netns"));
  return os::RemoveTree(bundle);
}

}  // namespace

Result<std::string> LocalTarget::Start(const Placement& where, const std::string& release_id) {
  LS_RETURN_IF_ERROR(ValidatePlacement(where));
  LS_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared, Load(release_id));
  if (prepared->release.config.kind != ReleaseKind::kService) {
    return FailedPrecondition("release " + release_id +
                              " is a function; functions are invoked, "
                              "not started");
  }
  auto instance = std::make_shared<Instance>();
  instance->id = where.environment + "." + where.service + "." + HexEncode(os::RandomBytes(4));
  instance->where = where;
  instance->release_id = release_id;
  instance->check = prepared->release.config.health;
  fs::path bundle = options_.dir / "instances" / instance->id;
  LS_RETURN_IF_ERROR(os::MakeDirs(bundle));
  // Without the host network granted, the instance gets a namespace of its own, made here
  // so it outlives restarts of the container; the proxy and the health checks connect
  // from inside it.
  if (prepared->release.config.network == NetworkGrant::kNone) {
    instance->netns = (bundle / "netns").string();
    instance->port = kIsolatedServicePort;
    if (Status s = os::CreateNetworkNamespace(instance->netns); !s.ok()) {
      (void)os::RemoveTree(bundle);
      return s;
    }
  } else {
    LS_ASSIGN_OR_RETURN(instance->port, PickFreePort());
  }
  auto undo = [&] {
    (void)runc_.Delete(instance->id, true);
    if (!instance->netns.empty()) (void)os::RemoveNetworkNamespace(instance->netns);
    (void)os::RemoveTree(bundle);
  };

  std::string port = std::to_string(instance->port);
  Result<std::string> spec =
      SpecFor(*prepared, where, {{"PORT", port}}, "/lockstep/" + instance->id,
              {{kAnnotationPort, port}, {kAnnotationNetns, instance->netns}}, instance->netns);
  Status written = spec.ok() ? os::WriteFileAtomic(bundle / "config.json", *spec) : spec.status();
  Result<os::UniqueFd> log =
      written.ok() ? os::OpenAppend(bundle / "log") : Result<os::UniqueFd>(written);
  Status started = log.ok() ? runc_.RunDetached(instance->id, bundle, log->get()) : log.status();
  if (!started.ok()) {
    undo();
    return started;
  }
  LS_ASSIGN_OR_RETURN(ContainerState state, runc_.State(instance->id));
  instance->pid = state.pid;
  instance->next_check = Clock::now();
  {
    std::lock_guard lock(mutex_);
    instances_[instance->id] = instance;
  }
  wake_.notify_all();
  return instance->id;
}

Result<InstanceHealth> LocalTarget::Health(const std::string& instance_id) {
  std::lock_guard lock(mutex_);
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) return NotFound("no instance '" + instance_id + "'");
  return it->second->health;
}

Status LocalTarget::SwitchRoutes(const std::string& environment, const RouteChanges& changes) {
  std::lock_guard switching(routes_mutex_);
  std::shared_ptr<const RoutingTable> next;
  {
    std::lock_guard lock(mutex_);
    RoutableInstance seen;
    auto find = [&](const std::string& id) -> const RoutableInstance* {
      auto it = instances_.find(id);
      if (it == instances_.end()) return nullptr;
      const Instance& i = *it->second;
      seen = {i.id,       i.where.environment, i.where.service, i.health.state, i.health.last_error,
              i.retiring, "127.0.0.1",         i.port,          i.netns};
      return &seen;
    };
    LS_ASSIGN_OR_RETURN(next, NextRoutingTable(*router_->Current(), environment, changes, find));
  }
  return PublishRoutes(std::move(next));
}

Status LocalTarget::PublishRoutes(std::shared_ptr<const RoutingTable> table) {
  json::array routes;
  for (const auto& [port, b] : table->by_port) {
    routes.push_back({{"environment", b->environment},
                      {"service", b->service},
                      {"public_port", port},
                      {"instance", b->instance_id},
                      {"backend_port", b->port},
                      {"netns", b->netns}});
  }
  LS_RETURN_IF_ERROR(os::WriteFileAtomic(options_.dir / "routes.json",
                                         json::serialize(json::object{{"routes", routes}})));
  router_->Publish(std::move(table));
  return Status::Ok();
}

Status LocalTarget::LoadRoutes() {
  Result<std::string> text = os::ReadFile(options_.dir / "routes.json");
  if (!text.ok()) return Status::Ok();  // nothing routed yet
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object() || !v.as_object().contains("routes")) {
    return Internal((options_.dir / "routes.json").string() + " is not a routing table");
  }
  auto table = std::make_shared<RoutingTable>();
  try {  // Boost.JSON's accessors throw on a missing key or a wrong type
    for (const json::value& r : v.at("routes").as_array()) {
      const json::object& o = r.as_object();
      auto port = static_cast<uint16_t>(o.at("public_port").to_number<uint64_t>());
      const json::value* netns = o.if_contains("netns");
      table->by_port[port] = std::make_shared<const Backend>(Backend{
          std::string(o.at("instance").as_string()), std::string(o.at("environment").as_string()),
          std::string(o.at("service").as_string()), "127.0.0.1",
          static_cast<uint16_t>(o.at("backend_port").to_number<uint64_t>()),
          netns != nullptr ? std::string(netns->as_string()) : std::string()});
    }
  } catch (const std::exception& e) {
    return Internal((options_.dir / "routes.json").string() + " is damaged: " + e.what());
  }
  router_->Publish(std::move(table));
  return Status::Ok();
}

Status LocalTarget::Retire(const std::string& instance_id, milliseconds drain) {
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard switching(routes_mutex_);
    std::lock_guard lock(mutex_);
    auto it = instances_.find(instance_id);
    if (it == instances_.end()) return NotFound("no instance '" + instance_id + "'");
    instance = it->second;
    std::shared_ptr<const RoutingTable> table = router_->Current();
    for (const auto& [port, b] : table->by_port) {
      if (b->instance_id == instance_id) {
        return FailedPrecondition(
            "instance " + instance_id + " serves public port " + std::to_string(port),
            "switch its route to another instance first");
      }
    }
    instance->retiring = true;
  }
  // Journaled: if lockstep dies from here on, the next start finishes the retirement
  // instead of restarting the instance.
  LS_RETURN_IF_ERROR(
      os::WriteFileAtomic(options_.dir / "instances" / instance_id / "retiring", ""));
  // Requests that picked this instance before the switch finish first.
  (void)Router::WaitDrained(router_->LastBackendOf(instance_id), drain);
  std::lock_guard life(instance->lifecycle);  // no restart runs from here on

  (void)runc_.Kill(instance_id, "TERM");
  auto deadline = Clock::now() + options_.stop_grace;
  while (Running(instance->pid) && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  Status deleted = runc_.Delete(instance_id, true);
  if (!deleted.ok() && deleted.code() != Code::kNotFound) return deleted;
  LS_RETURN_IF_ERROR(RemoveBundle(options_.dir / "instances" / instance_id));
  std::lock_guard lock(mutex_);
  instances_.erase(instance_id);
  return Status::Ok();
}

Status LocalTarget::Recover() {
  images_.SweepTemporaries();
  LS_ASSIGN_OR_RETURN(std::vector<ContainerState> containers, runc_.List());
  std::set<std::string> known;
  for (const ContainerState& c : containers) {
    known.insert(c.id);
    if (os::Exists(options_.dir / "instances" / c.id / "retiring")) {
      // A retirement that a crash interrupted: finished now.
      (void)runc_.Delete(c.id, true);
      (void)RemoveBundle(options_.dir / "instances" / c.id);
      known.erase(c.id);
      continue;
    }
    if (c.id.starts_with("inv-")) {
      // An invocation whose caller is gone: nobody waits for its result. (One a `lockstep
      // run` beside this server is running holds its bundle's lock, and is left alone.)
      if (!InvocationInProgress(options_.dir / "invocations" / c.id)) {
        (void)runc_.Delete(c.id, true);
        (void)os::RemoveTree(options_.dir / "invocations" / c.id);
        known.erase(c.id);
      }
      continue;
    }
    auto get = [&c](const char* key) {
      auto it = c.annotations.find(key);
      return it == c.annotations.end() ? std::string() : it->second;
    };
    auto instance = std::make_shared<Instance>();
    instance->id = c.id;
    instance->where = {get(kAnnotationEnvironment), get(kAnnotationService)};
    instance->release_id = get(kAnnotationRelease);
    instance->port = static_cast<uint16_t>(ParseUint(get(kAnnotationPort)).value_or(0));
    instance->netns = get(kAnnotationNetns);
    instance->pid = c.status == "running" ? c.pid : 0;
    Result<std::shared_ptr<const Prepared>> prepared = Load(instance->release_id);
    if (!prepared.ok() || instance->port == 0) continue;  // not one of ours to supervise
    instance->check = (*prepared)->release.config.health;
    instance->next_check = Clock::now();
    // An instance that stopped while nobody supervised it starts again at once.
    instance->health.state = instance->pid != 0 ? HealthState::kStarting : HealthState::kExited;
    instance->next_restart = Clock::now();
    instances_[c.id] = instance;
  }
  RemoveIdleInvocationCgroups(cgroup_scope_, [this](const std::string& id) {
    return InvocationInProgress(options_.dir / "invocations" / id);
  });
  // Bundles without a container were being started or retired when the process died.
  for (const char* sub : {"instances", "invocations"}) {
    Result<std::vector<std::string>> names = os::ListDir(options_.dir / sub);
    if (!names.ok()) continue;
    for (const std::string& n : *names) {
      fs::path bundle = options_.dir / sub / n;
      if (known.contains(n) || InvocationInProgress(bundle)) continue;
      (void)RemoveBundle(bundle);
    }
  }
  return LoadRoutes();
}

void LocalTarget::Supervise() {
  std::vector<std::future<void>> probes;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<std::string> ids;
    for (const auto& [id, instance] : instances_) {
      if (!instance->retiring) ids.push_back(id);
    }
    lock.unlock();
    // Exits and restarts are handled here one by one (quick). A health check that is due
    // runs on a thread of its own and the loop goes on: a slow check holds up nobody, and
    // an instance is not checked again before its last check is over.
    std::erase_if(probes, [](std::future<void>& f) {
      return f.wait_for(milliseconds(0)) == std::future_status::ready;
    });
    for (const std::string& id : ids) {
      if (stopping_) break;
      if (CheckInstance(id)) {
        probes.push_back(std::async(std::launch::async, [this, id] { Probe(id); }));
      }
    }
    lock.lock();
    wake_.wait_for(lock, milliseconds(50), [this] { return stopping_.load(); });
  }
  lock.unlock();
  probes.clear();  // waits for the checks still running
}

bool LocalTarget::CheckInstance(const std::string& id) {
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard lock(mutex_);
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second->retiring) return false;
    instance = it->second;
  }
  auto now = Clock::now();
  if (!Running(instance->pid)) {
    std::unique_lock lock(mutex_);
    if (instance->retiring) return false;
    if (instance->health.state != HealthState::kExited) {
      instance->health.state = HealthState::kExited;
      instance->health.last_error = "the process exited";
      instance->passes = 0;
      instance->backoff = instance->backoff == milliseconds(0)
                              ? kFirstBackoff
                              : std::min(instance->backoff * 2, kMaxBackoff);
      // A long healthy run earns a fresh backoff.
      if (instance->healthy_since != Clock::time_point() &&
          now - instance->healthy_since > std::chrono::seconds(30)) {
        instance->backoff = kFirstBackoff;
      }
      instance->next_restart = now + instance->backoff;
      return false;
    }
    if (now < instance->next_restart) return false;
    lock.unlock();
    // Retire waits for a restart in progress (and a restart never follows a retire).
    std::lock_guard life(instance->lifecycle);
    if (instance->retiring) return false;
    fs::path bundle = options_.dir / "instances" / id;
    (void)runc_.Delete(id, true);
    Result<os::UniqueFd> log = os::OpenAppend(bundle / "log");
    Status started = log.ok() ? runc_.RunDetached(id, bundle, log->get()) : log.status();
    Result<ContainerState> state = started.ok() ? runc_.State(id) : Result<ContainerState>(started);
    lock.lock();
    if (state.ok()) {
      instance->pid = state->pid;
      instance->health.state = HealthState::kStarting;
      instance->health.restarts++;
      instance->next_check = Clock::now();
    } else {
      instance->health.last_error = state.status().message();
      instance->backoff = std::min(instance->backoff * 2, kMaxBackoff);
      instance->next_restart = Clock::now() + instance->backoff;
    }
    return false;
  }
  std::lock_guard lock(mutex_);
  if (instance->probing || now < instance->next_check) return false;
  instance->probing = true;
  return true;
}

void LocalTarget::Probe(const std::string& id) {
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard lock(mutex_);
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second->retiring) return;
    instance = it->second;
  }
  Status probe = ProbeHttp(instance->port, instance->check.path,
                           milliseconds(instance->check.timeout_ms), instance->netns);
  TrimLog(options_.dir / "instances" / id / "log");
  std::lock_guard lock(mutex_);
  instance->probing = false;
  instance->next_check = Clock::now() + milliseconds(instance->check.interval_ms);
  if (probe.ok()) {
    if (++instance->passes >= instance->check.successes &&
        instance->health.state != HealthState::kHealthy) {
      instance->health.state = HealthState::kHealthy;
      instance->healthy_since = Clock::now();
    }
  } else {
    instance->passes = 0;
    instance->health.last_error = "health check " + instance->check.path + ": " + probe.message();
    if (instance->health.state == HealthState::kHealthy)
      instance->health.state = HealthState::kUnhealthy;
  }
}

void LocalTarget::TrimLog(const fs::path& log) {
  struct stat st;
  if (stat(log.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) <= options_.log_bytes)
    return;
  os::UniqueFd fd(open(log.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return;
  // Drop the oldest part, in whole blocks, keeping about log_bytes. Writers append with
  // O_APPEND, so they carry on at the new end.
  uint64_t excess = static_cast<uint64_t>(st.st_size) - options_.log_bytes;
  uint64_t block = static_cast<uint64_t>(st.st_blksize);
  uint64_t cut = excess / block * block;
  if (cut == 0) return;
  if (fallocate(fd.get(), FALLOC_FL_COLLAPSE_RANGE, 0, static_cast<off_t>(cut)) != 0) {
    // Filesystems without collapse (tmpfs before 6.x, overlayfs): free the blocks instead;
    // readers skip the hole.
    (void)fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                    static_cast<off_t>(cut));
  }
}

}  // namespace lockstep::runtime::local
