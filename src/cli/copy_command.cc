// lockstep copy SRC_REF DST_REF — registry to registry, by digest.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/image_commands.h"
#include "cli/registry_access.h"
#include "client/transfer.h"
#include "os/file.h"

namespace lockstep::cli {

namespace {
struct CopyArgs {
  std::string src;
  std::string dst;
  RegistryFlags flags;
};
}  // namespace

void AddCopyCommand(CLI::App& app, Globals&, ExitCode* exit) {
  auto args = std::make_shared<CopyArgs>();
  CLI::App* sub =
      app.add_subcommand("copy", "copy an image between registries keeping its digest; prints it");
  sub->add_option("SRC", args->src, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
  sub->add_option("DST", args->dst, "[REGISTRY/]REPOSITORY[:TAG]")->required();
  AddRegistryFlags(*sub, args->flags);
  sub->callback([args, exit] {
    Result<ImageRef> src = ParseImageRef(args->src);
    if (!src.ok()) return void(*exit = Fail(src.status().message()));
    Result<ImageRef> dst = ParseImageRef(args->dst);
    if (!dst.ok()) return void(*exit = Fail(dst.status().message()));
    if (args->dst.find(':', args->dst.rfind('/') + 1) == std::string::npos &&
        args->dst.find('@') == std::string::npos) {
      dst->tag = src->tag;  // no tag given: keep the source's
    }
    Result<RegistryAccess> access = RegistryAccess::Create(args->flags);
    if (!access.ok()) return void(*exit = Fail(access.status().message()));
    std::filesystem::path scratch =
        std::filesystem::temp_directory_path() / ("lockstep-copy-" + os::TempSuffix());
    Result<client::Pushed> copied = client::CopyImage(access->For(src->registry), *src,
                                                      access->For(dst->registry), *dst, scratch);
    (void)os::RemoveTree(scratch);
    if (!copied.ok()) return void(*exit = Fail(copied.status().message()));
    std::cerr << "lockstep: copied " << src->str() << " to " << dst->str() << " ("
              << copied->blobs_sent << " blobs sent, " << copied->blobs_skipped
              << " already there or mounted)\n";
    std::cout << copied->digest.str() << "\n";
  });
}

}  // namespace lockstep::cli
