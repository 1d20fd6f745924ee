// The effective release of a service in an environment (the Reader of reader.h).
#include <cmath>

#include "core/digest.h"
#include "core/names.h"
#include "deploy/reader.h"
#include "deploy/schedule.h"

namespace lockstep::deploy::reading {

std::optional<DeployedService> Reader::Effective(const Environment& environment,
                                                 const std::string& service, Layer pin,
                                                 Layer service_layer) {
  size_t before = problems_.size();
  const std::string& pin_file = *pin.file;
  DeployedService d;
  d.service = service;
  Release& r = d.release;
  ReleaseConfig& c = r.config;
  CheckSections(pin);  // the service file's were checked once, when it was read

  // The pin.
  r.image.registry = repo_.registry == "embedded" ? embedded_ : repo_.registry;
  r.image.repository = service_layer.table->get("image")
                           ? service_layer.table->get("image")->value_or<std::string>("")
                           : "";
  if (const toml::node* v = pin.table->get("version")) {
    if (auto version = String(pin_file, *v, "version", "\"1.4.2\"")) {
      if (!ValidateTag(*version).ok()) {
        Add(pin_file, v->source(),
            "version " + Quote(*version) +
                " is not a tag: up to 128 of letters, digits, '_', '.' and '-', not starting "
                "with '.' or '-', e.g. \"1.4.2\"");
      }
      d.version = *version;
      r.image.tag = *version;
    }
  } else {
    AddFile(pin_file,
            "version is missing: set version to the tag people know the release "
            "by, e.g. version = \"1.4.2\"");
  }
  if (const toml::node* node = pin.table->get("digest")) {
    if (auto text = String(pin_file, *node, "digest", "\"sha256:<64 hex digits>\"")) {
      Result<Digest> digest = Digest::Parse(*text);
      if (!digest.ok() || digest->algorithm() != DigestAlgorithm::kSha256) {
        Add(pin_file, node->source(),
            "digest " + Quote(*text) +
                " must be \"sha256:\" and 64 lowercase hex digits: the digest of the image "
                "manifest this environment runs (lockstep pack prints it)");
      } else {
        r.image.digest = *digest;
      }
    }
  } else {
    AddFile(pin_file,
            "digest is missing: pin the image manifest this environment runs, e.g. digest = "
            "\"sha256:…\" (lockstep pack --push prints it; a tag alone can move)");
  }

  // What the service is.
  std::string kind = service_layer.table->get("kind")
                         ? service_layer.table->get("kind")->value_or<std::string>("")
                         : "";
  c.kind = kind == "function" ? ReleaseKind::kFunction : ReleaseKind::kService;
  if (Found f = Lookup(pin, service_layer, "", "entrypoint")) {
    if (auto v = StringArray(*f.file, *f.node, "entrypoint", "[\"/bin/api\"]")) c.entrypoint = *v;
  }
  if (Found f = Lookup(pin, service_layer, "", "command")) {
    if (auto v = StringArray(*f.file, *f.node, "command", "[\"--port\", \"8080\"]")) c.cmd = *v;
  }
  if (Found f = Lookup(pin, service_layer, "", "user")) {
    if (auto u = String(*f.file, *f.node, "user", "\"1000\" or \"1000:1000\"")) {
      if (!ParseUserIds(*u, "user").ok()) {
        Add(*f.file, f.node->source(),
            "user " + Quote(*u) + " must be a numeric uid or uid:gid, e.g. \"1000:1000\"");
      }
      c.user = *u;
    }
  }

  // Environment variables: the service file's, then the environment file's over them.
  for (Layer layer : {service_layer, pin}) {
    const toml::node* env = layer.table->get("env");
    const toml::table* table = env ? env->as_table() : nullptr;
    if (table == nullptr) continue;
    for (auto&& [key, node] : *table) {
      std::string name(key.str());
      if (!IsPortableEnvName(name)) {
        Add(*layer.file, key.source(),
            "env var name " + Quote(name) +
                " is not portable: use letters, digits and '_', not starting with a digit, "
                "e.g. \"LOG_LEVEL\"");
        continue;
      }
      std::optional<std::string> value = node.value_exact<std::string>();
      if (!value) {
        Add(*layer.file, node.source(),
            "env var " + name + " must be a string (environment variables are text), e.g. " + name +
                " = \"" + (node.is_number() || node.is_boolean() ? "…" : "value") + "\"");
        continue;
      }
      if (value->find('\0') != std::string::npos) {
        Add(*layer.file, node.source(), "env var " + name + " holds a NUL character");
        continue;
      }
      c.env[name] = *value;
    }
  }

  // Limits.
  if (Found f = Lookup(pin, service_layer, "limits", "memory")) {
    if (auto text = String(*f.file, *f.node, "memory", "\"256Mi\"")) {
      std::optional<uint64_t> bytes = MemoryBytes(*text);
      if (!bytes) {
        Add(*f.file, f.node->source(),
            "memory " + Quote(*text) + ": use Mi or Gi, e.g. \"128Mi\" (at least 4Mi)");
      } else {
        c.limits.memory_bytes = *bytes;
      }
    }
  }
  if (Found f = Lookup(pin, service_layer, "limits", "cpu")) {
    std::optional<double> cores = f.node->value<double>();
    if (!cores || !std::isfinite(*cores) || *cores < 0.01 || *cores > 1024) {
      Add(*f.file, f.node->source(),
          "cpu must be a number of cores from 0.01 to 1024, e.g. cpu = 0.5");
    } else {
      c.limits.cpu_shares = static_cast<uint32_t>(std::lround(*cores * 1024));
    }
  }
  if (Found f = Lookup(pin, service_layer, "limits", "pids")) {
    if (auto n = Integer(*f.file, *f.node, "pids", 1, 1 << 22)) c.limits.pids = *n;
  }
  if (Found f = Lookup(pin, service_layer, "limits", "timeout")) {
    if (auto ms = Duration(*f.file, *f.node, "timeout", true, 86400)) {
      if (*ms == 0) {
        Add(*f.file, f.node->source(), "timeout must be more than 0, e.g. \"30s\"");
      } else {
        c.limits.timeout_ms = static_cast<uint32_t>(*ms);
      }
    }
  }

  // Grants.
  if (Found f = Lookup(pin, service_layer, "grants", "network")) {
    if (auto n = String(*f.file, *f.node, "network", "\"host\"")) {
      if (*n == "none") {
        c.network = NetworkGrant::kNone;
      } else if (*n == "host") {
        c.network = NetworkGrant::kHost;
      } else {
        Add(*f.file, f.node->source(),
            "network " + Quote(*n) +
                " must be \"none\" (loopback of its own only) or \"host\" (the host's network)");
      }
    }
  }
  if (Found f = Lookup(pin, service_layer, "grants", "root")) {
    if (auto b = Bool(*f.file, *f.node, "root")) c.root = *b;
  }
  if (Found f = Lookup(pin, service_layer, "grants", "syscalls")) {
    if (auto v = StringArray(*f.file, *f.node, "syscalls", "[\"ptrace\"]")) c.syscalls = *v;
  }
  std::map<std::string, bool> volumes;  // name → writable; the environment file's win
  for (Layer layer : {service_layer, pin}) {
    const toml::table* grants = (*layer.table)["grants"].as_table();
    const toml::node* node = grants ? grants->get("volumes") : nullptr;
    if (node == nullptr) continue;
    const toml::table* table = node->as_table();
    if (table == nullptr) {
      Add(*layer.file, node->source(),
          "volumes must be a table of volume = \"ro\" or \"rw\", e.g. volumes = { uploads = "
          "\"rw\" }");
      continue;
    }
    for (auto&& [key, mode] : *table) {
      std::string name(key.str());
      std::optional<std::string> m = mode.value_exact<std::string>();
      if (!m || (*m != "ro" && *m != "rw")) {
        Add(*layer.file, mode.source(),
            "volume " + name + " must be granted \"ro\" (read-only) or \"rw\" (read-write)");
        continue;
      }
      if (std::find(environment.volumes.begin(), environment.volumes.end(), name) ==
          environment.volumes.end()) {
        Add(*layer.file, key.source(),
            "volume " + Quote(name) + " is not owned by environment " + environment.name +
                (environment.volumes.empty()
                     ? " (it owns none)"
                     : " (it owns " + JoinStrings(environment.volumes) + ")") +
                ": add it to the environment's volumes in lockstep.toml, or remove the grant");
        continue;
      }
      volumes[name] = *m == "rw";
    }
  }
  for (const auto& [name, writable] : volumes) c.volumes.push_back({name, writable});

  // Services: port, drain, health. Functions: schedule.
  const bool is_service = c.kind == ReleaseKind::kService;
  for (std::string_view key : {"port", "drain", "health"}) {
    Found f = Lookup(pin, service_layer, "service", key);
    if (f && !is_service) {
      Add(*f.file, f.node->source(),
          "[service] " + std::string(key) + " is for services, and " + service +
              " is a function: remove it");
    }
  }
  if (Found f = Lookup(pin, service_layer, "", "schedule")) {
    if (is_service) {
      Add(*f.file, f.node->source(),
          "schedule is for functions, and " + service + " is a service: remove it");
    } else if (auto text = String(*f.file, *f.node, "schedule", "\"*/15 * * * *\"")) {
      if (Result<Cron> cron = ParseCron(*text); !cron.ok()) {
        Add(*f.file, f.node->source(), cron.status().message());
      } else {
        d.schedule = *text;
      }
    }
  }
  if (is_service) {
    if (Found f = Lookup(pin, service_layer, "service", "port")) {
      if (auto p = Integer(*f.file, *f.node, "port", 1, 65535)) {
        d.public_port = static_cast<uint16_t>(*p);
      }
    } else {
      AddFile(pin_file, "service " + service +
                            " has no public port: set [service] port = 8080 (any free port) "
                            "in this file");
    }
    if (Found f = Lookup(pin, service_layer, "service", "drain")) {
      if (auto ms = Duration(*f.file, *f.node, "drain", true, 3600)) d.drain_ms = *ms;
    }
    for (Layer layer : {pin, service_layer}) {
      const toml::table* s = (*layer.table)["service"].as_table();
      if (s == nullptr) continue;
      if (const toml::table* h = Table(*layer.file, *s, "health", "health = { path = \"/\" }")) {
        CheckKeys(*layer.file, *h, kHealthKeys, "[service.health]");
      }
    }
    // Key by key, as every table: the service file's check, then the environment's keys.
    for (Layer layer : {service_layer, pin}) {
      const toml::table* s = (*layer.table)["service"].as_table();
      const toml::table* h = s ? (*s)["health"].as_table() : nullptr;
      if (h != nullptr) ReadHealth(*layer.file, *h, c.health);
    }
  }

  if (problems_.size() != before) return std::nullopt;
  // What no runtime could run, checked once more as the runtime will.
  if (Status s = Validate(r); !s.ok()) {
    AddFile(pin_file, s.message());
    return std::nullopt;
  }
  return d;
}

void Reader::ReadHealth(const std::string& file, const toml::table& h, HealthCheck& health) {
  if (const toml::node* node = h.get("path")) {
    if (auto p = String(file, *node, "path", "\"/healthz\"")) {
      if (p->empty() || (*p)[0] != '/' || std::any_of(p->begin(), p->end(), [](char ch) {
            return static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f;
          })) {
        Add(file, node->source(),
            "health path " + Quote(*p) +
                " must start with '/' and hold no spaces, e.g. "
                "\"/healthz\"");
      } else {
        health.path = *p;
      }
    }
  }
  for (std::string_view key : {"interval", "timeout"}) {
    const toml::node* node = h.get(key);
    if (node == nullptr) continue;
    std::optional<int64_t> ms = Duration(file, *node, key, true, 3600);
    if (!ms) continue;
    if (*ms == 0) {
      Add(file, node->source(), "health " + std::string(key) + " must be more than 0, e.g. \"1s\"");
      continue;
    }
    (key == "interval" ? health.interval_ms : health.timeout_ms) = static_cast<uint32_t>(*ms);
  }
  if (const toml::node* node = h.get("successes")) {
    if (auto n = Integer(file, *node, "successes", 1, 100))
      health.successes = static_cast<uint32_t>(*n);
  }
}

}  // namespace lockstep::deploy::reading
