#include "deploy/repo.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "base/strings.h"
#include "core/digest.h"
#include "core/names.h"
#include "deploy/schedule.h"

namespace lockstep::deploy {

std::string Problem::str() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const Environment* DeployRepo::Find(std::string_view environment) const {
  for (const Environment& e : environments) {
    if (e.name == environment) return &e;
  }
  return nullptr;
}

namespace {

constexpr std::string_view kTop = "lockstep.toml";

// The keys each table of the format may hold.
const std::vector<std::string_view> kTopKeys = {"registry", "environment"};
const std::vector<std::string_view> kEnvironmentKeys = {
    "name", "target",    "promote_from", "approval",
    "soak", "self_heal", "volumes",      "rollback_window"};
const std::vector<std::string_view> kServiceKeys = {"kind",   "image",    "entrypoint", "command",
                                                    "user",   "schedule", "env",        "limits",
                                                    "grants", "service"};
const std::vector<std::string_view> kPinKeys = {"version", "digest", "command", "schedule",
                                                "env",     "limits", "grants",  "service"};
// Keys of a service file an environment file may not change: what the service is.
const std::vector<std::string_view> kIdentityKeys = {"kind", "image", "entrypoint", "user"};
const std::vector<std::string_view> kLimitKeys = {"memory", "cpu", "pids", "timeout"};
const std::vector<std::string_view> kGrantKeys = {"network", "volumes", "root", "syscalls"};
const std::vector<std::string_view> kServiceTableKeys = {"port", "drain", "health"};
const std::vector<std::string_view> kHealthKeys = {"path", "interval", "timeout", "successes"};

// "30 days", "1 hour": a limit as people say it.
std::string Span(int64_t seconds) {
  auto unit = [](int64_t n, const char* one) {
    return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
  };
  if (seconds % 86400 == 0) return unit(seconds / 86400, "day");
  if (seconds % 3600 == 0) return unit(seconds / 3600, "hour");
  return unit(seconds, "second");
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

// Files a repository may hold beside the format's own: notes for people (*.md) and
// dotfiles (.gitkeep). They are not read.
bool IsNotForLockstep(std::string_view path) {
  std::string_view name = path.substr(path.rfind('/') + 1);
  return name.ends_with(".md") || StartsWith(name, ".");
}

bool IsPortableEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A table of one file, and where it came from: the layers of an effective release are the
// environment file over the service file.
struct Layer {
  const std::string* file = nullptr;
  const toml::table* table = nullptr;
};

// A value found in a layer.
struct Found {
  const std::string* file = nullptr;
  const toml::node* node = nullptr;
  explicit operator bool() const { return node != nullptr; }
};

class Reader {
 public:
  Reader(const RepoFiles& files, std::string_view embedded) : files_(files), embedded_(embedded) {}

  ReadResult Run() {
    ReadTop();
    std::set<std::string> services = ReadServiceFiles();
    // Without environments, the environment files cannot be checked: each would be
    // reported as naming an unknown environment.
    if (!repo_.environments.empty()) ReadEnvironmentFiles(services);
    std::sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::tie(a.file, a.line, a.column, a.message) <
             std::tie(b.file, b.line, b.column, b.message);
    });
    // A service file's problem is found again in each environment that deploys it.
    problems_.erase(std::unique(problems_.begin(), problems_.end()), problems_.end());
    ReadResult result;
    if (problems_.empty()) {
      result.repo = std::move(repo_);
    } else {
      result.problems = std::move(problems_);
    }
    return result;
  }

 private:
  // --- problems -----------------------------------------------------------------------
  void Add(const std::string& file, const toml::source_region& at, std::string message) {
    problems_.push_back({file, at.begin.line, at.begin.column, std::move(message)});
  }
  void AddFile(const std::string& file, std::string message) {
    problems_.push_back({file, 0, 0, std::move(message)});
  }

