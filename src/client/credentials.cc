#include "client/credentials.h"

#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <vector>

#include "base/json.h"
#include "base/strings.h"
#include "os/file.h"

namespace lockstep::client {

namespace {

// "https://index.docker.io/v1/" → "index.docker.io"; "127.0.0.1:5000" stays; host names
// are not case-sensitive.
std::string RegistryKey(std::string key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (StartsWith(key, scheme)) key = key.substr(scheme.size());
  }
  key = key.substr(0, key.find('/'));
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

// A namespace entry ("quay.io/team"): a path without a scheme in front of it.
bool IsNamespaceKey(std::string_view key) {
  return !StartsWith(key, "https://") && !StartsWith(key, "http://") &&
         key.find('/') != std::string_view::npos;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct AuthFile {
  std::filesystem::path path;
  bool legacy = false;  // ~/.dockercfg: the entries are the top-level object
};

// Where podman, skopeo and buildah look, in their order (containers-auth.json(5)).
std::vector<AuthFile> AuthFiles() {
  std::vector<AuthFile> files;
  std::filesystem::path home = Env("HOME");
  if (std::string f = Env("REGISTRY_AUTH_FILE"); !f.empty()) {
    files.push_back({f});
  } else if (std::string run = Env("XDG_RUNTIME_DIR"); !run.empty()) {
    files.push_back({std::filesystem::path(run) / "containers" / "auth.json"});
  }
  if (std::string config = Env("XDG_CONFIG_HOME"); !config.empty()) {
    files.push_back({std::filesystem::path(config) / "containers" / "auth.json"});
  } else if (!home.empty()) {
    files.push_back({home / ".config" / "containers" / "auth.json"});
  }
  if (std::string docker = Env("DOCKER_CONFIG"); !docker.empty()) {
    files.push_back({std::filesystem::path(docker) / "config.json"});
  } else if (!home.empty()) {
    files.push_back({home / ".docker" / "config.json"});
  }
  if (!home.empty()) files.push_back({home / ".dockercfg", true});
  return files;
}

// Adds the entries of `file` for registries that have none yet (an earlier file wins).
Status ReadAuthFile(const AuthFile& file, std::map<std::string, Credentials>& into) {
  if (!os::Exists(file.path)) return Status::Ok();
  const std::string name = file.path.string();
  LS_ASSIGN_OR_RETURN(std::string text, os::ReadFile(file.path, 1 << 20));
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(text, name));
  Result<json::ObjectView> root = json::ObjectView::Of(doc, "");
  if (!root.ok()) return InvalidArgument(name + " is not a JSON object");
  const boost::json::object* entries = &root->object();
  if (!file.legacy) {
    const boost::json::value* auths = root->Raw("auths");
    if (auths == nullptr || auths->is_null()) return Status::Ok();  // e.g. only credsStore
    entries = auths->if_object();
    if (entries == nullptr) return InvalidArgument(name + ": auths must be an object");
  }
  const std::string prefix = file.legacy ? "" : "auths.";
  for (const auto& [key, entry] : *entries) {
    std::string where = name + ": " + prefix + std::string(key);
    const boost::json::object* o = entry.if_object();
    if (o == nullptr) return InvalidArgument(where + " must be an object");
    const boost::json::value* auth = o->if_contains("auth");
    if (auth == nullptr || auth->is_null()) continue;  // a credential helper's or token entry
    if (!auth->is_string()) return InvalidArgument(where + ".auth must be a string");
    if (IsNamespaceKey(key)) continue;
    bool ok = false;
    std::string decoded = Base64Decode(std::string_view(auth->as_string()), &ok);
    size_t colon = decoded.find(':');
    if (!ok || colon == std::string::npos) {
      return InvalidArgument(where + ".auth is not base64 of USER:PASSWORD");
    }
    into.emplace(RegistryKey(std::string(key)),
                 Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)});
  }
  return Status::Ok();
}

}  // namespace

CredentialStore CredentialStore::Fixed(const std::map<std::string, Credentials>& by_registry) {
  CredentialStore s;
  for (const auto& [registry, c] : by_registry) s.per_registry_[RegistryKey(registry)] = c;
  return s;
}

Result<CredentialStore> CredentialStore::FromEnvironment() {
  CredentialStore store;
  std::string registry = Env("LOCKSTEP_REGISTRY");
  std::string password = Env("LOCKSTEP_REGISTRY_PASSWORD");
  if (!registry.empty() && !password.empty()) {
    std::string user = Env("LOCKSTEP_REGISTRY_USERNAME");
    store.per_registry_[RegistryKey(registry)] = {user.empty() ? "lockstep" : user, password};
  }
  for (const AuthFile& file : AuthFiles()) {
    LS_RETURN_IF_ERROR(ReadAuthFile(file, store.per_registry_));
  }
  return store;
}

std::optional<Credentials> CredentialStore::For(const std::string& registry) const {
  auto it = per_registry_.find(RegistryKey(registry));
  if (it == per_registry_.end()) return std::nullopt;
  return it->second;
}

}  // namespace lockstep::client
