// lockstep: one program for the registry, the deploy engine and its command line.
#include "app/serve.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  using namespace lockstep;
  const cli::AddCommand server_commands[] = {
      [](CLI::App& app, cli::Globals& g, cli::ExitCode* exit) {
        app::AddServeCommand(app, g, exit, app::ServeMode::kExecServerBinary);
      },
  };
  return cli::Main(argc, argv, server_commands);
}