  // Parses one file; a syntax error is a problem and yields nothing.
  std::optional<toml::table> Parse(const std::string& file) {
    auto it = files_.find(file);
    if (it == files_.end()) return std::nullopt;
    try {
      return toml::parse(it->second, file);
    } catch (const toml::parse_error& e) {
      Add(file, e.source(), std::string(e.description()));
      return std::nullopt;
    }
  }

  // Every key of `table` must be one of `known`; `where` names the table for people.
  void CheckKeys(const std::string& file, const toml::table& table,
                 const std::vector<std::string_view>& known, std::string_view where,
                 const std::vector<std::string_view>* not_checked = nullptr) {
    for (auto&& [key, node] : table) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      if (not_checked != nullptr &&
          std::find(not_checked->begin(), not_checked->end(), key.str()) != not_checked->end())
        continue;
      std::string message =
          "unknown key " + Quote(key.str()) + (where.empty() ? "" : " in " + std::string(where));
      std::string_view best;
      size_t best_distance = 3;
      for (std::string_view k : known) {
        size_t d = EditDistance(key.str(), k);
        if (d < best_distance) {
          best_distance = d;
          best = k;
        }
      }
      message += best.empty() ? " (known keys: " + Join(known) + ")"
                              : ": did you mean " + Quote(best) + "?";
      Add(file, key.source(), message);
    }
  }

  // --- typed values -------------------------------------------------------------------
  std::optional<std::string> String(const std::string& file, const toml::node& node,
                                    std::string_view key, std::string_view example) {
    if (std::optional<std::string> s = node.value_exact<std::string>()) return s;
    Add(file, node.source(), std::string(key) + " must be a string, e.g. " + std::string(example));
    return std::nullopt;
  }

  std::optional<bool> Bool(const std::string& file, const toml::node& node, std::string_view key) {
    if (std::optional<bool> b = node.value_exact<bool>()) return b;
    Add(file, node.source(), std::string(key) + " must be true or false");
    return std::nullopt;
  }

  std::optional<int64_t> Integer(const std::string& file, const toml::node& node,
                                 std::string_view key, int64_t low, int64_t high) {
    std::optional<int64_t> n = node.value_exact<int64_t>();
    if (n && *n >= low && *n <= high) return n;
    Add(file, node.source(),
        std::string(key) + " must be a whole number from " + std::to_string(low) + " to " +
            std::to_string(high));
    return std::nullopt;
  }

