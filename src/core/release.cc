#include "core/release.h"

#include <boost/json.hpp>

#include "core/digest.h"

namespace lockstep {

namespace json = boost::json;

namespace {

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

// The part of a release its id covers, in a fixed key order.
json::object IdentityObject(const Release& r) {
  const ReleaseConfig& c = r.config;
  json::object env;
  for (const auto& [k, v] : c.env) env[k] = v;
  json::array volumes;
  for (const VolumeGrant& g : c.volumes) {
    volumes.push_back(json::object{{"name", g.name}, {"writable", g.writable}});
  }
  json::object o;
  o["digest"] = r.image.digest ? r.image.digest->str() : "";
  o["kind"] = KindName(c.kind);
  o["entrypoint"] = Strings(c.entrypoint);
  o["cmd"] = Strings(c.cmd);
  o["env"] = std::move(env);
  o["limits"] = json::object{{"memory_bytes", c.limits.memory_bytes},
                             {"pids", c.limits.pids},
                             {"cpu_shares", c.limits.cpu_shares},
                             {"timeout_ms", c.limits.timeout_ms}};
  o["health"] = json::object{{"path", c.health.path},
                             {"interval_ms", c.health.interval_ms},
                             {"timeout_ms", c.health.timeout_ms},
                             {"successes", c.health.successes}};
  o["network"] = NetworkName(c.network);
  o["volumes"] = std::move(volumes);
  return o;
}

Result<std::vector<std::string>> StringArray(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return out;
  if (!v->is_array()) return InvalidArgument(std::string(key) + " must be an array of strings");
  for (const json::value& e : v->as_array()) {
    if (!e.is_string()) return InvalidArgument(std::string(key) + " must be an array of strings");
    out.emplace_back(e.as_string());
  }
  return out;
}

template <class T>
Result<T> Number(const json::object& o, std::string_view key, T fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (!v->is_number()) return InvalidArgument(std::string(key) + " must be a number");
  boost::system::error_code ec;
  auto n = v->to_number<T>(ec);
  if (ec) return InvalidArgument(std::string(key) + " is out of range");
  return n;
}

}  // namespace

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
  std::string canonical = json::serialize(IdentityObject(release));
  return "r" + DigestOf(canonical).hex().substr(0, 24);
}

std::string ToJson(const Release& release) {
  json::object o = IdentityObject(release);
  o["image"] = release.image.str();
  return json::serialize(o);
}

Result<Release> ReleaseFromJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return InvalidArgument("release is not a JSON object");
  const json::object& o = v.as_object();
  Release r;
  const json::value* image = o.if_contains("image");
  if (image == nullptr || !image->is_string()) return InvalidArgument("release has no image");
  LS_ASSIGN_OR_RETURN(r.image, ImageRef::Parse(std::string_view(image->as_string()), ""));
  ReleaseConfig& c = r.config;
  if (const json::value* k = o.if_contains("kind"); k != nullptr && k->is_string()) {
    if (k->as_string() == "service") {
      c.kind = ReleaseKind::kService;
    } else if (k->as_string() != "function") {
      return InvalidArgument("kind must be \"function\" or \"service\"");
    }
  }
  LS_ASSIGN_OR_RETURN(c.entrypoint, StringArray(o, "entrypoint"));
  LS_ASSIGN_OR_RETURN(c.cmd, StringArray(o, "cmd"));
  if (const json::value* env = o.if_contains("env"); env != nullptr) {
    if (!env->is_object()) return InvalidArgument("env must be an object");
    for (const auto& [k, val] : env->as_object()) {
      if (!val.is_string()) return InvalidArgument("env " + std::string(k) + " must be a string");
      c.env[std::string(k)] = std::string(val.as_string());
    }
  }
  static const json::object kEmpty;
  const json::value* limits = o.if_contains("limits");
  const json::object& lo = limits != nullptr && limits->is_object() ? limits->as_object() : kEmpty;
  LS_ASSIGN_OR_RETURN(c.limits.memory_bytes,
                      Number<uint64_t>(lo, "memory_bytes", c.limits.memory_bytes));
  LS_ASSIGN_OR_RETURN(c.limits.pids, Number<uint32_t>(lo, "pids", c.limits.pids));
  LS_ASSIGN_OR_RETURN(c.limits.cpu_shares, Number<uint32_t>(lo, "cpu_shares", c.limits.cpu_shares));
  LS_ASSIGN_OR_RETURN(c.limits.timeout_ms, Number<uint32_t>(lo, "timeout_ms", c.limits.timeout_ms));
  const json::value* health = o.if_contains("health");
  const json::object& ho = health != nullptr && health->is_object() ? health->as_object() : kEmpty;
  if (const json::value* p = ho.if_contains("path"); p != nullptr && p->is_string()) {
    c.health.path = std::string(p->as_string());
  }
  LS_ASSIGN_OR_RETURN(c.health.interval_ms,
                      Number<uint32_t>(ho, "interval_ms", c.health.interval_ms));
  LS_ASSIGN_OR_RETURN(c.health.timeout_ms, Number<uint32_t>(ho, "timeout_ms", c.health.timeout_ms));
  LS_ASSIGN_OR_RETURN(c.health.successes, Number<uint32_t>(ho, "successes", c.health.successes));
  if (const json::value* n = o.if_contains("network"); n != nullptr && n->is_string()) {
    if (n->as_string() == "host") {
      c.network = NetworkGrant::kHost;
    } else if (n->as_string() != "none") {
      return InvalidArgument("network must be \"none\" or \"host\"");
    }
  }
  if (const json::value* vols = o.if_contains("volumes"); vols != nullptr) {
    if (!vols->is_array()) return InvalidArgument("volumes must be an array");
    for (const json::value& g : vols->as_array()) {
      if (!g.is_object() || !g.as_object().contains("name") ||
          !g.as_object().at("name").is_string()) {
        return InvalidArgument("each volume needs a name");
      }
      const json::value* w = g.as_object().if_contains("writable");
      c.volumes.push_back({std::string(g.as_object().at("name").as_string()),
                           w != nullptr && w->is_bool() && w->as_bool()});
    }
  }
  LS_RETURN_IF_ERROR(Validate(r));
  return r;
}

}  // namespace lockstep
