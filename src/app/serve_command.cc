// lockstep serve [--listen ADDR:PORT] [--data DIR] [--config FILE] [--dev [--dev-anywhere]]
//                [--tls-cert FILE --tls-key FILE]
//   [--public-url URL]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/serve.h"
#include "cli/cli.h"

namespace lockstep::app {

using cli::ExitCode;
using cli::Fail;
using cli::Globals;

namespace {

// Replaces this process with lockstep-server (same PID, same arguments).
ExitCode ExecServerBinary(const Globals& g) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::filesystem::path server = self.parent_path() / "lockstep-server";
  if (ec || !std::filesystem::exists(server)) {
    return Fail("cannot find " + server.string() +
                ", which runs `lockstep serve`; reinstall lockstep");
  }
  std::vector<std::string> args = g.argv;
  args[0] = server.string();
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  ::execv(server.c_str(), raw.data());
  return Fail("cannot run " + server.string() + ": " + std::strerror(errno));
}

}  // namespace

void AddServeCommand(CLI::App& app, Globals& g, ExitCode* exit, ServeMode mode) {
  // The callback owns the options the flags write into, so they live as long as `app`.
  auto o = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand("serve", "run the registry and API server");
  sub->add_option("--listen", o->listen, "ADDRESS:PORT to listen on; port 0 picks a free one")
      ->capture_default_str();
  sub->add_option("--config", o->config_file, "TOML config file (default <data>/config.toml)");
  sub->add_flag("--dev", o->dev,
                "local mode: requests without credentials act as admin (loopback only)");
  sub->add_flag("--dev-anywhere", o->dev_anywhere,
                "allow --dev on an address other machines can reach (anyone there is admin)");
  sub->add_option("--threads", o->threads, "server threads (default: one per core)");
  sub->add_option("--public-url", o->public_url,
                  "URL clients reach this server at, e.g. https://registry.example behind a TLS "
                  "proxy; names the token endpoint in auth challenges (default: "
                  "http://<listen address>; config: [server] public_url)");
  sub->add_option("--tls-cert", o->tls_cert,
                  "serve HTTPS with this PEM certificate (then its chain); read again on SIGHUP");
  sub->add_option("--tls-key", o->tls_key, "the PEM private key of --tls-cert");
  cli::AddDataOption(*sub, g);
  sub->callback([o, &g, exit, mode] {
    if (mode == ServeMode::kExecServerBinary) return void(*exit = ExecServerBinary(g));
    o->data_dir = g.data_dir;
    Status s = Serve(*o, std::cout);
    if (!s.ok()) *exit = Fail(s);
  });
}

}  // namespace lockstep::app