  // A duration such as "90s"; `millis` also takes "250ms".
  std::optional<int64_t> Duration(const std::string& file, const toml::node& node,
                                  std::string_view key, bool millis, int64_t max_seconds) {
    std::optional<std::string> text = node.value_exact<std::string>();
    std::optional<int64_t> v;
    if (text) v = millis ? ParseDurationMillis(*text) : ParseDurationSeconds(*text);
    int64_t max = millis ? max_seconds * 1000 : max_seconds;
    if (v && *v >= 0 && *v <= max) return v;
    std::string shown = text ? Quote(*text) : "";
    Add(file, node.source(),
        std::string(key) + (shown.empty() ? "" : " " + shown) + " must be a duration such as " +
            (millis ? "\"500ms\", \"30s\" or \"5m\"" : "\"30s\", \"10m\" or \"24h\"") +
            " (at most " + Span(max_seconds) + ")");
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> StringArray(const std::string& file,
                                                      const toml::node& node, std::string_view key,
                                                      std::string_view example) {
    const toml::array* array = node.as_array();
    std::vector<std::string> out;
    bool ok = array != nullptr;
    if (array != nullptr) {
      for (const toml::node& item : *array) {
        std::optional<std::string> s = item.value_exact<std::string>();
        if (!s) {
          ok = false;
          break;
        }
        out.push_back(*s);
      }
    }
    if (ok) return out;
    Add(file, node.source(),
        std::string(key) + " must be a list of strings, e.g. " + std::string(example));
    return std::nullopt;
  }

  const toml::table* Table(const std::string& file, const toml::table& parent, std::string_view key,
                           std::string_view example) {
    const toml::node* node = parent.get(key);
    if (node == nullptr) return nullptr;
    if (const toml::table* t = node->as_table()) return t;
    Add(file, node->source(), std::string(key) + " must be a table, e.g. " + std::string(example));
    return nullptr;
  }

  // --- lockstep.toml ------------------------------------------------------------------
  void ReadTop() {
    const std::string top(kTop);
    if (!files_.contains(top)) {
      AddFile(top,
              "not found: a deploy repository has lockstep.toml at its root, naming its "
              "registry and its environments (see docs/deploy-repo.md)");
      return;
    }
    std::optional<toml::table> doc = Parse(top);
    if (!doc) return;
    CheckKeys(top, *doc, kTopKeys, "");
    repo_.registry = "embedded";
    if (const toml::node* node = doc->get("registry")) {
      if (std::optional<std::string> r =
              String(top, *node, "registry", "\"embedded\" or \"registry.example:5000\"")) {
        ReadRegistry(top, *node, *r);
      }
    }
    const toml::node* envs = doc->get("environment");
    const toml::array* list = envs ? envs->as_array() : nullptr;
    if (envs == nullptr || list == nullptr || list->empty() || !list->is_array_of_tables()) {
      if (envs == nullptr) {
        AddFile(top,
                "no environments: add one [[environment]] table per environment, in "
                "promotion order, e.g. [[environment]] name = \"dev\"");
      } else {
        Add(top, envs->source(),
            "environment must be [[environment]] tables, one per environment, in promotion "
            "order");
      }
      return;
    }
    for (const toml::node& node : *list) {
      if (auto n = (*node.as_table())["name"].value_exact<std::string>()) listed_.push_back(*n);
    }
    for (const toml::node& node : *list) ReadEnvironment(top, *node.as_table());
  }

  void ReadRegistry(const std::string& file, const toml::node& node, std::string registry) {
    if (registry == "embedded") {
      repo_.registry = registry;
      return;
    }
    for (std::string_view scheme : {"https://", "http://"}) {
      if (StartsWith(registry, scheme)) registry.erase(0, scheme.size());
    }
    if (!registry.empty() && registry.back() == '/') registry.pop_back();
    bool ok = !registry.empty() && std::all_of(registry.begin(), registry.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
             c == '[' || c == ']';
    });
    if (!ok) {
      Add(file, node.source(),
          "registry " + Quote(registry) +
              " must be \"embedded\" (lockstep's own) or a registry's host and port, e.g. "
              "\"registry.example:5000\"");
      return;
    }
    repo_.registry = registry;
  }

