// lockstep serve [--listen ADDR:PORT] [--data DIR] [--config FILE] [--dev]
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "server/server.h"

namespace lockstep::cli {

void AddServeCommand(CLI::App& app, Globals& g, ExitCode* exit) {
  // The callback owns the options the flags write into, so they live as long as `app`.
  auto o = std::make_shared<server::ServeOptions>();
  CLI::App* sub = app.add_subcommand("serve", "run the registry and API server");
  sub->add_option("--listen", o->listen, "ADDRESS:PORT to listen on; port 0 picks a free one")
      ->capture_default_str();
  sub->add_option("--config", o->config_file, "TOML config file (default <data>/config.toml)");
  sub->add_flag("--dev", o->dev, "local mode: requests without credentials act as admin");
  sub->add_option("--threads", o->threads, "server threads (default: one per core)");
  AddDataOption(*sub, g);
  sub->callback([o, &g, exit] {
    o->data_dir = g.data_dir;
    Status s = server::Serve(*o, std::cout);
    if (!s.ok()) *exit = Fail(s.message());
  });
}

}  // namespace lockstep::cli
