// A deploy repository for end-to-end tests: a bare remote (what lockstep serve mirrors)
// and a work tree pushing to it, both made with the git CLI in a scratch directory.
#pragma once

#include <filesystem>
#include <string>

namespace lockstep::testing {

// Runs `command` with sh -c; a failure fails the test (with its output).
void Sh(const std::string& command);

// Writes `text` to `path`, its directories made as needed.
void WriteFile(const std::filesystem::path& path, const std::string& text);

class DeployRepoDirs {
 public:
  // Makes `dir`/deploy.git (bare, branch main) and `dir`/work (its clone to be).
  explicit DeployRepoDirs(const std::filesystem::path& dir);

  const std::filesystem::path& bare() const { return bare_; }
  const std::filesystem::path& work() const { return work_; }

  // Writes a file of the work tree (a path relative to it).
  void Write(const std::string& path, const std::string& text) const;
  // A file of the work tree, as it is now.
  std::string Read(const std::string& path) const;
  // Brings the work tree up to the remote's branch (after lockstep pushed to it).
  void Pull() const;
  // Commits everything in the work tree and pushes it; returns the new commit's id.
  std::string CommitAndPush(const std::string& message) const;

 private:
  std::filesystem::path bare_, work_;
};

}  // namespace lockstep::testing
