// What every command shares: data directory and output options, error reporting (the slim
// lockstep-server binary uses these too).
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "os/clock.h"
#include "state/engine_state.h"

namespace lockstep::cli {

std::filesystem::path DefaultDataDir() {
  if (const char* env = std::getenv("LOCKSTEP_DATA"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "lockstep";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : ".") / ".local" / "share" / "lockstep";
}

void AddDataOption(CLI::App& sub, Globals& g) {
  sub.add_option("--data", g.data_dir,
                 "data directory (default $LOCKSTEP_DATA or ~/.local/share/lockstep)");
}

void AddOutputOption(CLI::App& sub, Globals& g) {
  sub.add_option("--output,-o", g.output, "output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

void AuditLocally(const Globals& g, std::string action, std::string target, std::string detail) {
  static os::SystemClock clock;
  const passwd* user = ::getpwuid(::geteuid());
  std::string actor = "local:" + (user != nullptr ? std::string(user->pw_name)
                                                  : "uid " + std::to_string(::geteuid()));
  // Run through sudo: who asked, too.
  const char* sudo = ::getuid() == 0 ? std::getenv("SUDO_USER") : nullptr;
  if (sudo != nullptr && *sudo != '\0') {
    actor += " (sudo from " + std::string(sudo).substr(0, 64) + ")";
  }
  Result<std::unique_ptr<state::StateStore>> store =
      state::OpenSqliteStateStore((g.data_dir / "engine.db").string(), &clock);
  Status audited = store.ok() ? (*store)->Audited({.actor = std::move(actor),
                                                   .action = std::move(action),
                                                   .target = std::move(target),
                                                   .detail = std::move(detail)})
                              : store.status();
  if (!audited.ok()) {
    std::cerr << "lockstep: warning: the audit log missed this: " << audited.ToString() << "\n";
  }
}

ExitCode Fail(const std::string& message) {
  std::cerr << "lockstep: " << message << "\n";
  return ExitCode::kError;
}

ExitCode Fail(const Status& status) {
  std::cerr << "lockstep: " << status.message() << "\n";
  if (!status.reason().empty()) std::cerr << "  what to do: " << status.reason() << "\n";
  return ExitCode::kError;
}

}  // namespace lockstep::cli
