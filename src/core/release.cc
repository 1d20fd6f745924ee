#include "core/release.h"

#include <boost/json.hpp>
#include <limits>

#include "base/json.h"
#include "base/strings.h"
#include "core/digest.h"

namespace lockstep {

namespace bj = boost::json;

namespace {

bj::array Strings(const std::vector<std::string>& v) {
  bj::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

// The part of a release its id covers, in a fixed key order.
bj::object IdentityObject(const Release& r) {
  const ReleaseConfig& c = r.config;
  bj::object env;
  for (const auto& [k, v] : c.env) env[k] = v;
  bj::array volumes;
  for (const VolumeGrant& g : c.volumes) {
    volumes.push_back(bj::object{{"name", g.name}, {"writable", g.writable}});
  }
  bj::object o;
  o["digest"] = r.image.digest ? r.image.digest->str() : "";
  o["kind"] = KindName(c.kind);
  o["entrypoint"] = Strings(c.entrypoint);
  o["cmd"] = Strings(c.cmd);
  o["env"] = std::move(env);
  o["limits"] = bj::object{{"memory_bytes", c.limits.memory_bytes},
                           {"pids", c.limits.pids},
                           {"cpu_shares", c.limits.cpu_shares},
                           {"timeout_ms", c.limits.timeout_ms}};
  o["health"] = bj::object{{"path", c.health.path},
                           {"interval_ms", c.health.interval_ms},
                           {"timeout_ms", c.health.timeout_ms},
                           {"successes", c.health.successes}};
  o["network"] = NetworkName(c.network);
  o["volumes"] = std::move(volumes);
  if (!c.user.empty()) o["user"] = c.user;
  if (c.root) o["root"] = true;
  if (!c.syscalls.empty()) o["syscalls"] = Strings(c.syscalls);
  return o;
}

// A whole number member that fits T, or `fallback` when absent.
template <class T>
Result<T> Number(const json::ObjectView& o, std::string_view key, T fallback) {
  LS_ASSIGN_OR_RETURN(std::optional<uint64_t> n, o.OptionalUint(key));
  if (!n) return fallback;
  if (*n > std::numeric_limits<T>::max())
    return InvalidArgument(o.PathOf(key) + " is out of range");
  return static_cast<T>(*n);
}

}  // namespace

Result<UserIds> ParseUserIds(std::string_view user, std::string_view field) {
  std::vector<std::string_view> parts = Split(user, ':');
  std::optional<uint64_t> uid = ParseUint(parts[0]);
  std::optional<uint64_t> gid = parts.size() > 1 ? ParseUint(parts[1]) : uid;
  if (!uid || !gid || parts.size() > 2 || *uid > 0xfffffffe || *gid > 0xfffffffe) {
    return InvalidArgument(std::string(field) + " '" + std::string(user) + "' is not numeric",
                           "give a uid or uid:gid (user names would need the image's "
                           "/etc/passwd, which lockstep does not read)");
  }
  return UserIds{static_cast<uint32_t>(*uid), static_cast<uint32_t>(*gid)};
}

bool IsResourceName(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string_view KindName(ReleaseKind kind) {
  return kind == ReleaseKind::kService ? "service" : "function";
}

std::string_view NetworkName(NetworkGrant network) {
  return network == NetworkGrant::kHost ? "host" : "none";
}

Status Validate(const Release& r) {
  if (!r.image.digest) {
    return InvalidArgument("image " + r.image.str() + " is not pinned to a digest",
                           "a release names its image by digest (REPO@sha256:...)");
  }
  for (const auto& [name, value] : r.config.env) {
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
      return InvalidArgument("env name '" + name +
                             "' is not valid: it may not be empty or hold '='");
    }
    if (value.find('\0') != std::string::npos) {
      return InvalidArgument("env " + name + " holds a NUL byte");
    }
  }
  for (const VolumeGrant& g : r.config.volumes) {
    if (!IsResourceName(g.name)) {
      return InvalidArgument("volume name '" + g.name + "' is not valid",
                             "use 1-63 characters of a-z, 0-9 and '-', not starting with '-'");
    }
  }
  if (!r.config.user.empty()) {
    LS_ASSIGN_OR_RETURN(UserIds ids, ParseUserIds(r.config.user, "user"));
    if (ids.uid == 0 && !r.config.root) {
      return InvalidArgument("user '" + r.config.user + "' is root, which is not granted",
                             "grant root explicitly (root = true), or run as another uid");
    }
  }
  for (const std::string& name : r.config.syscalls) {
    bool ok = !name.empty() && name.size() <= 64;
    for (char ch : name)
      ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
    if (!ok) {
      return InvalidArgument("syscalls: '" + name + "' is not a system call name",
                             "name system calls as the kernel does (ptrace, io_uring_setup)");
    }
  }
  const Limits& l = r.config.limits;
  if (l.memory_bytes < (4u << 20)) return InvalidArgument("memory limit must be at least 4 MiB");
  if (l.pids == 0) return InvalidArgument("pids limit must be at least 1");
  if (l.cpu_shares < 2) return InvalidArgument("cpu shares must be at least 2");
  if (l.timeout_ms == 0) return InvalidArgument("timeout must be more than 0");
  const HealthCheck& h = r.config.health;
  if (h.path.empty() || h.path.front() != '/') {
    return InvalidArgument("health path '" + h.path + "' must start with '/'");
  }
  if (h.interval_ms == 0 || h.timeout_ms == 0 || h.successes == 0) {
    return InvalidArgument("health interval, timeout and successes must be more than 0");
  }
  return Status::Ok();
}

std::string ReleaseId(const Release& release) {
  std::string canonical = bj::serialize(IdentityObject(release));
  return "r" + DigestOf(canonical).hex().substr(0, 24);
}

std::string ToJson(const Release& release) {
  bj::object o = IdentityObject(release);
  o["image"] = release.image.str();
  return bj::serialize(o);
}

Result<Release> ReleaseFromJson(std::string_view text) {
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(text, "release"));
  LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
  Release r;
  Result<std::string> image = o.String("image");
  if (!image.ok()) return InvalidArgument("release has no image");
  LS_ASSIGN_OR_RETURN(r.image, ImageRef::Parse(*image, ""));
  ReleaseConfig& c = r.config;
  LS_ASSIGN_OR_RETURN(std::optional<std::string> kind, o.OptionalString("kind"));
  if (kind == "service") {
    c.kind = ReleaseKind::kService;
  } else if (kind && *kind != "function") {
    return InvalidArgument("kind must be \"function\" or \"service\"");
  }
  LS_ASSIGN_OR_RETURN(c.entrypoint, o.Strings("entrypoint"));
  LS_ASSIGN_OR_RETURN(c.cmd, o.Strings("cmd"));
  if (const bj::value* env = o.Raw("env"); env != nullptr) {
    if (!env->is_object()) return InvalidArgument("env must be an object");
    for (const auto& [k, val] : env->as_object()) {
      if (!val.is_string()) return InvalidArgument("env " + std::string(k) + " must be a string");
      c.env[std::string(k)] = std::string(val.as_string());
    }
  }
  LS_ASSIGN_OR_RETURN(std::optional<json::ObjectView> limits, o.OptionalObject("limits"));
  if (limits) {
    LS_ASSIGN_OR_RETURN(c.limits.memory_bytes,
                        Number<uint64_t>(*limits, "memory_bytes", c.limits.memory_bytes));
    LS_ASSIGN_OR_RETURN(c.limits.pids, Number<uint32_t>(*limits, "pids", c.limits.pids));
    LS_ASSIGN_OR_RETURN(c.limits.cpu_shares,
                        Number<uint32_t>(*limits, "cpu_shares", c.limits.cpu_shares));
    LS_ASSIGN_OR_RETURN(c.limits.timeout_ms,
                        Number<uint32_t>(*limits, "timeout_ms", c.limits.timeout_ms));
  }
  LS_ASSIGN_OR_RETURN(std::optional<json::ObjectView> health, o.OptionalObject("health"));
  if (health) {
    LS_ASSIGN_OR_RETURN(std::optional<std::string> path, health->OptionalString("path"));
    if (path) c.health.path = *path;
    LS_ASSIGN_OR_RETURN(c.health.interval_ms,
                        Number<uint32_t>(*health, "interval_ms", c.health.interval_ms));
    LS_ASSIGN_OR_RETURN(c.health.timeout_ms,
                        Number<uint32_t>(*health, "timeout_ms", c.health.timeout_ms));
    LS_ASSIGN_OR_RETURN(c.health.successes,
                        Number<uint32_t>(*health, "successes", c.health.successes));
  }
  LS_ASSIGN_OR_RETURN(std::optional<std::string> network, o.OptionalString("network"));
  if (network == "host") {
    c.network = NetworkGrant::kHost;
  } else if (network && *network != "none") {
    return InvalidArgument("network must be \"none\" or \"host\"");
  }
  LS_ASSIGN_OR_RETURN(std::optional<json::ArrayView> volumes, o.OptionalArray("volumes"));
  for (size_t i = 0; volumes && i < volumes->size(); ++i) {
    LS_ASSIGN_OR_RETURN(json::ObjectView g, volumes->ObjectAt(i));
    Result<std::string> name = g.String("name");
    if (!name.ok()) return InvalidArgument("each volume needs a name");
    LS_ASSIGN_OR_RETURN(std::optional<bool> writable, g.OptionalBool("writable"));
    c.volumes.push_back({*name, writable.value_or(false)});
  }
  LS_ASSIGN_OR_RETURN(std::optional<std::string> user, o.OptionalString("user"));
  c.user = user.value_or("");
  LS_ASSIGN_OR_RETURN(std::optional<bool> root, o.OptionalBool("root"));
  c.root = root.value_or(false);
  LS_ASSIGN_OR_RETURN(c.syscalls, o.Strings("syscalls"));
  LS_RETURN_IF_ERROR(Validate(r));
  return r;
}

}  // namespace lockstep
