#include "git/work_tree.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "os/testing/temp_dir.h"

namespace lockstep::git {
namespace {

int Sh(const std::string& command) { return std::system(command.c_str()); }

TEST(WorkTree, CommitDirtinessUnderTheDirectoryAndOrigin) {
  os::testing::TempDir dir;
  std::string d = dir.path().string();
  ASSERT_EQ(Sh("cd " + d +
               " && git init -q && git config user.email t@e && git config user.name t && "
               "mkdir app other && echo 1 > app/f && echo 2 > other/g && git add . && git commit "
               "-qm one && "
               "git remote add origin https://git.example/app.git"),
            0);
  Result<WorkTreeInfo> clean = DescribeWorkTree(dir.path() / "app");
  ASSERT_TRUE(clean.ok()) << clean.status().ToString();
  EXPECT_EQ(clean->commit.size(), 40u);
  EXPECT_FALSE(clean->dirty);
  EXPECT_EQ(clean->origin_url, "https://git.example/app.git");

  std::ofstream(dir.path() / "other" / "g") << "changed elsewhere\n";
  EXPECT_FALSE(DescribeWorkTree(dir.path() / "app")->dirty) << "only the packed directory counts";
  std::ofstream(dir.path() / "app" / "new") << "untracked\n";
  EXPECT_TRUE(DescribeWorkTree(dir.path() / "app")->dirty);
  EXPECT_TRUE(DescribeWorkTree(dir.path())->dirty);
}

TEST(WorkTree, OutsideARepository) {
  os::testing::TempDir dir;
  Result<WorkTreeInfo> r = DescribeWorkTree(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--version"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::git
