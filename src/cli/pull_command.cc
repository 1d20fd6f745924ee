// lockstep pull REF LAYOUT[:NAME] — fetch an image into an OCI layout, verified by digest.
#include <iostream>

#include "cli/command.h"
#include "cli/image_commands.h"
#include "client/transfer.h"
#include "image/oci_layout.h"

namespace lockstep::cli {

namespace {

struct PullArgs {
  std::string ref;
  std::string layout;
  RegistryFlags flags;
};

Status Pull(PullArgs& args, RegistryAccess& access) {
  LS_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(args.ref));
  auto [dir, name] = image::SplitLayoutRef(args.layout);
  if (args.layout.find(':') == std::string::npos) name = ref.tag.value_or("latest");
  LS_ASSIGN_OR_RETURN(image::OciLayout layout, image::OciLayout::Create(dir));
  LS_ASSIGN_OR_RETURN(Digest digest,
                      client::PullImage(access.For(ref.registry), ref, layout, name));
  std::cerr << "lockstep: pulled " << ref.str() << " into " << dir.string() << ":" << name << "\n";
  std::cout << digest.str() << "\n";
  return Status::Ok();
}

}  // namespace

void AddPullCommand(CLI::App& app, Globals&, ExitCode* exit) {
  DefineRegistryCommand<PullArgs>(
      app, exit, "pull", "pull an image into an OCI layout; prints its digest",
      [](CLI::App& sub, PullArgs& a) {
        sub.add_option("REF", a.ref, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
        sub.add_option("LAYOUT", a.layout,
                       "OCI layout, as DIR or DIR:NAME (NAME defaults to the tag)")
            ->required();
      },
      Pull);
}

}  // namespace lockstep::cli