  void ReadEnvironment(const std::string& file, const toml::table& t) {
    CheckKeys(file, t, kEnvironmentKeys, "[[environment]]");
    Environment env;
    const toml::node* name = t.get("name");
    if (name == nullptr) {
      Add(file, t.source(), "an [[environment]] needs a name, e.g. name = \"dev\"");
      return;
    }
    std::optional<std::string> n = String(file, *name, "name", "\"dev\"");
    if (!n) return;
    if (!IsResourceName(*n)) {
      Add(file, name->source(),
          "environment name " + Quote(*n) +
              " must be 1-63 of a-z, 0-9 and '-', not starting with '-', e.g. \"prod-eu\"");
      return;
    }
    if (repo_.Find(*n) != nullptr) {
      Add(file, name->source(), "environment " + Quote(*n) + " is named twice");
      return;
    }
    env.name = *n;
    if (const toml::node* node = t.get("target")) {
      if (std::optional<std::string> target = String(file, *node, "target", "\"local\"")) {
        if (*target != "local") {
          Add(file, node->source(),
              "target " + Quote(*target) +
                  " is not known: \"local\" (this host) is the one "
                  "target there is");
        }
        env.target = *target;
      }
    }
    if (const toml::node* node = t.get("promote_from")) {
      if (std::optional<std::string> from = String(file, *node, "promote_from", "\"dev\"")) {
        if (repo_.Find(*from) == nullptr) {
          bool later = std::find(listed_.begin(), listed_.end(), *from) != listed_.end();
          Add(file, node->source(),
              "promote_from " + Quote(*from) +
                  (*from == env.name ? " is this environment itself"
                   : later           ? " comes later in the list: an environment promotes from "
                                       "one listed before it"
                                     : " is not an environment of this file") +
                  (repo_.environments.empty()
                       ? ""
                       : " (environments before it: " + EnvironmentNames() + ")"));
        } else {
          env.promote_from = *from;
        }
      }
    }
    if (const toml::node* node = t.get("approval")) {
      if (std::optional<std::string> a = String(file, *node, "approval", "\"required\"")) {
        if (*a == "none") {
          env.approval = Approval::kNone;
        } else if (*a == "required") {
          env.approval = Approval::kRequired;
        } else {
          Add(file, node->source(), "approval " + Quote(*a) + " must be \"none\" or \"required\"");
        }
      }
    }
    if (const toml::node* node = t.get("soak")) {
      if (auto s = Duration(file, *node, "soak", false, 30 * 86400)) env.soak_seconds = *s;
    }
    if (const toml::node* node = t.get("rollback_window")) {
      if (auto s = Duration(file, *node, "rollback_window", false, 90 * 86400))
        env.rollback_window_seconds = *s;
    }
    if (const toml::node* node = t.get("self_heal")) {
      if (auto b = Bool(file, *node, "self_heal")) env.self_heal = *b;
    }
    if (const toml::node* node = t.get("volumes")) {
      if (auto v = StringArray(file, *node, "volumes", "[\"uploads\", \"cache\"]")) {
        for (const std::string& volume : *v) {
          if (!IsResourceName(volume)) {
            Add(file, node->source(),
                "volume name " + Quote(volume) +
                    " must be 1-63 of a-z, 0-9 and '-', not starting with '-'");
          } else if (std::find(env.volumes.begin(), env.volumes.end(), volume) !=
                     env.volumes.end()) {
            Add(file, node->source(), "volume " + Quote(volume) + " is listed twice");
          } else {
            env.volumes.push_back(volume);
          }
        }
      }
    }
    repo_.environments.push_back(std::move(env));
  }

  std::string EnvironmentNames() const {
    std::string out;
    for (const Environment& e : repo_.environments) out += (out.empty() ? "" : ", ") + e.name;
    return out;
  }

  // --- services/ ----------------------------------------------------------------------
  std::map<std::string, toml::table> service_docs_;

  std::set<std::string> ReadServiceFiles() {
    std::set<std::string> services;
    for (const auto& [path, contents] : files_) {
      if (!StartsWith(path, "services/") || IsNotForLockstep(path)) continue;
      std::string rest = path.substr(9);
      if (!rest.ends_with(".toml") || rest.find('/') != std::string::npos) {
        AddFile(path,
                "not part of the format: services/ holds one SERVICE.toml per service, "
                "nothing else");
        continue;
      }
      std::string name = rest.substr(0, rest.size() - 5);
      if (!IsResourceName(name)) {
        AddFile(path, "service name " + Quote(name) +
                          " (the file's name) must be 1-63 of a-z, 0-9 and '-', not starting "
                          "with '-'");
        continue;
      }
      std::optional<toml::table> doc = Parse(path);
      services.insert(name);
      if (!doc) continue;
      CheckKeys(path, *doc, kServiceKeys, "");
      CheckSections({&ServiceFile(name), &*doc});
      // Without a kind and an image, nothing of it can be read per environment.
      if (CheckServiceFile(path, *doc)) service_docs_.emplace(name, std::move(*doc));
    }
    return services;
  }

