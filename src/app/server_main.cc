// lockstep-server: `lockstep serve` hands over to this binary, which links only what the
// server needs (no registry client, git or libcurl; libarchive comes with the local
// target, which unpacks layers), so a running server maps and touches less memory.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/serve.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  using namespace lockstep::cli;
  using lockstep::app::AddServeCommand;
  using lockstep::app::ServeMode;
  CLI::App app{"lockstep-server: the process behind `lockstep serve`"};
  app.require_subcommand(1);
  Globals globals;
  globals.data_dir = DefaultDataDir();
  globals.argv.assign(argv, argv + argc);
  ExitCode exit = ExitCode::kOk;
  AddServeCommand(app, globals, &exit, ServeMode::kInProcess);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return static_cast<int>(exit);
}
