// Commands that move or run images: pack, push, pull, copy, inspect, tags, run. Each lives in its
// own file; this header only declares how they join the command table.
#pragma once

#include "cli/cli.h"

namespace lockstep::cli {

void AddPackCommand(CLI::App& app, Globals& g, ExitCode* exit);
void AddPushCommand(CLI::App& app, Globals& g, ExitCode* exit);
void AddPullCommand(CLI::App& app, Globals& g, ExitCode* exit);
void AddCopyCommand(CLI::App& app, Globals& g, ExitCode* exit);
void AddInspectCommand(CLI::App& app, Globals& g, ExitCode* exit);
void AddTagsCommand(CLI::App& app, Globals& g, ExitCode* exit);
void AddRunCommand(CLI::App& app, Globals& g, ExitCode* exit);
void AddValidateCommand(CLI::App& app, Globals& g, ExitCode* exit);

}  // namespace lockstep::cli