  // What a service file must say whatever the environment; false when it does not.
  bool CheckServiceFile(const std::string& file, const toml::table& doc) {
    size_t before = problems_.size();
    const toml::node* kind = doc.get("kind");
    if (kind == nullptr) {
      AddFile(file,
              "kind is missing: set kind = \"service\" (an HTTP service behind the proxy) "
              "or kind = \"function\" (one container per invocation)");
    } else if (auto k = String(file, *kind, "kind", "\"service\"");
               k && *k != "service" && *k != "function") {
      Add(file, kind->source(), "kind " + Quote(*k) + " must be \"service\" or \"function\"");
    }
    const toml::node* image = doc.get("image");
    if (image == nullptr) {
      AddFile(file,
              "image is missing: set image to the repository the pins refer to, e.g. "
              "image = \"shop/api\"");
    } else if (auto i = String(file, *image, "image", "\"shop/api\"")) {
      if (Status s = ValidateRepositoryName(*i); !s.ok()) {
        Add(file, image->source(),
            "image " + Quote(*i) +
                " is not a repository name: lowercase letters, digits and . _ - separated by "
                "'/', e.g. \"shop/api\" (no registry host and no tag: the host is "
                "lockstep.toml's registry, the pin is per environment)");
      }
    }
    return problems_.size() == before;
  }

  // --- environments/ ------------------------------------------------------------------
  void ReadEnvironmentFiles(const std::set<std::string>& services) {
    std::set<std::string> deployed_services;
    std::set<std::string> unknown_environments;
    // public port → who has it (targets of one host share its ports)
    std::map<uint16_t, std::string> ports;
    for (const auto& [path, contents] : files_) {
      if (!StartsWith(path, "environments/") || IsNotForLockstep(path)) continue;
      std::vector<std::string_view> parts = Split(std::string_view(path).substr(13), '/');
      if (parts.size() != 2 || !parts[1].ends_with(".toml")) {
        AddFile(path,
                "not part of the format: environments/ holds ENV/SERVICE.toml files, nothing "
                "else");
        continue;
      }
      std::string env(parts[0]);
      std::string service(parts[1].substr(0, parts[1].size() - 5));
      const Environment* environment = repo_.Find(env);
      if (environment == nullptr) {
        // One lockstep.toml lists but could not read has been reported there.
        bool listed = std::find(listed_.begin(), listed_.end(), env) != listed_.end();
        if (listed) deployed_services.insert(service);
        if (!listed && unknown_environments.insert(env).second) {
          AddFile(path,
                  "environments/" + env + "/: " + Quote(env) +
                      " is not an environment of lockstep.toml" +
                      (repo_.environments.empty() ? "" : " (it has " + EnvironmentNames() + ")") +
                      ": add it there or remove the directory");
        }
        continue;
      }
      if (!services.contains(service)) {
        AddFile(path, "there is no services/" + service +
                          ".toml: every deployed service is "
                          "described there once, for all environments");
        continue;
      }
      deployed_services.insert(service);
      std::optional<toml::table> doc = Parse(path);
      auto service_doc = service_docs_.find(service);
      if (!doc || service_doc == service_docs_.end()) continue;
      CheckKeys(path, *doc, kPinKeys, "", &kIdentityKeys);  // those have a message of their own
      for (std::string_view identity : kIdentityKeys) {
        if (const toml::node* node = doc->get(identity)) {
          Add(path, node->source(),
              std::string(identity) + " is what " + service +
                  " is everywhere: set it in services/" + service + ".toml, not per environment");
        }
      }
      Layer pin{&path, &*doc};
      Layer described{&ServiceFile(service), &service_doc->second};
      std::optional<DeployedService> deployed = Effective(*environment, service, pin, described);
      if (!deployed) continue;
      if (deployed->release.config.kind == ReleaseKind::kService) {
        auto [it, fresh] = ports.emplace(deployed->public_port, env + "/" + service);
        if (!fresh) {
          Found port = Lookup(pin, described, "service", "port");
          Add(*port.file, port.node->source(),
              "public port " + std::to_string(deployed->public_port) + " of " + env + "/" +
                  service + " is already " + it->second +
                  "'s: each service of each environment on a host needs a port of its own "
                  "(set [service] port in " +
                  path + ")");
          continue;
        }
      }
      repo_.deployed[env][service] = std::move(*deployed);
    }
    for (const std::string& service : services) {
      if (!deployed_services.contains(service)) {
        AddFile(ServiceFile(service), "no environment deploys " + service +
                                          ": add environments/ENV/" + service +
                                          ".toml to pin it in an environment, or remove this file");
      }
    }
  }

