// The deploy repository: what should run in each environment, as one tree of TOML files
// (the format is docs/deploy-repo.md; examples/deploy-repo/ is a complete one).
//
//   lockstep.toml                  the registry the pins refer to, and the environments
//                                  in order, with their policies
//   services/SERVICE.toml          what a service is everywhere
//   environments/ENV/SERVICE.toml  what ENV runs of it: the pin (version and digest) and
//                                  overrides of the service's keys
//
// The effective release of a service in an environment is the service file overlaid
// with the environment file, pinned to the digest. Reading checks the whole tree and
// reports every problem at once, each with file:line:column, what is wrong and what to
// do; a repository with any problem yields no environments at all.
//
// Plain values and pure functions: the files come in as a RepoFiles map (read from a
// work tree by ReadWorkTree, or from a git commit by git/). Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/release.h"

namespace lockstep::deploy {

// Repository-relative path ("services/api.toml") → contents.
using RepoFiles = std::map<std::string, std::string>;

// One thing wrong with a repository, where it is: line and column start at 1 (0 when the
// problem is a whole file, such as one that is missing).
struct Problem {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string message;  // what is wrong, then what to do
  // "environments/prod/api.toml:7:10: memory \"128MB\": use Mi or Gi, e.g. \"128Mi\""
  std::string str() const;
  friend bool operator==(const Problem&, const Problem&) = default;
};

enum class Approval { kNone, kRequired };

struct Environment {
  std::string name;
  std::string target = "local";
  std::string promote_from;  // empty: pins are set here by hand (or CI)
  Approval approval = Approval::kNone;
  int approvals = 1;         // distinct approvers a plan needs where approval is required
  int64_t soak_seconds = 0;  // how long a release runs here before it may be promoted
  bool self_heal = false;    // put back what drifted from the repository
  std::vector<std::string> volumes;
  // How long each service's previous instance stays ready for an instant rollback (0: it
  // is retired at once).
  int64_t rollback_window_seconds = 900;
};

// What one environment runs of one service: the effective release and what travels
// with it.
struct DeployedService {
  std::string service;
  std::string version;  // the tag people read; `release.image.digest` is what runs
  Release release;
  uint16_t public_port = 0;   // services: where the proxy answers for it
  int64_t drain_ms = 10'000;  // services: in-flight requests finish within this
  std::string schedule;       // functions: cron expression, empty when not scheduled
  // The deploy repository's commit whose files made it (empty where not known): a
  // rollback makes the branch say again what that commit said.
  std::string source_commit;
};

struct DeployRepo {
  std::string registry;                   // "embedded", or host[:port] of an OCI registry
  std::vector<Environment> environments;  // in order: promotion goes down the list
  // environment → service → what it runs
  std::map<std::string, std::map<std::string, DeployedService>> deployed;

  const Environment* Find(std::string_view environment) const;
};

struct ReadResult {
  DeployRepo repo;                // empty unless `problems` is
  std::vector<Problem> problems;  // sorted by file, line and column
};

// Parses and checks the whole repository. `embedded_registry` (host:port) is what the
// images of a repository whose registry is "embedded" are fetched from.
ReadResult ReadRepo(const RepoFiles& files, std::string_view embedded_registry = "embedded");

// Limits on what is read of a repository that may come from anyone.
inline constexpr size_t kMaxRepoFiles = 20'000;
inline constexpr size_t kMaxFileBytes = 1 << 20;
inline constexpr size_t kMaxRepoBytes = 64 << 20;

// The repository's files in the work tree at `root`: lockstep.toml and the .toml files
// under services/ and environments/ (other files are not part of the format and are not
// read). Symbolic links are refused, never followed; each problem is reported as for
// the contents.
struct WorkTree {
  RepoFiles files;
  std::vector<Problem> problems;
};
WorkTree ReadWorkTree(const std::string& root);

}  // namespace lockstep::deploy
