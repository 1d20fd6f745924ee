// lockstep pull REF LAYOUT[:NAME] — fetch an image into an OCI layout, verified by digest.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/image_commands.h"
#include "cli/registry_access.h"
#include "client/transfer.h"
#include "image/oci_layout.h"

namespace lockstep::cli {

namespace {
struct PullArgs {
  std::string ref;
  std::string layout;
  RegistryFlags flags;
};
}  // namespace

void AddPullCommand(CLI::App& app, Globals&, ExitCode* exit) {
  auto args = std::make_shared<PullArgs>();
  CLI::App* sub = app.add_subcommand("pull", "pull an image into an OCI layout; prints its digest");
  sub->add_option("REF", args->ref, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
  sub->add_option("LAYOUT", args->layout,
                  "OCI layout, as DIR or DIR:NAME (NAME defaults to the tag)")
      ->required();
  AddRegistryFlags(*sub, args->flags);
  sub->callback([args, exit] {
    Result<ImageRef> ref = ParseImageRef(args->ref);
    if (!ref.ok()) return void(*exit = Fail(ref.status().message()));
    auto [dir, name] = image::SplitLayoutRef(args->layout);
    if (args->layout.find(':') == std::string::npos) name = ref->tag.value_or("latest");
    Result<image::OciLayout> layout = image::OciLayout::Create(dir);
    if (!layout.ok()) return void(*exit = Fail(layout.status().message()));
    Result<RegistryAccess> access = RegistryAccess::Create(args->flags);
    if (!access.ok()) return void(*exit = Fail(access.status().message()));
    Result<Digest> digest = client::PullImage(access->For(ref->registry), *ref, *layout, name);
    if (!digest.ok()) return void(*exit = Fail(digest.status().message()));
    std::cerr << "lockstep: pulled " << ref->str() << " into " << dir.string() << ":" << name
              << "\n";
    std::cout << digest->str() << "\n";
  });
}

}  // namespace lockstep::cli
