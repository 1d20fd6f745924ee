#include "client/credentials.h"

#include <boost/json.hpp>
#include <cstdlib>

#include "base/json.h"
#include "base/strings.h"
#include "os/file.h"

namespace lockstep::client {

namespace {

// "https://index.docker.io/v1/" → "index.docker.io"; "127.0.0.1:5000" stays.
std::string HostOf(std::string key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (StartsWith(key, scheme)) key = key.substr(scheme.size());
  }
  return key.substr(0, key.find('/'));
}

}  // namespace

CredentialStore CredentialStore::Fixed(Credentials c) {
  CredentialStore s;
  s.everywhere_ = std::move(c);
  return s;
}

Result<CredentialStore> CredentialStore::FromEnvironment() {
  CredentialStore store;
  const char* user = std::getenv("LOCKSTEP_REGISTRY_USERNAME");
  const char* pass = std::getenv("LOCKSTEP_REGISTRY_PASSWORD");
  if (pass != nullptr && *pass != '\0')
    store.everywhere_ = Credentials{user ? user : "lockstep", pass};

  std::filesystem::path config;
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir) {
    config = std::filesystem::path(dir) / "config.json";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    config = std::filesystem::path(home) / ".docker" / "config.json";
  }
  if (config.empty() || !os::Exists(config)) return store;
  LS_ASSIGN_OR_RETURN(std::string text, os::ReadFile(config, 1 << 20));
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(text, config.string()));
  Result<json::ObjectView> root = json::ObjectView::Of(doc, "");
  if (!root.ok()) return InvalidArgument(config.string() + " is not a JSON object");
  const boost::json::value* auths = root->Raw("auths");
  if (auths == nullptr || !auths->is_object()) return store;
  for (const auto& [key, entry] : auths->as_object()) {
    const boost::json::object* o = entry.if_object();
    const boost::json::value* auth = o ? o->if_contains("auth") : nullptr;
    if (auth == nullptr || !auth->is_string()) continue;  // a credential helper's entry
    bool ok = false;
    std::string decoded = Base64Decode(std::string_view(auth->as_string()), &ok);
    size_t colon = decoded.find(':');
    if (!ok || colon == std::string::npos) {
      return InvalidArgument(config.string() + ": auths." + std::string(key) +
                             ".auth is not base64 of USER:PASSWORD");
    }
    store.per_registry_[HostOf(std::string(key))] = {decoded.substr(0, colon),
                                                     decoded.substr(colon + 1)};
  }
  return store;
}

std::optional<Credentials> CredentialStore::For(const std::string& registry) const {
  if (everywhere_) return everywhere_;
  auto it = per_registry_.find(registry);
  if (it == per_registry_.end()) return std::nullopt;
  return it->second;
}

}  // namespace lockstep::client
