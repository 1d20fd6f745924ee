// What every command shares: data directory and output options, error reporting (the slim
// lockstep-server binary uses these too).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/cli.h"

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
