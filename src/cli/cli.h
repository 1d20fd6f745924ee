// The `lockstep` command line: a table of subcommands, each in its own file.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

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
  kBug = 70,  // EX_SOFTWARE: lockstep itself failed
};

// Options every command shares.
struct Globals {
  std::filesystem::path data_dir;  // --data, else $LOCKSTEP_DATA, else ~/.local/share/lockstep
  std::string output = "text";     // --output text|json on read commands
  std::vector<std::string> argv;   // the command line as given
};

// $LOCKSTEP_DATA, else $XDG_DATA_HOME/lockstep, else ~/.local/share/lockstep.
std::filesystem::path DefaultDataDir();

// Adds one subcommand (or group of them) to `app`; sets `*exit` when it runs. Each command
// file provides one.
using AddCommand = void (*)(CLI::App& app, Globals& g, ExitCode* exit);

void AddTokenCommands(CLI::App& app, Globals& g, ExitCode* exit);
void AddRegistryCommands(CLI::App& app, Globals& g, ExitCode* exit);
void AddEngineCommands(CLI::App& app, Globals& g, ExitCode* exit);
void AddFunctionCommands(CLI::App& app, Globals& g, ExitCode* exit);
void AddPromoteCommands(CLI::App& app, Globals& g, ExitCode* exit);

// Adds --data to a subcommand.
void AddDataOption(CLI::App& sub, Globals& g);
// Adds --output text|json to a read command.
void AddOutputOption(CLI::App& sub, Globals& g);
// Writes a change made by this command to the data directory (tokens, a GC) into the audit
// log of its engine, as done by the local user who ran it (the server reads the same
// database). A failure is said on stderr: the change is made already.
void AuditLocally(const Globals& g, std::string action, std::string target, std::string detail);

// Prints "lockstep: <message>" to stderr and returns kError.
ExitCode Fail(const std::string& message);
// The same for a failed status: its message, then on a line of its own what to do about it
// (the status's reason), when it has one.
ExitCode Fail(const Status& status);

// Parses the command line and runs the command it names: this module's commands, and
// `more`, added by the modules above this one (`serve`, which runs the server).
int Main(int argc, char** argv, std::span<const AddCommand> more);

}  // namespace lockstep::cli
