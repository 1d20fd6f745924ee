#include "runtime/local/runtime_spec.h"

#include <boost/json.hpp>

#include "base/strings.h"
#include "runtime/local/seccomp.h"

namespace lockstep::runtime::local {

namespace json = boost::json;

namespace {

constexpr std::string_view kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Enough for ordinary programs: no raw sockets, no mknod, no module or admin operations.
const std::vector<std::string> kCapabilities = {"CAP_CHOWN", "CAP_DAC_OVERRIDE",     "CAP_FOWNER",
                                                "CAP_KILL",  "CAP_NET_BIND_SERVICE", "CAP_SETGID",
                                                "CAP_SETUID"};

json::array Array(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

json::object Mount(std::string destination, std::string type, std::string source,
                   std::vector<std::string> options) {
  return {{"destination", std::move(destination)},
          {"type", std::move(type)},
          {"source", std::move(source)},
          {"options", Array(options)}};
}

// True when `path` is `dir` or lies beneath it, component-wise.
bool Beneath(std::string_view path, std::string_view dir) {
  return path == dir ||
         (path.starts_with(dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

// Where a program may start from, and what it may be: runc resolves both while it still
// holds descriptors of the host (CVE-2024-21626 used a cwd of /proc/self/fd/N), so only
// plain absolute paths outside the kernel's filesystems pass.
Status CheckPath(std::string_view path, std::string_view what, std::string_view fix) {
  bool plain = path.starts_with('/');
  std::vector<std::string_view> parts = Split(path.substr(plain ? 1 : 0), '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    // "//proc" is "/proc" to the kernel; only a trailing slash may leave a part empty.
    bool empty_inside = parts[i].empty() && i + 1 < parts.size();
    plain = plain && parts[i] != ".." && parts[i] != "." && !empty_inside;
  }
  if (!plain) {
    return InvalidArgument(
        std::string(what) + " '" + std::string(path) + "' is not a plain absolute path",
        std::string(fix));
  }
  for (std::string_view kernel : {"/proc", "/sys", "/dev"}) {
    if (Beneath(path, kernel)) {
      return InvalidArgument(std::string(what) + " '" + std::string(path) + "' is under " +
                                 std::string(kernel) + ", which a container may not start from",
                             std::string(fix));
    }
  }
  return Status::Ok();
}

// Image env, then release env, then lockstep's: later entries replace earlier ones.
json::array Environment(const SpecInput& in) {
  std::vector<std::pair<std::string, std::string>> env;
  auto set = [&env](std::string key, std::string value) {
    for (auto& [k, v] : env) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    env.emplace_back(std::move(key), std::move(value));
  };
  set("PATH", std::string(kDefaultPath.substr(5)));
  for (const std::string& e : in.image->env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) set(e.substr(0, eq), e.substr(eq + 1));
  }
  for (const auto& [k, v] : in.release->env) set(k, v);
  for (const auto& [k, v] : in.extra_env) set(k, v);
  json::array out;
  for (const auto& [k, v] : env) out.emplace_back(k + "=" + v);
  return out;
}

}  // namespace

std::vector<std::string> ContainerArgs(const ImageConfig& image, const ReleaseConfig& release) {
  std::vector<std::string> args =
      release.entrypoint.empty() ? image.entrypoint : release.entrypoint;
  const std::vector<std::string>& cmd =
      !release.cmd.empty() || !release.entrypoint.empty() ? release.cmd : image.cmd;
  args.insert(args.end(), cmd.begin(), cmd.end());
  return args;
}

std::vector<std::string> MountPoints(const ReleaseConfig& release) {
  std::vector<std::string> points = {"/proc", "/dev", "/sys", "/tmp", "/volumes"};
  for (const VolumeGrant& v : release.volumes) points.push_back("/volumes/" + v.name);
  return points;
}

Result<UserIds> ContainerUser(const ImageConfig& image, const ReleaseConfig& release) {
  UserIds ids;
  if (!release.user.empty()) {
    LS_ASSIGN_OR_RETURN(ids, ParseUserIds(release.user, "user"));
  } else if (image.user == "root") {
    ids = {0, 0};
  } else if (!image.user.empty()) {
    LS_ASSIGN_OR_RETURN(ids, ParseUserIds(image.user, "the image's USER"));
  } else if (!release.root) {
    LS_ASSIGN_OR_RETURN(ids, ParseUserIds(kUnprivilegedUser, "user"));
  }
  if (ids.uid == 0 && !release.root) {
    return InvalidArgument(
        "the image runs as root (USER " + image.user + "), and the release does not grant root",
        "grant root explicitly (root = true), set the release's user to a "
        "non-root uid, or build the image with a non-root USER");
  }
  return ids;
}

Status CheckRunnable(const ImageConfig& image, const ReleaseConfig& release) {
  std::vector<std::string> args = ContainerArgs(image, release);
  if (args.empty()) {
    return InvalidArgument("nothing to run: the image has no entrypoint or cmd",
                           "give the release an entrypoint or cmd");
  }
  if (args[0].starts_with('/')) {
    LS_RETURN_IF_ERROR(CheckPath(args[0], "the program", "run a program of the image's own"));
  } else if (args[0].find('/') != std::string::npos) {
    return InvalidArgument("the program '" + args[0] + "' is a relative path",
                           "name it by an absolute path, or by a bare name found in PATH");
  } else {
    // A bare name is looked up in PATH, so each PATH entry must be a plain place too.
    std::string path(kDefaultPath.substr(5));
    for (const std::string& e : image.env) {
      if (e.starts_with("PATH=")) path = e.substr(5);
    }
    if (auto it = release.env.find("PATH"); it != release.env.end()) path = it->second;
    for (std::string_view dir : Split(path, ':')) {
      LS_RETURN_IF_ERROR(CheckPath(dir, "the PATH entry",
                                   "give PATH only absolute directories outside /proc, /sys "
                                   "and /dev"));
    }
  }
  if (!image.working_dir.empty()) {
    LS_RETURN_IF_ERROR(CheckPath(image.working_dir, "the image's WORKDIR",
                                 "build the image with an absolute WORKDIR outside /proc, "
                                 "/sys and /dev"));
  }
  return ContainerUser(image, release).status();
}

Result<std::string> RuntimeSpec(const SpecInput& in) {
  LS_RETURN_IF_ERROR(CheckRunnable(*in.image, *in.release));
  std::vector<std::string> args = ContainerArgs(*in.image, *in.release);
  LS_ASSIGN_OR_RETURN(UserIds user, ContainerUser(*in.image, *in.release));
  const Limits& limits = in.release->limits;

  // Root gets a short list; anyone else gets none, so setuid(0) and capset fail and no
  // file capability can be gained (no_new_privileges also stops setuid binaries).
  json::array caps = user.uid == 0 ? Array(kCapabilities) : json::array{};
  json::object process = {
      // Never true: a console makes runc bind-mount /dev/console (CVE-2025-52565).
      {"terminal", false},
      {"user", {{"uid", user.uid}, {"gid", user.gid}}},
      {"args", Array(args)},
      {"env", Environment(in)},
      {"cwd", in.image->working_dir.empty() ? "/" : in.image->working_dir},
      {"capabilities",
       {{"bounding", caps},
        {"effective", caps},
        {"permitted", caps},
        {"inheritable", json::array{}},
        {"ambient", json::array{}}}},
      {"rlimits", json::array{{{"type", "RLIMIT_NOFILE"}, {"hard", 4096}, {"soft", 4096}}}},
      {"noNewPrivileges", true},
  };

  json::array mounts = {
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=1777", "size=65536k"}),
  };
  for (const VolumeGrant& grant : in.release->volumes) {
    auto source = in.volumes.find(grant.name);
    if (source == in.volumes.end()) {
      return FailedPrecondition("volume '" + grant.name + "' is granted but does not exist");
    }
    mounts.push_back(Mount("/volumes/" + grant.name, "bind", source->second.string(),
                           {"rbind", "nosuid", "nodev", grant.writable ? "rw" : "ro"}));
  }

  json::array namespaces = {
      {{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}};
  // Without the host network granted, a function gets a fresh namespace; a service joins
  // the one lockstep made for the instance, which outlives its restarts.
  if (in.release->network == NetworkGrant::kNone) {
    json::object netns{{"type", "network"}};
    if (!in.network_namespace.empty()) netns["path"] = in.network_namespace;
    namespaces.push_back(std::move(netns));
  }

  auto memory = static_cast<int64_t>(limits.memory_bytes);
  json::object linux = {
      {"namespaces", std::move(namespaces)},
      {"resources",
       {{"devices", json::array{{{"allow", false}, {"access", "rwm"}}}},
        {"memory", {{"limit", memory}, {"swap", memory}}},
        {"pids", {{"limit", limits.pids}}},
        {"cpu", {{"shares", limits.cpu_shares}}}}},
      {"maskedPaths", Array({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                             "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                             "/proc/sched_debug", "/sys/firmware", "/proc/scsi"})},
      {"readonlyPaths",
       Array({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})},
  };
  linux["seccomp"] = SeccompSpec(DefaultSeccompPolicy(), in.release->syscalls);
  // In a namespace of its own, a program that is not root may still listen on port 80.
  if (in.release->network == NetworkGrant::kNone) {
    linux["sysctl"] = json::object{{"net.ipv4.ip_unprivileged_port_start", "0"}};
  }
  if (!in.cgroups_path.empty()) linux["cgroupsPath"] = in.cgroups_path;

  json::object annotations;
  for (const auto& [k, v] : in.annotations) annotations[k] = v;

  json::object spec = {
      {"ociVersion", "1.0.2"},
      {"process", std::move(process)},
      {"root", {{"path", in.rootfs.string()}, {"readonly", true}}},
      {"hostname", in.hostname},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux)},
      {"annotations", std::move(annotations)},
  };
  return json::serialize(spec);
}

}  // namespace lockstep::runtime::local
