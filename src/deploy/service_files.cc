// Services/ and environments/: which files say what (the Reader of reader.h).
#include <algorithm>

#include "core/names.h"
#include "deploy/reader.h"

namespace lockstep::deploy::reading {

std::set<std::string> Reader::ReadServiceFiles() {
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
bool Reader::CheckServiceFile(const std::string& file, const toml::table& doc) {
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

void Reader::ReadEnvironmentFiles(const std::set<std::string>& services) {
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
            std::string(identity) + " is what " + service + " is everywhere: set it in services/" +
                service + ".toml, not per environment");
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
            "public port " + std::to_string(deployed->public_port) + " of " + env + "/" + service +
                " is already " + it->second +
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

std::string& Reader::ServiceFile(const std::string& service) {
  auto [it, fresh] = service_files_.emplace(service, "services/" + service + ".toml");
  return it->second;
}

// The value of `key` in the sub-table `section` ("" for the top level): the environment
// file's when it sets one, else the service file's.
Found Reader::Lookup(Layer pin, Layer service, std::string_view section, std::string_view key) {
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
void Reader::CheckSections(Layer layer) {
  CheckSection(layer, "limits", kLimitKeys, "[limits] memory = \"256Mi\"");
  CheckSection(layer, "grants", kGrantKeys, "[grants] network = \"host\"");
  CheckSection(layer, "service", kServiceTableKeys, "[service] port = 8080");
  Table(*layer.file, *layer.table, "env", "[env] LOG_LEVEL = \"info\"");
}

// Checks the shape of one section of a layer: a table with known keys.
void Reader::CheckSection(Layer layer, std::string_view section,
                          const std::vector<std::string_view>& known, std::string_view example) {
  if (const toml::table* t = Table(*layer.file, *layer.table, section, example)) {
    CheckKeys(*layer.file, *t, known, "[" + std::string(section) + "]");
  }
}

}  // namespace lockstep::deploy::reading
