// Preparing releases, recovering after a restart, observing and logs. Functions are in
// invoke.cc, services (start, health, routes, retire, supervision) in services.cc.
#include "runtime/local/local_target.h"

#include <unistd.h>

#include <boost/json.hpp>

#include "base/json.h"
#include "base/strings.h"
#include "os/file.h"
#include "runtime/local/cgroups.h"
#include "runtime/local/local_target_internal.h"
#include "runtime/local/rootfs.h"
#include "runtime/local/runtime_spec.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

// prepared.json: the release and what preparing its image found.
Result<std::pair<Release, UnpackedImage>> ParsePrepared(std::string_view text) {
  LS_ASSIGN_OR_RETURN(lockstep::json::Document doc,
                      lockstep::json::Document::Parse(text, "prepared.json"));
  LS_ASSIGN_OR_RETURN(lockstep::json::ObjectView root, lockstep::json::ObjectView::Of(doc, ""));
  const json::value* release_json = root.Raw("release");
  if (release_json == nullptr) return InvalidArgument("release is missing");
  LS_ASSIGN_OR_RETURN(Release release, ReleaseFromJson(json::serialize(*release_json)));
  LS_ASSIGN_OR_RETURN(lockstep::json::ObjectView img, root.Object("image"));
  UnpackedImage image;
  LS_ASSIGN_OR_RETURN(std::string manifest, img.String("manifest"));
  LS_ASSIGN_OR_RETURN(image.manifest, Digest::Parse(manifest));
  LS_ASSIGN_OR_RETURN(image.config.entrypoint, img.Strings("entrypoint"));
  LS_ASSIGN_OR_RETURN(image.config.cmd, img.Strings("cmd"));
  LS_ASSIGN_OR_RETURN(image.config.env, img.Strings("env"));
  LS_ASSIGN_OR_RETURN(image.config.working_dir, img.String("working_dir"));
  LS_ASSIGN_OR_RETURN(image.config.user, img.String("user"));
  LS_ASSIGN_OR_RETURN(std::vector<std::string> layers, img.Strings("layers"));
  for (const std::string& l : layers) image.layers.emplace_back(l);
  return std::make_pair(std::move(release), std::move(image));
}

}  // namespace

Status ValidatePlacement(const Placement& where) {
  for (const std::string* name : {&where.environment, &where.service}) {
    if (!IsResourceName(*name)) {
      return InvalidArgument("'" + *name + "' is not a valid environment or service name",
                             "use 1-63 characters of a-z, 0-9 and '-', not starting with '-'");
    }
  }
  return Status::Ok();
}

bool InvocationInProgress(const fs::path& bundle) {
  if (!os::Exists(bundle / kRunningLock)) return false;
  return !os::FileLock::TryAcquire(bundle / kRunningLock, os::FileLock::Mode::kExclusive).ok();
}

LocalTarget::LocalTarget(LocalTargetOptions options)
    : options_(std::move(options)),
      own_router_(options_.router == nullptr ? std::make_unique<Router>() : nullptr),
      router_(options_.router != nullptr ? options_.router : own_router_.get()),
      clock_(options_.clock != nullptr ? options_.clock : &system_clock_),
      runc_(options_.dir / "runc"),
      images_(options_.dir, options_.fetch),
      cgroup_scope_(DigestOf(options_.dir.string()).hex().substr(0, 12)) {}

Result<std::unique_ptr<LocalTarget>> LocalTarget::Open(LocalTargetOptions options) {
  // Said first: without root, the first thing to fail would be some mount or an owner
  // in a layer, in words that do not say why.
  if (::geteuid() != 0) {
    return FailedPrecondition(
        "the local runtime needs root: it unpacks image layers with their owners and runs "
        "containers with runc",
        "run lockstep as root (for example with sudo)");
  }
  // Paths end up in runtime configs, where runc reads them relative to the bundle.
  options.dir = fs::absolute(options.dir).lexically_normal();
  // Unpacked layers keep their owners and modes; only root may walk to them.
  LS_RETURN_IF_ERROR(os::MakePrivateDir(options.dir));
  for (const char* sub : {"releases", "instances", "invocations", "logs", "volumes", "runc"}) {
    LS_RETURN_IF_ERROR(os::MakeDirs(options.dir / sub));
  }
  std::unique_ptr<LocalTarget> target(new LocalTarget(std::move(options)));
  LS_ASSIGN_OR_RETURN(RuncVersion runc, target->runc_.Version());
  LS_RETURN_IF_ERROR(CheckRuncVersion(runc));
  if (!target->options_.own) return target;
  Result<os::FileLock> lock =
      os::FileLock::TryAcquire(target->options_.dir / "owner.lock", os::FileLock::Mode::kExclusive);
  if (!lock.ok()) {
    return FailedPrecondition(
        "another lockstep server runs the local target in " + target->options_.dir.string(),
        "stop it first, or give this one its own --data directory");
  }
  target->owner_lock_ = std::move(lock).value();
  LS_RETURN_IF_ERROR(target->Recover());
  target->supervisor_ = std::thread([t = target.get()] { t->Supervise(); });
  return target;
}

