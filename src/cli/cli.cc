#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "base/strings.h"
#include "cli/image_commands.h"

namespace lockstep::cli {

namespace {

// "did you mean" for a mistyped subcommand.
std::string Suggest(const CLI::App& app, std::string_view typed) {
  std::string best;
  size_t best_distance = 3;
  for (const CLI::App* sub : app.get_subcommands({})) {
    size_t d = EditDistance(typed, sub->get_name());
    if (d < best_distance) {
      best_distance = d;
      best = sub->get_name();
    }
  }
  return best;
}

}  // namespace

int Main(int argc, char** argv, std::span<const AddCommand> more) {
  // A peer that stops reading (a function that exits before reading its whole event, a
  // `| head`) must cost that write an EPIPE, not the whole command its life.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "lockstep: artifact and config move together, from one registry, through ordered "
      "environments"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lockstep 0.1.0");
  Globals globals;
  globals.data_dir = DefaultDataDir();
  globals.argv.assign(argv, argv + argc);
  ExitCode exit = ExitCode::kOk;

  for (AddCommand add : more) add(app, globals, &exit);
  AddTokenCommands(app, globals, &exit);
  AddRegistryCommands(app, globals, &exit);
  AddPackCommand(app, globals, &exit);
  AddPushCommand(app, globals, &exit);
  AddPullCommand(app, globals, &exit);
  AddCopyCommand(app, globals, &exit);
  AddInspectCommand(app, globals, &exit);
  AddTagsCommand(app, globals, &exit);
  AddRunCommand(app, globals, &exit);
  AddValidateCommand(app, globals, &exit);
  AddEngineCommands(app, globals, &exit);
  AddFunctionCommands(app, globals, &exit);
  AddPromoteCommands(app, globals, &exit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::string suggestion = Suggest(app, argv[1]);
      std::cerr << "lockstep: unknown command '" << argv[1] << "'";
      if (!suggestion.empty()) std::cerr << "; did you mean '" << suggestion << "'?";
      std::cerr << "\nRun 'lockstep --help' for the list of commands.\n";
      return static_cast<int>(ExitCode::kUsage);
    }
    std::cerr << "lockstep: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  } catch (const std::exception& e) {
    // The last resort: whatever input led here deserved a clear error instead.
    std::cerr << "lockstep: internal error (a bug in lockstep; please report it with the "
                 "command that led here): "
              << e.what() << "\n";
    return static_cast<int>(ExitCode::kBug);
  }
  return static_cast<int>(exit);
}

}  // namespace lockstep::cli
