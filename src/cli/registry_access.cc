#include "cli/registry_access.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "base/strings.h"
#include "client/token_realm.h"

namespace lockstep::cli {

namespace {

// One line, redrawn in place, on a terminal only.
void Progress(const std::string& what, uint64_t done, uint64_t total) {
  std::string name = what.substr(0, std::min<size_t>(what.size(), 19));
  if (total > 0) {
    int pct = static_cast<int>(done * 100 / total);
    std::fprintf(stderr, "\r%s %3d%% %s / %s   ", name.c_str(), pct, HumanBytes(done).c_str(),
                 HumanBytes(total).c_str());
  } else {
    std::fprintf(stderr, "\r%s %s   ", name.c_str(), HumanBytes(done).c_str());
  }
  if (total > 0 && done >= total) std::fprintf(stderr, "\n");
}

}  // namespace

void AddRegistryFlags(CLI::App& sub, RegistryFlags& flags) {
  sub.add_flag("--insecure", flags.insecure,
               "plain HTTP, for a registry on loopback during development");
  sub.add_option("--ca-file", flags.ca_file, "PEM file of extra certificate authorities to trust");
  sub.add_option("--chunk-size", flags.chunk_size,
                 "upload blobs in chunks of this size (e.g. 16MiB)");
  sub.add_flag("--quiet,-q", flags.quiet, "no progress display");
  sub.footer(
      "Credentials: LOCKSTEP_REGISTRY_USERNAME/LOCKSTEP_REGISTRY_PASSWORD for the registry "
      "LOCKSTEP_REGISTRY names (for no registry when it is unset), else what `podman login` "
      "or `docker login` saved ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, "
      "~/.config/containers/auth.json, ~/.docker/config.json). A token endpoint gets them "
      "only over https (or --insecure on loopback) and only on the registry's own host.");
}

Result<ImageRef> ParseImageRef(const std::string& text) {
  const char* registry = std::getenv("LOCKSTEP_REGISTRY");
  return ImageRef::Parse(text, registry ? registry : "");
}

Result<RegistryAccess> RegistryAccess::Create(const RegistryFlags& flags) {
  RegistryAccess access;
  access.flags_ = flags;
  access.options_.insecure = flags.insecure;
  if (const char* env = std::getenv("LOCKSTEP_REGISTRY_INSECURE");
      env && std::string_view(env) == "1") {
    access.options_.insecure = true;
  }
  access.options_.ca_file = flags.ca_file;
  if (!flags.chunk_size.empty()) {
    std::optional<uint64_t> size = ParseByteSize(flags.chunk_size);
    if (!size || *size == 0) {
      return InvalidArgument("--chunk-size '" + flags.chunk_size + "' is not a size like 16MiB");
    }
    access.options_.chunk_size = *size;
  }
  if (!flags.quiet && ::isatty(STDERR_FILENO)) access.options_.progress = Progress;
  LS_ASSIGN_OR_RETURN(client::CredentialStore store, client::CredentialStore::FromEnvironment());
  access.credentials_ = std::make_shared<client::CredentialStore>(std::move(store));
  return access;
}

client::RegistryClient& RegistryAccess::For(const std::string& registry) {
  for (auto& c : clients_) {
    if (c->registry() == registry) return *c;
  }
  if (options_.insecure && !client::IsLoopbackRegistry(registry)) {
    std::fprintf(stderr,
                 "lockstep: warning: --insecure sends images and credentials to %s as plain "
                 "HTTP, readable and changeable by anyone on the network path; use it only for a "
                 "loopback development server\n",
                 registry.c_str());
  }
  clients_.push_back(
      std::make_unique<client::RegistryClient>(registry, options_, credentials_.get()));
  return *clients_.back();
}

}  // namespace lockstep::cli
