// lockstep copy SRC_REF DST_REF — registry to registry, by digest.
#include <iostream>

#include "cli/command.h"
#include "cli/image_commands.h"
#include "client/transfer.h"
#include "os/file.h"

namespace lockstep::cli {

namespace {

struct CopyArgs {
  std::string src;
  std::string dst;
  RegistryFlags flags;
};

Status Copy(CopyArgs& args, RegistryAccess& access) {
  LS_ASSIGN_OR_RETURN(ImageRef src, ParseImageRef(args.src));
  LS_ASSIGN_OR_RETURN(ImageRef dst, ParseImageRef(args.dst));
  if (args.dst.find(':', args.dst.rfind('/') + 1) == std::string::npos &&
      args.dst.find('@') == std::string::npos) {
    dst.tag = src.tag;  // no tag given: keep the source's
  }
  std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / ("lockstep-copy-" + os::TempSuffix());
  Result<client::Pushed> copied =
      client::CopyImage(access.For(src.registry), src, access.For(dst.registry), dst, scratch);
  (void)os::RemoveTree(scratch);
  LS_RETURN_IF_ERROR(copied.status());
  std::cerr << "lockstep: copied " << src.str() << " to " << dst.str() << " (" << copied->blobs_sent
            << " blobs sent, " << copied->blobs_skipped << " already there or mounted)\n";
  std::cout << copied->digest.str() << "\n";
  return Status::Ok();
}

}  // namespace

void AddCopyCommand(CLI::App& app, Globals&, ExitCode* exit) {
  DefineRegistryCommand<CopyArgs>(
      app, exit, "copy", "copy an image between registries keeping its digest; prints it",
      [](CLI::App& sub, CopyArgs& a) {
        sub.add_option("SRC", a.src, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
        sub.add_option("DST", a.dst, "[REGISTRY/]REPOSITORY[:TAG]")->required();
      },
      Copy);
}

}  // namespace lockstep::cli