LocalTarget::~LocalTarget() {
  stopping_ = true;
  wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
}

Result<PreparedRelease> LocalTarget::Prepare(const Release& release) {
  LS_RETURN_IF_ERROR(Validate(release));
  std::string id = ReleaseId(release);
  PreparedRelease result{id, *release.image.digest, false};
  if (Result<std::shared_ptr<const Prepared>> known = Load(id); known.ok()) {
    result.already_prepared = true;
    return result;
  }

  // One prepare at a time: two of the same release must not both mount its root.
  std::lock_guard preparing(prepare_mutex_);
  if (Result<std::shared_ptr<const Prepared>> known = Load(id); known.ok()) {
    result.already_prepared = true;
    return result;
  }
  LS_ASSIGN_OR_RETURN(UnpackedImage image, images_.Ensure(release.image));
  // A release that cannot run is refused now rather than at its first start.
  LS_RETURN_IF_ERROR(CheckRunnable(image.config, release.config));
  fs::path dir = options_.dir / "releases" / id;
  LS_RETURN_IF_ERROR(MakeSkeleton(dir / "skeleton", MountPoints(release.config)));
  LS_RETURN_IF_ERROR(MountRootfs(dir / "rootfs", dir / "skeleton", image.layers));
  const ImageConfig& config = image.config;

  json::array layers;
  for (const fs::path& l : image.layers) layers.emplace_back(l.string());
  json::object record = {
      {"release", json::parse(ToJson(release))},
      {"image",
       {{"manifest", image.manifest.str()},
        {"entrypoint", Strings(config.entrypoint)},
        {"cmd", Strings(config.cmd)},
        {"env", Strings(config.env)},
        {"working_dir", config.working_dir},
        {"user", config.user},
        {"layers", std::move(layers)}}},
  };
  // Written last: a release is prepared when this file exists.
  LS_RETURN_IF_ERROR(os::WriteFileAtomic(dir / "prepared.json", json::serialize(record)));
  auto prepared = std::make_shared<const Prepared>(Prepared{release, id, std::move(image), dir});
  std::lock_guard lock(mutex_);
  prepared_[id] = std::move(prepared);
  return result;
}

Result<std::shared_ptr<const LocalTarget::Prepared>> LocalTarget::Load(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = prepared_.find(id); it != prepared_.end()) return it->second;
  }
  if (id.size() != 25 || id[0] != 'r' ||
      id.find_first_not_of("0123456789abcdef", 1) != std::string::npos) {
    return InvalidArgument("'" + id + "' is not a release id");
  }
  // Two first uses of one release (after a restart) must not both mount its root.
  std::lock_guard loading(load_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (auto it = prepared_.find(id); it != prepared_.end()) return it->second;
  }
  fs::path dir = options_.dir / "releases" / id;
  Result<std::string> text = os::ReadFile(dir / "prepared.json");
  if (!text.ok()) return NotFound("release " + id + " is not prepared on this target");
  Result<std::pair<Release, UnpackedImage>> record = ParsePrepared(*text);
  if (!record.ok()) {
    return Internal(dir.string() + "/prepared.json is damaged: " + record.status().message() +
                    "; remove the directory and prepare the release again");
  }
  auto& [release, image] = *record;
  // After a reboot the mount is gone; it is made again from the same layers.
  LS_RETURN_IF_ERROR(MountRootfs(dir / "rootfs", dir / "skeleton", image.layers));
  auto prepared =
      std::make_shared<const Prepared>(Prepared{std::move(release), id, std::move(image), dir});
  std::lock_guard lock(mutex_);
  return prepared_.try_emplace(id, std::move(prepared)).first->second;
}

std::vector<std::string> LocalTarget::InstanceIds() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& [id, instance] : instances_) ids.push_back(id);
  return ids;
}

Status LocalTarget::Unprepare(const std::string& release_id) {
  LS_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared, Load(release_id));
  std::lock_guard lock(mutex_);
  for (const auto& [id, instance] : instances_) {
    if (instance->release_id == release_id) {
      return FailedPrecondition("release " + release_id + " still runs as " + id);
    }
  }
  // Invocations in flight hold the mount in their own namespaces; a lazy unmount lets them
  // finish.
  LS_RETURN_IF_ERROR(UnmountRootfs(prepared->dir / "rootfs"));
  LS_RETURN_IF_ERROR(os::RemoveFile(prepared->dir / "prepared.json"));
  LS_RETURN_IF_ERROR(os::RemoveTree(prepared->dir));
  prepared_.erase(release_id);
  return Status::Ok();
}

Result<fs::path> LocalTarget::Volume(const std::string& environment, const std::string& name) {
  LS_RETURN_IF_ERROR(ValidatePlacement({environment, name}));
  fs::path dir = options_.dir / "volumes" / environment / name;
  LS_RETURN_IF_ERROR(os::MakeDirs(dir));
  return dir;
}

Result<fs::path> LocalTarget::RootfsOf(const std::string& release_id) {
  LS_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, Load(release_id));
  return p->dir / "rootfs";
}

