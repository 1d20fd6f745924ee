#include "deploy/repo.h"

#include <algorithm>
#include <tuple>

#include "deploy/reader.h"

namespace lockstep::deploy {

std::string Problem::str() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const Environment* DeployRepo::Find(std::string_view environment) const {
  for (const Environment& e : environments) {
    if (e.name == environment) return &e;
  }
  return nullptr;
}

}  // namespace lockstep::deploy

namespace lockstep::deploy::reading {

ReadResult Reader::Run() {
  ReadTop();
  std::set<std::string> services = ReadServiceFiles();
  // Without environments, the environment files cannot be checked: each would be
  // reported as naming an unknown environment.
  if (!repo_.environments.empty()) ReadEnvironmentFiles(services);
  std::sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.file, a.line, a.column, a.message) <
           std::tie(b.file, b.line, b.column, b.message);
  });
  // A service file's problem is found again in each environment that deploys it.
  problems_.erase(std::unique(problems_.begin(), problems_.end()), problems_.end());
  ReadResult result;
  if (problems_.empty()) {
    result.repo = std::move(repo_);
  } else {
    result.problems = std::move(problems_);
  }
  return result;
}

void Reader::Add(const std::string& file, const toml::source_region& at, std::string message) {
  problems_.push_back({file, at.begin.line, at.begin.column, std::move(message)});
}

void Reader::AddFile(const std::string& file, std::string message) {
  problems_.push_back({file, 0, 0, std::move(message)});
}

// Parses one file; a syntax error is a problem and yields nothing.
std::optional<toml::table> Reader::Parse(const std::string& file) {
  auto it = files_.find(file);
  if (it == files_.end()) return std::nullopt;
  try {
    return toml::parse(it->second, file);
  } catch (const toml::parse_error& e) {
    Add(file, e.source(), std::string(e.description()));
    return std::nullopt;
  }
}

// Every key of `table` must be one of `known`; `where` names the table for people.
void Reader::CheckKeys(const std::string& file, const toml::table& table,
                       const std::vector<std::string_view>& known, std::string_view where,
                       const std::vector<std::string_view>* not_checked) {
  for (auto&& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    if (not_checked != nullptr &&
        std::find(not_checked->begin(), not_checked->end(), key.str()) != not_checked->end())
      continue;
    std::string message =
        "unknown key " + Quote(key.str()) + (where.empty() ? "" : " in " + std::string(where));
    std::string_view best;
    size_t best_distance = 3;
    for (std::string_view k : known) {
      size_t d = EditDistance(key.str(), k);
      if (d < best_distance) {
        best_distance = d;
        best = k;
      }
    }
    message +=
        best.empty() ? " (known keys: " + Join(known) + ")" : ": did you mean " + Quote(best) + "?";
    Add(file, key.source(), message);
  }
}

}  // namespace lockstep::deploy::reading

namespace lockstep::deploy {

ReadResult ReadRepo(const RepoFiles& files, std::string_view embedded_registry) {
  return reading::Reader(files, embedded_registry).Run();
}

}  // namespace lockstep::deploy