  std::string& ServiceFile(const std::string& service) {
    auto [it, fresh] = service_files_.emplace(service, "services/" + service + ".toml");
    return it->second;
  }
  std::map<std::string, std::string> service_files_;

  // The value of `key` in the sub-table `section` ("" for the top level): the environment
  // file's when it sets one, else the service file's.
  Found Lookup(Layer pin, Layer service, std::string_view section, std::string_view key) {
    for (Layer layer : {pin, service}) {
      const toml::table* table = layer.table;
      if (!section.empty()) {
        const toml::node* s = table->get(section);
        table = s ? s->as_table() : nullptr;
      }
      if (table == nullptr) continue;
      if (const toml::node* node = table->get(key)) return {layer.file, node};
    }
    return {};
  }

  // The shape of a layer's sections: tables with known keys.
  void CheckSections(Layer layer) {
    CheckSection(layer, "limits", kLimitKeys, "[limits] memory = \"256Mi\"");
    CheckSection(layer, "grants", kGrantKeys, "[grants] network = \"host\"");
    CheckSection(layer, "service", kServiceTableKeys, "[service] port = 8080");
    Table(*layer.file, *layer.table, "env", "[env] LOG_LEVEL = \"info\"");
  }

  // Checks the shape of one section of a layer: a table with known keys.
  void CheckSection(Layer layer, std::string_view section,
                    const std::vector<std::string_view>& known, std::string_view example) {
    if (const toml::table* t = Table(*layer.file, *layer.table, section, example)) {
      CheckKeys(*layer.file, *t, known, "[" + std::string(section) + "]");
    }
  }

  std::optional<DeployedService> Effective(const Environment& environment,
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
              "env var " + name + " must be a string (environment variables are text), e.g. " +
                  name + " = \"" + (node.is_number() || node.is_boolean() ? "…" : "value") + "\"");
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

  void ReadHealth(const std::string& file, const toml::table& h, HealthCheck& health) {
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
        Add(file, node->source(),
            "health " + std::string(key) + " must be more than 0, e.g. \"1s\"");
        continue;
      }
      (key == "interval" ? health.interval_ms : health.timeout_ms) = static_cast<uint32_t>(*ms);
    }
    if (const toml::node* node = h.get("successes")) {
      if (auto n = Integer(file, *node, "successes", 1, 100))
        health.successes = static_cast<uint32_t>(*n);
    }
  }

  static std::string JoinStrings(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
    return out;
  }

  // "128Mi", "1Gi", "512Ki": Kubernetes' binary suffixes, at least 4 MiB.
  static std::optional<uint64_t> MemoryBytes(std::string_view text) {
    uint64_t unit = 0;
    if (text.ends_with("Ki")) unit = 1ull << 10;
    if (text.ends_with("Mi")) unit = 1ull << 20;
    if (text.ends_with("Gi")) unit = 1ull << 30;
    if (unit == 0) return std::nullopt;
    std::optional<uint64_t> n = ParseUint(text.substr(0, text.size() - 2));
    if (!n || *n == 0 || *n > (1ull << 44) / unit) return std::nullopt;
    uint64_t bytes = *n * unit;
    if (bytes < (4ull << 20)) return std::nullopt;
    return bytes;
  }

  const RepoFiles& files_;
  std::string embedded_;
  std::vector<std::string> listed_;  // the environments' names, in lockstep.toml's order
  DeployRepo repo_;
  std::vector<Problem> problems_;
};

}  // namespace

ReadResult ReadRepo(const RepoFiles& files, std::string_view embedded_registry) {
  return Reader(files, embedded_registry).Run();
}

}  // namespace lockstep::deploy