Result<std::string> LocalTarget::SpecFor(const Prepared& prepared, const Placement& where,
                                         const std::map<std::string, std::string>& extra_env,
                                         const std::string& cgroups_path,
                                         std::map<std::string, std::string> annotations,
                                         const std::string& netns) {
  LS_ASSIGN_OR_RETURN(UserIds user, ContainerUser(prepared.image.config, prepared.release.config));
  std::map<std::string, fs::path> volumes;
  for (const VolumeGrant& grant : prepared.release.config.volumes) {
    LS_ASSIGN_OR_RETURN(fs::path dir, Volume(where.environment, grant.name));
    // A writable grant is a grant to the release's user: the volume's top directory
    // becomes theirs (what is in it keeps its owners), as a Kubernetes fsGroup would.
    if (grant.writable && ::lchown(dir.c_str(), user.uid, user.gid) != 0) {
      return os::ErrnoStatus("give the release's user volume", dir);
    }
    volumes[grant.name] = std::move(dir);
  }
  annotations[kAnnotationEnvironment] = where.environment;
  annotations[kAnnotationService] = where.service;
  annotations[kAnnotationRelease] = prepared.id;
  annotations[kAnnotationImage] = prepared.image.manifest.str();
  SpecInput in{.image = &prepared.image.config,
               .release = &prepared.release.config,
               .rootfs = prepared.dir / "rootfs",
               .extra_env = extra_env,
               .volumes = std::move(volumes),
               .cgroups_path = cgroups_path,
               .network_namespace = netns,
               .annotations = std::move(annotations)};
  return RuntimeSpec(in);
}

Result<std::string> LocalTarget::FunctionSpec(const Placement& where,
                                              const std::string& release_id) {
  LS_RETURN_IF_ERROR(ValidatePlacement(where));
  LS_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared, Load(release_id));
  return SpecFor(*prepared, where, {}, "", {});
}

Result<std::vector<ObservedInstance>> LocalTarget::Observe(const std::string& environment) {
  LS_ASSIGN_OR_RETURN(std::vector<ContainerState> containers, runc_.List());
  std::shared_ptr<const RoutingTable> table = router_->Current();
  auto routes = table->ByService();
  std::vector<ObservedInstance> out;
  for (const ContainerState& c : containers) {
    // Everything below comes from the container's own bundle, not from memory.
    Result<std::string> config = os::ReadFile(c.bundle / "config.json");
    if (!config.ok()) continue;
    boost::system::error_code ec;
    json::value spec = json::parse(*config, ec);
    if (ec || !spec.is_object()) continue;
    const json::value* ann = spec.as_object().if_contains("annotations");
    if (ann == nullptr || !ann->is_object()) continue;
    auto get = [&](std::string_view key) -> std::string {
      const json::value* v = ann->as_object().if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    ObservedInstance o;
    o.instance_id = c.id;
    o.environment = get(kAnnotationEnvironment);
    o.service = get(kAnnotationService);
    if (!environment.empty() && o.environment != environment) continue;
    o.release_id = get(kAnnotationRelease);
    if (Result<Digest> d = Digest::Parse(get(kAnnotationImage)); d.ok()) o.image = *d;
    o.config_hash = DigestOf(*config).str();
    o.port = static_cast<uint16_t>(ParseUint(get(kAnnotationPort)).value_or(0));
    o.netns = get(kAnnotationNetns);
    o.status = c.status;
    o.since_unix = c.created_unix;
    if (const json::value* linux = spec.as_object().if_contains("linux");
        linux != nullptr && linux->is_object() && c.status == "running") {
      const json::value* path = linux->as_object().if_contains("cgroupsPath");
      if (path != nullptr && path->is_string()) {
        o.memory_bytes = MemoryInUse(std::string(path->as_string()));
      }
    }
    auto found = routes.find({o.environment, o.service});
    o.routed = found != routes.end() && found->second->instance_id == c.id;
    {
      std::lock_guard lock(mutex_);
      auto it = instances_.find(c.id);
      o.health = it == instances_.end() ? HealthState::kStarting : it->second->health.state;
    }
    if (c.status != "running") o.health = HealthState::kExited;
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::map<std::string, std::string>> LocalTarget::Routed(const std::string& environment) {
  return router_->Current()->InstancesOf(environment);
}

Result<std::string> LocalTarget::Logs(const std::string& id, uint64_t max_bytes) {
  fs::path file;
  if (id.starts_with("inv-") && id.find_first_of("/.") == std::string::npos) {
    file = options_.dir / "logs" / (id + ".log");
  } else {
    std::lock_guard lock(mutex_);
    if (!instances_.contains(id)) return NotFound("no instance or invocation '" + id + "'");
    file = options_.dir / "instances" / id / "log";
  }
  Result<os::UniqueFd> fd = os::OpenRead(file);
  if (!fd.ok()) return NotFound("no log for '" + id + "'");
  return ReadTail(fd->get(), max_bytes);
}

}  // namespace lockstep::runtime::local
