// Changing a file of the deploy repository the way a careful person would: only values.
// No TOML library writes a file back with its comments, so each value that must change
// is spliced into the exact source span of the old one, keys that must go lose their own
// line, keys that must come are added at the end of their table; everything else (comments,
// order, blank lines, quoting style) stays byte for byte. The result is parsed again and
// must mean exactly what was asked.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace lockstep::deploy {

struct Rewritten {
  std::string text;
  // False when the file could not be changed value by value (a key sharing its line with
  // another, an array of tables, a file that does not parse): `text` is then `wanted`
  // itself, whole.
  bool spliced = true;
};

// `current` changed to mean what `wanted` means (both TOML files; `wanted` must parse:
// kInvalidArgument otherwise, naming `file`). Equal meanings give `current` unchanged.
Result<Rewritten> RewriteToSay(std::string_view current, std::string_view wanted,
                               const std::string& file);

// `current` (an environment's file of a service, "" when there is none yet) pinned to
// `version` and `digest`, every other value as it was. kInvalidArgument, naming `file`,
// when `current` does not parse.
Result<Rewritten> WithPin(std::string_view current, const std::string& version,
                          const std::string& digest, const std::string& file);

}  // namespace lockstep::deploy
