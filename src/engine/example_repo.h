// For tests against a real deploy repository: the example one (examples/deploy-repo)
// committed to a bare remote from a work tree changed through the git CLI, and a mirror
// of the remote, as `lockstep serve` keeps one.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "git/mirror.h"
#include "os/process.h"
#include "os/testing/temp_dir.h"

namespace lockstep::engine::example {

// Runs `command` with sh; its output without the trailing newlines. A failure fails the
// test.
inline std::string Sh(const std::string& command) {
  Result<os::Captured> r = os::RunCapture({"sh", "-c", command});
  EXPECT_TRUE(r.ok() && r->exit_code == 0) << command << ": " << (r.ok() ? r->err : "");
  std::string out = r.ok() ? r->out : "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class ExampleRepo {
 public:
  // The example committed ("the example") and pushed; the mirror fetched it.
  explicit ExampleRepo(const std::filesystem::path& dir)
      : bare_(dir / "deploy.git"), work_(dir / "work") {
    std::filesystem::copy(std::filesystem::path(LOCKSTEP_SOURCE_DIR) / "examples" / "deploy-repo",
                          work_, std::filesystem::copy_options::recursive);
    Sh("git init -q --bare -b main '" + bare_.string() + "' && cd '" + work_.string() +
       "' && git init -q -b main && git config user.email t@e && git config user.name t && "
       "git remote add origin '" +
       bare_.string() + "'");
    first_ = Commit("the example");
    mirror_ = std::move(git::Mirror::Open(dir / "mirror", {.url = bare_.string()})).value();
    EXPECT_TRUE(mirror_->Fetch().ok());
  }

  // Commits everything in the work tree and pushes it; returns the commit.
  std::string Commit(const std::string& message) const {
    Sh("cd '" + work_.string() + "' && git add -A && git commit -qm '" + message +
       "' && git push -q origin main");
    return Sh("git -C '" + work_.string() + "' rev-parse HEAD");
  }

  const std::filesystem::path& bare() const { return bare_; }
  const std::filesystem::path& work() const { return work_; }
  const std::string& first() const { return first_; }
  git::Mirror& mirror() const { return *mirror_; }

 private:
  std::filesystem::path bare_, work_;
  std::string first_;
  std::unique_ptr<git::Mirror> mirror_;
};

}  // namespace lockstep::engine::example
