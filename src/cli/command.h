// The scaffold of a command: its arguments live in one struct the command owns (CLI11
// writes into it), and its body is a function returning Status, so it reads as a chain of
// early returns; a failure is printed once, as "lockstep: <message>", and exits 1.
// Commands that talk to registries also get the registry flags and a RegistryAccess.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "cli/cli.h"
#include "cli/registry_access.h"

namespace lockstep::cli {

// Adds subcommand `name`. `options` declares its flags on `sub` into `args`; `run` is
// its body.
template <class Args>
CLI::App* DefineCommand(CLI::App& app, ExitCode* exit, const std::string& name,
                        const std::string& help,
                        const std::function<void(CLI::App& sub, Args& args)>& options,
                        std::function<Status(Args& args)> run) {
  auto args = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand(name, help);
  options(*sub, *args);
  sub->callback([args, exit, run = std::move(run)] {
    Status s = run(*args);
    if (!s.ok()) *exit = Fail(s);
  });
  return sub;
}

// As DefineCommand, for commands that talk to registries: `Args` has a `RegistryFlags flags`
// member, which gets --insecure, --ca-file, --chunk-size and --quiet, and `run` is handed
// the RegistryAccess made from them.
template <class Args>
CLI::App* DefineRegistryCommand(CLI::App& app, ExitCode* exit, const std::string& name,
                                const std::string& help,
                                const std::function<void(CLI::App& sub, Args& args)>& options,
                                std::function<Status(Args& args, RegistryAccess& access)> run) {
  return DefineCommand<Args>(
      app, exit, name, help,
      [&options](CLI::App& sub, Args& args) {
        options(sub, args);
        AddRegistryFlags(sub, args.flags);
      },
      [run = std::move(run)](Args& args) -> Status {
        LS_ASSIGN_OR_RETURN(RegistryAccess access, RegistryAccess::Create(args.flags));
        return run(args, access);
      });
}

}  // namespace lockstep::cli
