// lockstep push LAYOUT[:NAME] REF — push an image from an OCI layout to a registry.
#include <iostream>

#include "cli/command.h"
#include "cli/image_commands.h"
#include "client/transfer.h"
#include "image/oci_layout.h"

namespace lockstep::cli {

namespace {

struct PushArgs {
  std::string layout;
  std::string ref;
  RegistryFlags flags;
};

Status Push(PushArgs& args, RegistryAccess& access) {
  auto [dir, name] = image::SplitLayoutRef(args.layout);
  LS_ASSIGN_OR_RETURN(image::OciLayout layout, image::OciLayout::Open(dir));
  LS_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(args.ref));
  if (!ref.tag && layout.Resolve(name).ok()) ref.tag = name;
  LS_ASSIGN_OR_RETURN(client::Pushed pushed,
                      client::PushImage(layout, name, access.For(ref.registry), ref));
  std::cerr << "lockstep: pushed " << ref.str() << " (" << pushed.blobs_sent << " blobs sent, "
            << pushed.blobs_skipped << " already there)\n";
  std::cout << pushed.digest.str() << "\n";
  return Status::Ok();
}

}  // namespace

void AddPushCommand(CLI::App& app, Globals&, ExitCode* exit) {
  DefineRegistryCommand<PushArgs>(
      app, exit, "push", "push an image from an OCI layout to a registry; prints its digest",
      [](CLI::App& sub, PushArgs& a) {
        sub.add_option("LAYOUT", a.layout,
                       "OCI layout, as DIR or DIR:NAME (NAME defaults to latest)")
            ->required();
        sub.add_option("REF", a.ref, "[REGISTRY/]REPOSITORY[:TAG]")->required();
      },
      Push);
}

}  // namespace lockstep::cli
