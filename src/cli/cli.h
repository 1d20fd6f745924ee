// The `lockstep` command line: a table of subcommands, each in its own file.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace lockstep::cli {

// Process exit codes. kChanges follows `terraform plan -detailed-exitcode`.
enum class ExitCode : int {
  kOk = 0,
  kError = 1,
  kChanges = 2,
  kUsage = 64,
};

// Options every command shares.
struct Globals {
  std::filesystem::path data_dir;  // --data, else $LOCKSTEP_DATA, else ~/.local/share/lockstep
  std::string output = "text";     // --output text|json on read commands
  std::vector<std::string> argv;   // the command line as given
};

// $LOCKSTEP_DATA, else $XDG_DATA_HOME/lockstep, else ~/.local/share/lockstep.
std::filesystem::path DefaultDataDir();

// How `serve` runs: in this process, or by handing over (exec) to the lockstep-server
// binary beside this one, which links only what the server needs and so stays small.
enum class ServeMode { kInProcess, kExecServerBinary };

// Each command file provides one of these; it adds its subcommand to `app` and sets
// `*exit` when the subcommand runs.
void AddServeCommand(CLI::App& app, Globals& g, ExitCode* exit, ServeMode mode);
void AddTokenCommands(CLI::App& app, Globals& g, ExitCode* exit);
void AddRegistryCommands(CLI::App& app, Globals& g, ExitCode* exit);

// Adds --data to a subcommand.
void AddDataOption(CLI::App& sub, Globals& g);
// Adds --output text|json to a read command.
void AddOutputOption(CLI::App& sub, Globals& g);
// Prints "lockstep: <message>" to stderr and returns kError.
ExitCode Fail(const std::string& message);

int Main(int argc, char** argv);

}  // namespace lockstep::cli
