// Reading the values of command-line flags that several commands share.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace lockstep::cli {

// A command as a JSON array of strings (["/bin/sh","-c","echo hi"]) or as words split at
// spaces. `flag` names the flag in errors.
Result<std::vector<std::string>> ParseCommandFlag(const std::string& text, const std::string& flag);

// Refuses a value that is not KEY=VALUE with a non-empty KEY.
Status CheckKeyValue(const std::string& kv, const std::string& flag);

}  // namespace lockstep::cli
