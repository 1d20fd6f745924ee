#include "tests/support/deploy_repo.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tests/support/process.h"

namespace lockstep::testing {

namespace fs = std::filesystem;

void Sh(const std::string& command) {
  RunResult r = RunCommand({"sh", "-c", command});
  ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.Describe();
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

DeployRepoDirs::DeployRepoDirs(const fs::path& dir)
    : bare_(dir / "deploy.git"), work_(dir / "work") {
  Sh("git init -q --bare -b main '" + bare_.string() + "' && git init -q -b main '" +
     work_.string() + "' && cd '" + work_.string() +
     "' && git config user.email t@e && git config user.name t && git remote add origin '" +
     bare_.string() + "'");
}

std::string DeployRepoDirs::Read(const std::string& path) const {
  std::ifstream in(work_ / path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void DeployRepoDirs::Write(const std::string& path, const std::string& text) const {
  WriteFile(work_ / path, text);
}

void DeployRepoDirs::Pull() const {
  Sh("cd '" + work_.string() + "' && git pull -q --ff-only origin main");
}

std::string DeployRepoDirs::CommitAndPush(const std::string& message) const {
  Sh("cd '" + work_.string() + "' && git add -A && git commit -q --allow-empty -m '" + message +
     "' && git push -q origin main");
  RunResult head = RunCommand({"git", "-C", work_.string(), "rev-parse", "HEAD"});
  EXPECT_EQ(head.exit_code, 0) << head.Describe();
  return head.OutLine();
}

}  // namespace lockstep::testing
