// lockstep run IMAGE_REF [-- ARGS...] — try an artifact before deploying it: pull it by
// digest, run it once as a function on the local target, print what it printed and exit
// with its status.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <iterator>
#include <memory>

#include "base/strings.h"
#include "cli/arguments.h"
#include "cli/image_commands.h"
#include "cli/registry_access.h"
#include "client/transfer.h"
#include "os/file.h"
#include "runtime/local/local_target.h"

namespace lockstep::cli {

namespace json = boost::json;

namespace {

struct RunArgs {
  std::string ref;
  std::string event;
  std::string entrypoint;
  std::string memory = "256MiB";
  std::string timeout = "30s";
  std::vector<std::string> env;
  std::vector<std::string> volumes;
  std::string network = "none";
  std::string user;
  bool root = false;
  std::vector<std::string> syscalls;
  std::vector<std::string> args;
  RegistryFlags flags;
};

Result<Release> BuildRelease(const RunArgs& args, const Digest& digest, ImageRef ref) {
  Release release;
  ref.digest = digest;
  release.image = std::move(ref);
  ReleaseConfig& c = release.config;
  c.kind = ReleaseKind::kFunction;
  if (!args.entrypoint.empty()) {
    LS_ASSIGN_OR_RETURN(c.entrypoint, ParseCommandFlag(args.entrypoint, "--entrypoint"));
  }
  c.cmd = args.args;
  std::optional<uint64_t> memory = ParseByteSize(args.memory);
  if (!memory) return InvalidArgument("--memory '" + args.memory + "' is not a size such as 64MiB");
  c.limits.memory_bytes = *memory;
  std::optional<int64_t> timeout = ParseDurationMillis(args.timeout);
  if (!timeout || *timeout <= 0 || *timeout > 86'400'000) {
    return InvalidArgument("--timeout '" + args.timeout +
                           "' is not a duration such as 500ms, 30s or 5m");
  }
  c.limits.timeout_ms = static_cast<uint32_t>(*timeout);
  for (const std::string& kv : args.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return InvalidArgument("--env '" + kv + "' is not KEY=VALUE");
    c.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const std::string& v : args.volumes) {
    bool writable = v.ends_with(":rw");
    std::string name = v.ends_with(":rw") || v.ends_with(":ro") ? v.substr(0, v.size() - 3) : v;
    c.volumes.push_back({name, writable});
  }
  if (args.network == "host") {
    c.network = NetworkGrant::kHost;
  } else if (args.network != "none") {
    return InvalidArgument("--network must be none or host, not '" + args.network + "'");
  }
  c.user = args.user;
  c.root = args.root;
  c.syscalls = args.syscalls;
  LS_RETURN_IF_ERROR(Validate(release));
  return release;
}

Result<std::string> ReadEvent(const std::string& source) {
  if (source.empty()) return std::string();
  if (source == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  return os::ReadFile(source);
}

}  // namespace

void AddRunCommand(CLI::App& app, Globals& g, ExitCode* exit) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand(
      "run", "run an image once as a function on this host (runc) and exit with its status");
  sub->add_option("IMAGE", args->ref, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
  sub->add_option("ARGS", args->args, "arguments, replacing the image's CMD (after --)");
  sub->add_option("--event", args->event, "the event given on stdin: a file, or - for stdin");
  sub->add_option("--entrypoint", args->entrypoint,
                  "command replacing the image's ENTRYPOINT (JSON array or words)");
  sub->add_option("--memory", args->memory, "memory limit; passing it kills the run")
      ->capture_default_str();
  sub->add_option("--timeout", args->timeout, "time limit (500ms, 30s, 5m)")->capture_default_str();
  sub->add_option("--env", args->env, "KEY=VALUE added to the environment (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--volume", args->volumes,
                  "grant a volume of the 'local' environment: NAME[:ro|:rw] at /volumes/NAME")
      ->allow_extra_args(false);
  sub->add_option("--network", args->network, "none (loopback only) or host")
      ->capture_default_str();
  sub->add_option("--user", args->user,
                  "UID[:GID] to run as (default: the image's USER, else 65534, nobody)");
  sub->add_flag("--root", args->root, "grant root: allow the program to run as uid 0");
  sub->add_option("--syscall", args->syscalls,
                  "grant a system call beyond the default seccomp policy (repeatable)")
      ->allow_extra_args(false);
  AddRegistryFlags(*sub, args->flags);
  AddDataOption(*sub, g);
  AddOutputOption(*sub, g);
  sub->callback([args, &g, exit] {
    Result<ImageRef> ref = ParseImageRef(args->ref);
    if (!ref.ok()) return void(*exit = Fail(ref.status()));
    Result<std::string> event = ReadEvent(args->event);
    if (!event.ok()) return void(*exit = Fail("--event: " + event.status().message()));
    Result<RegistryAccess> access = RegistryAccess::Create(args->flags);
    if (!access.ok()) return void(*exit = Fail(access.status()));

    // The tag is resolved once; from here on the run is of that digest.
    Result<Digest> digest = Status(Code::kInternal, "unset");
    if (ref->digest) {
      digest = *ref->digest;
    } else {
      Result<std::optional<Digest>> head =
          access->For(ref->registry).HeadManifest(ref->repository, ref->reference());
      if (!head.ok()) return void(*exit = Fail(head.status()));
      if (!*head) return void(*exit = Fail(ref->str() + " is not in the registry"));
      digest = **head;
    }
    Result<Release> release = BuildRelease(*args, *digest, *ref);
    if (!release.ok()) return void(*exit = Fail(release.status()));

    if (Status s = os::MakePrivateDir(g.data_dir); !s.ok()) return void(*exit = Fail(s));
    runtime::local::LocalTargetOptions options;
    options.dir = g.data_dir / "runtime";
    options.own = false;
    options.fetch = [&access](const ImageRef& image, image::OciLayout& into) {
      return client::PullImage(access->For(image.registry), image, into, "").status();
    };
    Result<std::unique_ptr<runtime::local::LocalTarget>> target =
        runtime::local::LocalTarget::Open(std::move(options));
    if (!target.ok()) return void(*exit = Fail(target.status()));
    Result<runtime::PreparedRelease> prepared = (*target)->Prepare(*release);
    if (!prepared.ok()) return void(*exit = Fail(prepared.status()));
    Result<runtime::Invocation> run =
        (*target)->Invoke({"local", "run"}, prepared->release_id, {.event = std::move(*event)});
    // The layers stay cached; the mount goes, so a one-off run leaves nothing mounted.
    (void)(*target)->Unprepare(prepared->release_id);
    if (!run.ok()) return void(*exit = Fail(run.status()));

    const runtime::Invocation& r = *run;
    if (g.output == "json") {
      json::object out{{"invocation", r.invocation_id},
                       {"image", release->image.str()},
                       {"release", prepared->release_id},
                       {"exit_code", r.exit_code},
                       {"output", r.output},
                       {"logs", r.logs},
                       {"duration_ms", r.duration.count()},
                       {"peak_memory_bytes", r.peak_memory_bytes},
                       {"timed_out", r.timed_out},
                       {"out_of_memory", r.out_of_memory}};
      std::cout << json::serialize(out) << "\n";
    } else {
      std::cout << r.output << std::flush;
      std::cerr << r.logs;
      if (r.timed_out) {
        std::cerr << "lockstep: killed: timed out after " << args->timeout << "\n";
      } else if (r.out_of_memory) {
        std::cerr << "lockstep: killed: passed its memory limit of "
                  << HumanBytes(release->config.limits.memory_bytes) << "\n";
      }
      std::cerr << "lockstep: " << r.invocation_id << " exited " << r.exit_code << " in "
                << r.duration.count() << " ms, peak memory " << HumanBytes(r.peak_memory_bytes)
                << "\n";
    }
    *exit = static_cast<ExitCode>(r.exit_code);
  });
}

}  // namespace lockstep::cli
