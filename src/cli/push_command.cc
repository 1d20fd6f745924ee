// lockstep push LAYOUT[:NAME] REF — send an image from an OCI layout to a registry.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/image_commands.h"
#include "cli/registry_access.h"
#include "client/transfer.h"
#include "image/oci_layout.h"

namespace lockstep::cli {

namespace {
struct PushArgs {
  std::string layout;
  std::string ref;
  RegistryFlags flags;
};
}  // namespace

void AddPushCommand(CLI::App& app, Globals&, ExitCode* exit) {
  auto args = std::make_shared<PushArgs>();
  CLI::App* sub = app.add_subcommand(
      "push", "push an image from an OCI layout to a registry; prints its digest");
  sub->add_option("LAYOUT", args->layout,
                  "OCI layout, as DIR or DIR:NAME (NAME defaults to latest)")
      ->required();
  sub->add_option("REF", args->ref, "[REGISTRY/]REPOSITORY[:TAG]")->required();
  AddRegistryFlags(*sub, args->flags);
  sub->callback([args, exit] {
    auto [dir, name] = image::SplitLayoutRef(args->layout);
    Result<image::OciLayout> layout = image::OciLayout::Open(dir);
    if (!layout.ok()) return void(*exit = Fail(layout.status().message()));
    Result<ImageRef> ref = ParseImageRef(args->ref);
    if (!ref.ok()) return void(*exit = Fail(ref.status().message()));
    if (!ref->tag) {
      Result<image::LayoutEntry> entry = layout->Resolve(name);
      if (entry.ok()) ref->tag = name;
    }
    Result<RegistryAccess> access = RegistryAccess::Create(args->flags);
    if (!access.ok()) return void(*exit = Fail(access.status().message()));
    Result<client::Pushed> pushed =
        client::PushImage(*layout, name, access->For(ref->registry), *ref);
    if (!pushed.ok()) return void(*exit = Fail(pushed.status().message()));
    std::cerr << "lockstep: pushed " << ref->str() << " (" << pushed->blobs_sent << " blobs sent, "
              << pushed->blobs_skipped << " already there)\n";
    std::cout << pushed->digest.str() << "\n";
  });
}

}  // namespace lockstep::cli
