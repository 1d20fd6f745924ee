// lockstep pack DIR --repo [REGISTRY/]NAME (--version V | --git [--allow-dirty])
//   [--base REF] [--entrypoint CMD] [--cmd CMD] [--env K=V]... [--workdir P] [--user U]
//   [--label K=V]... [--port N] [--platform OS/ARCH[/VARIANT]] [--compression gzip|zstd]
//   (--out LAYOUT | --push)
//
// Builds a reproducible OCI image from DIR (see artifact/pack.h) and prints its digest.
#include <cstdlib>
#include <iostream>
#include <memory>

#include "artifact/pack.h"
#include "base/strings.h"
#include "cli/arguments.h"
#include "cli/command.h"
#include "cli/image_commands.h"
#include "client/transfer.h"
#include "core/semver.h"
#include "git/work_tree.h"
#include "os/file.h"

namespace lockstep::cli {

namespace {

struct PackArgs {
  std::string dir;
  std::string repo;
  std::string version;
  bool git = false;
  bool allow_dirty = false;
  std::string base;
  std::string entrypoint;
  std::string cmd;
  std::vector<std::string> env;
  std::string workdir;
  std::string user;
  std::vector<std::string> labels;
  uint16_t port = 0;
  std::string compression = "gzip";
  std::string platform;
  std::string out;
  bool push = false;
  RegistryFlags flags;
};

// The version annotation and the tag for it. SemVer build metadata ("+build.7") cannot
// appear in a tag, so '+' becomes '_' there, as Helm does.
Result<std::pair<artifact::Provenance, std::string>> Version(const PackArgs& a) {
  artifact::Provenance p;
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    std::optional<uint64_t> e = ParseUint(epoch);
    if (!e)
      return InvalidArgument("SOURCE_DATE_EPOCH '" + std::string(epoch) +
                             "' is not a number of seconds");
    p.epoch = static_cast<int64_t>(*e);
  }
  if (a.git == !a.version.empty())
    return InvalidArgument("give exactly one of --version V and --git");
  if (!a.version.empty()) {
    LS_ASSIGN_OR_RETURN(SemVer v, SemVer::Parse(a.version));
    p.version = v.str();
  } else {
    LS_ASSIGN_OR_RETURN(git::WorkTreeInfo info, git::DescribeWorkTree(a.dir));
    if (info.dirty && !a.allow_dirty) {
      return FailedPrecondition(
          a.dir + " has uncommitted changes, so commit " + info.commit.substr(0, 12) +
          " does not describe it; commit them, or pass --allow-dirty to mark the version");
    }
    p.version = info.commit + (info.dirty ? "-dirty" : "");
    p.revision = info.commit;
    p.source = info.origin_url;
  }
  std::string tag = p.version;
  for (char& c : tag) {
    if (c == '+') c = '_';
  }
  return std::make_pair(p, tag);
}

Status Run(PackArgs& a) {
  if (a.push == !a.out.empty())
    return InvalidArgument("give exactly one of --out LAYOUT and --push");
  // Only a push goes to the registry --repo names; a layout needs just the name.
  Result<ImageRef> parsed = ParseImageRef(a.repo);
  if (!parsed.ok() && !a.push) parsed = ImageRef::Parse(a.repo, "localhost");
  LS_ASSIGN_OR_RETURN(ImageRef repo, std::move(parsed));
  LS_ASSIGN_OR_RETURN(auto version, Version(a));
  auto& [provenance, tag] = version;
  repo.tag = tag;
  repo.digest.reset();

  artifact::PackOptions options;
  options.dir = a.dir;
  options.name = tag;
  options.provenance = provenance;
  LS_ASSIGN_OR_RETURN(options.layer.compression, artifact::ParseCompression(a.compression));
  options.layer.mtime = provenance.epoch;
  if (!a.platform.empty()) {
    LS_ASSIGN_OR_RETURN(options.platform, artifact::ParsePlatform(a.platform));
  }
  artifact::ImageSettings& s = options.settings;
  if (!a.entrypoint.empty()) {
    LS_ASSIGN_OR_RETURN(s.entrypoint, ParseCommandFlag(a.entrypoint, "--entrypoint"));
  }
  if (!a.cmd.empty()) {
    LS_ASSIGN_OR_RETURN(s.cmd, ParseCommandFlag(a.cmd, "--cmd"));
  }
  for (const std::string& kv : a.env) LS_RETURN_IF_ERROR(CheckKeyValue(kv, "--env"));
  s.env = a.env;
  if (!a.workdir.empty()) s.workdir = a.workdir;
  if (!a.user.empty()) s.user = a.user;
  for (const std::string& kv : a.labels) {
    LS_RETURN_IF_ERROR(CheckKeyValue(kv, "--label"));
    s.labels[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  }
  if (a.port != 0) s.port = a.port;

  std::filesystem::path layout_dir = a.out;
  std::filesystem::path temp;
  if (a.push) {
    temp = std::filesystem::temp_directory_path() / ("lockstep-pack-" + os::TempSuffix());
    layout_dir = temp;
  }
  auto cleanup = [&] {
    if (!temp.empty()) (void)os::RemoveTree(temp);
  };
  Result<image::OciLayout> layout = image::OciLayout::Create(layout_dir);
  if (!layout.ok()) return cleanup(), layout.status();

  std::optional<RegistryAccess> access;
  if (a.push || (!a.base.empty() && !StartsWith(a.base, "oci:"))) {
    Result<RegistryAccess> created = RegistryAccess::Create(a.flags);
    if (!created.ok()) return cleanup(), created.status();
    access.emplace(std::move(created).value());
  }
  if (!a.base.empty()) {
    Result<Digest> base = InvalidArgument("unset");
    if (StartsWith(a.base, "oci:")) {
      auto [dir, name] = image::SplitLayoutRef(a.base);
      Result<image::OciLayout> from = image::OciLayout::Open(dir);
      base = from.ok() ? image::CopyBetweenLayouts(*from, name, *layout)
                       : Result<Digest>(from.status());
    } else {
      Result<ImageRef> ref = ParseImageRef(a.base);
      base = ref.ok() ? client::PullImage(access->For(ref->registry), *ref, *layout, "")
                      : Result<Digest>(ref.status());
    }
    if (!base.ok()) return cleanup(), base.status().WithContext("--base " + a.base);
    options.base = *base;
  }

  Result<artifact::PackResult> packed = artifact::Pack(options, *layout);
  if (!packed.ok()) return cleanup(), packed.status();
  if (!options.platform && !options.base) {
    std::cerr << "lockstep: the image is for " << artifact::PlatformString(packed->platform)
              << ", this machine's platform (--platform makes it for another)\n";
  }
  if (a.push) {
    Result<client::Pushed> pushed =
        client::PushImage(*layout, tag, access->For(repo.registry), repo);
    cleanup();
    LS_RETURN_IF_ERROR(pushed.status());
    std::cerr << "lockstep: pushed " << repo.str() << "\n";
  } else {
    std::cerr << "lockstep: packed " << a.out << ":" << tag << "\n";
  }
  std::cout << packed->manifest.str() << "\n";
  return Status::Ok();
}

void PackOptions(CLI::App& sub, PackArgs& a);

}  // namespace

void AddPackCommand(CLI::App& app, Globals&, ExitCode* exit) {
  DefineCommand<PackArgs>(
      app, exit, "pack", "build a reproducible OCI image from a directory; prints its digest",
      [](CLI::App& sub, PackArgs& a) { PackOptions(sub, a); }, Run);
}

namespace {

void PackOptions(CLI::App& sub, PackArgs& a) {
  sub.add_option("DIR", a.dir, "directory that becomes the image's top layer")->required();
  sub.add_option("--repo", a.repo, "[REGISTRY/]NAME the image is for")->required();
  sub.add_option("--version", a.version, "SemVer version, e.g. 1.5.4 or 2.0.0-rc.1+build.7");
  sub.add_flag("--git", a.git, "version = full commit hash of the git repository holding DIR");
  sub.add_flag("--allow-dirty", a.allow_dirty,
               "with --git: pack uncommitted changes, marking the version -dirty");
  sub.add_option("--base", a.base, "base image: [REGISTRY/]NAME[:TAG|@DIGEST] or oci:LAYOUT:NAME");
  sub.add_option("--entrypoint", a.entrypoint, "entrypoint, as words or a JSON array");
  sub.add_option("--cmd", a.cmd, "default arguments, as words or a JSON array");
  sub.add_option("--env", a.env, "KEY=VALUE environment (repeatable)")->allow_extra_args(false);
  sub.add_option("--workdir", a.workdir, "working directory");
  sub.add_option("--user", a.user, "user[:group] to run as");
  sub.add_option("--label", a.labels, "KEY=VALUE label (repeatable)");
  sub.add_option("--port", a.port, "TCP port the service listens on");
  sub.add_option("--platform", a.platform,
                 "OS/ARCH[/VARIANT] the image is for (default: the base's, else this machine's)");
  sub.add_option("--compression", a.compression, "gzip or zstd")->capture_default_str();
  sub.add_option("--out", a.out, "write an OCI image layout to this directory");
  sub.add_flag("--push", a.push, "push to the registry named by --repo (or $LOCKSTEP_REGISTRY)");
  AddRegistryFlags(sub, a.flags);
}

}  // namespace

}  // namespace lockstep::cli
