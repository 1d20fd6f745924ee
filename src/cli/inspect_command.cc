// lockstep inspect REF [--output json] — digest, media type, size, annotations, layers
// and the tags that point at the image.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "cli/image_commands.h"
#include "cli/registry_access.h"
#include "client/transfer.h"
#include "image/manifest.h"

namespace lockstep::cli {

namespace json = boost::json;

namespace {
struct InspectArgs {
  std::string ref;
  RegistryFlags flags;
};
}  // namespace

void AddInspectCommand(CLI::App& app, Globals& g, ExitCode* exit) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* sub =
      app.add_subcommand("inspect", "show an image: digest, media type, size, annotations, tags");
  sub->add_option("REF", args->ref, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
  AddRegistryFlags(*sub, args->flags);
  AddOutputOption(*sub, g);
  sub->callback([args, &g, exit] {
    Result<ImageRef> ref = ParseImageRef(args->ref);
    if (!ref.ok()) return void(*exit = Fail(ref.status()));
    Result<RegistryAccess> access = RegistryAccess::Create(args->flags);
    if (!access.ok()) return void(*exit = Fail(access.status()));
    client::RegistryClient& registry = access->For(ref->registry);
    Result<client::RemoteManifest> m = registry.GetManifest(ref->repository, ref->reference());
    if (!m.ok()) return void(*exit = Fail(m.status()));
    Result<image::Manifest> parsed = image::ParseManifest(m->body, "");
    if (!parsed.ok()) {
      return void(*exit = Fail("the registry's manifest of " + ref->str() +
                               " is unusable: " + parsed.status().message()));
    }
    const std::vector<image::Descriptor> refs = parsed->Children();
    Result<std::vector<std::string>> all_tags = registry.Tags(ref->repository);
    if (!all_tags.ok()) return void(*exit = Fail(all_tags.status()));
    json::array tags;
    for (const std::string& tag : *all_tags) {
      Result<std::optional<Digest>> d = registry.HeadManifest(ref->repository, tag);
      if (d.ok() && *d && **d == m->digest) tags.emplace_back(tag);
    }
    json::object annotations;
    for (const auto& [k, v] : parsed->annotations) annotations[k] = v;
    uint64_t total = m->body.size();
    json::array parts;
    for (const image::Descriptor& d : refs) {
      total += d.size;
      parts.push_back({{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}});
    }
    json::object out{{"reference", ref->str()},
                     {"digest", m->digest.str()},
                     {"mediaType", m->media_type},
                     {"size", total},
                     {"annotations", annotations},
                     {"tags", tags},
                     {parsed->is_index ? "manifests" : "blobs", parts}};
    if (g.output == "json") {
      std::cout << json::serialize(out) << "\n";
      return;
    }
    std::cout << "Reference:  " << ref->str() << "\nDigest:     " << m->digest.str()
              << "\nMedia type: " << m->media_type << "\nSize:       " << HumanBytes(total)
              << "\nTags:      ";
    for (const auto& t : tags) std::cout << " " << std::string(t.as_string());
    std::cout << "\n";
    if (!annotations.empty()) std::cout << "Annotations:\n";
    for (const auto& [k, v] : parsed->annotations) std::cout << "  " << k << ": " << v << "\n";
    for (const image::Descriptor& d : refs) {
      std::cout << "  " << d.digest.str() << "  " << HumanBytes(d.size) << "  " << d.media_type
                << "\n";
    }
  });
}

}  // namespace lockstep::cli
