// Reading a deploy repository, inside deploy/: the Reader that ReadRepo runs, split by
// part of the format (repo.cc: problems and parsing; values.cc: typed values; top_file.cc:
// lockstep.toml; service_files.cc: services/ and environments/; effective_release.cc: a
// service's effective release). Not for use outside deploy/.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "deploy/repo.h"

namespace lockstep::deploy::reading {

constexpr std::string_view kTop = "lockstep.toml";

// The keys each table of the format may hold.
inline const std::vector<std::string_view> kTopKeys = {"registry", "environment"};
inline const std::vector<std::string_view> kEnvironmentKeys = {
    "name",      "target",  "promote_from",    "approval", "approvals",
    "self_heal", "volumes", "rollback_window", "soak"};
inline const std::vector<std::string_view> kServiceKeys = {
    "kind",     "image", "entrypoint", "command", "user",
    "schedule", "env",   "limits",     "grants",  "service"};
inline const std::vector<std::string_view> kPinKeys = {"version", "digest", "command", "schedule",
                                                       "env",     "limits", "grants",  "service"};
// Keys of a service file an environment file may not change: what the service is.
inline const std::vector<std::string_view> kIdentityKeys = {"kind", "image", "entrypoint", "user"};
inline const std::vector<std::string_view> kLimitKeys = {"memory", "cpu", "pids", "timeout"};
inline const std::vector<std::string_view> kGrantKeys = {"network", "volumes", "root", "syscalls"};
inline const std::vector<std::string_view> kServiceTableKeys = {"port", "drain", "health"};
inline const std::vector<std::string_view> kHealthKeys = {"path", "interval", "timeout",
                                                          "successes"};

// "30 days", "1 hour": a limit as people say it.
inline std::string Span(int64_t seconds) {
  auto unit = [](int64_t n, const char* one) {
    return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
  };
  if (seconds % 86400 == 0) return unit(seconds / 86400, "day");
  if (seconds % 3600 == 0) return unit(seconds / 3600, "hour");
  return unit(seconds, "second");
}

inline std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

inline std::string Join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

// Files a repository may hold beside the format's own: notes for people (*.md) and
// dotfiles (.gitkeep). They are not read.
inline bool IsNotForLockstep(std::string_view path) {
  std::string_view name = path.substr(path.rfind('/') + 1);
  return name.ends_with(".md") || StartsWith(name, ".");
}

inline bool IsPortableEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A table of one file, and where it came from: the layers of an effective release are the
// environment file over the service file.
struct Layer {
  const std::string* file = nullptr;
  const toml::table* table = nullptr;
};

// A value found in a layer.
struct Found {
  const std::string* file = nullptr;
  const toml::node* node = nullptr;
  explicit operator bool() const { return node != nullptr; }
};

class Reader {
 public:
  Reader(const RepoFiles& files, std::string_view embedded) : files_(files), embedded_(embedded) {}

  ReadResult Run();

 private:
  // --- repo.cc: problems, parsing, keys
  void Add(const std::string& file, const toml::source_region& at, std::string message);
  void AddFile(const std::string& file, std::string message);
  // Parses one file; a syntax error is a problem and yields nothing.
  std::optional<toml::table> Parse(const std::string& file);
  // Every key of `table` must be one of `known`; `where` names the table for people.
  void CheckKeys(const std::string& file, const toml::table& table,
                 const std::vector<std::string_view>& known, std::string_view where,
                 const std::vector<std::string_view>* not_checked = nullptr);

  // --- values.cc: typed values

  std::optional<std::string> String(const std::string& file, const toml::node& node,
                                    std::string_view key, std::string_view example);
  std::optional<bool> Bool(const std::string& file, const toml::node& node, std::string_view key);
  std::optional<int64_t> Integer(const std::string& file, const toml::node& node,
                                 std::string_view key, int64_t low, int64_t high);
  // A duration such as "90s"; `millis` also takes "250ms".
  std::optional<int64_t> Duration(const std::string& file, const toml::node& node,
                                  std::string_view key, bool millis, int64_t max_seconds);
  std::optional<std::vector<std::string>> StringArray(const std::string& file,
                                                      const toml::node& node, std::string_view key,
                                                      std::string_view example);
  const toml::table* Table(const std::string& file, const toml::table& parent, std::string_view key,
                           std::string_view example);
  static std::string JoinStrings(const std::vector<std::string>& words);
  // "128Mi", "1Gi", "512Ki": Kubernetes' binary suffixes, at least 4 MiB.
  static std::optional<uint64_t> MemoryBytes(std::string_view text);

  // --- top_file.cc: lockstep.toml

  void ReadTop();
  void ReadRegistry(const std::string& file, const toml::node& node, std::string registry);
  void ReadEnvironment(const std::string& file, const toml::table& t);
  std::string EnvironmentNames() const;

  // --- service_files.cc: services/ and environments/: which files say what

  std::set<std::string> ReadServiceFiles();
  // What a service file must say whatever the environment; false when it does not.
  bool CheckServiceFile(const std::string& file, const toml::table& doc);
  void ReadEnvironmentFiles(const std::set<std::string>& services);
  std::string& ServiceFile(const std::string& service);
  // The value of `key` in the sub-table `section` ("" for the top level): the environment
  // file's when it sets one, else the service file's.
  Found Lookup(Layer pin, Layer service, std::string_view section, std::string_view key);
  // The shape of a layer's sections: tables with known keys.
  void CheckSections(Layer layer);
  // Checks the shape of one section of a layer: a table with known keys.
  void CheckSection(Layer layer, std::string_view section,
                    const std::vector<std::string_view>& known, std::string_view example);

  // --- effective_release.cc: the effective release of a service in an environment

  std::optional<DeployedService> Effective(const Environment& environment,
                                           const std::string& service, Layer pin,
                                           Layer service_layer);
  void ReadHealth(const std::string& file, const toml::table& h, HealthCheck& health);

  std::map<std::string, toml::table> service_docs_;
  std::map<std::string, std::string> service_files_;
  const RepoFiles& files_;
  std::string embedded_;
  std::vector<std::string> listed_;  // the environments' names, in lockstep.toml's order
  DeployRepo repo_;
  std::vector<Problem> problems_;
};

}  // namespace lockstep::deploy::reading
