#include "os/process.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "os/testing/temp_dir.h"

namespace lockstep::os {
namespace {

namespace fs = std::filesystem;

class FindInPathTest : public ::testing::Test {
 protected:
  FindInPathTest() {
    const char* path = getenv("PATH");
    saved_ = path != nullptr ? std::optional<std::string>(path) : std::nullopt;
  }
  ~FindInPathTest() override {
    if (saved_) {
      setenv("PATH", saved_->c_str(), 1);
    } else {
      unsetenv("PATH");
    }
  }
  fs::path File(const std::string& dir, int mode) {
    fs::create_directories(dir_.path() / dir);
    fs::path file = dir_.path() / dir / "tool";
    std::ofstream(file) << "#!/bin/sh\n";
    chmod(file.c_str(), mode);
    return file;
  }

  testing::TempDir dir_;
  std::optional<std::string> saved_;
};

TEST_F(FindInPathTest, TakesTheFirstExecutableFileAsExecvpWould) {
  File("plain", 0644);
  fs::create_directories(dir_.path() / "dir" / "tool");
  fs::path wanted = File("exec", 0755);
  File("later", 0755);
  std::string path;
  for (const char* d : {"missing", "plain", "dir", "exec", "later"})
    path += (path.empty() ? "" : ":") + (dir_.path() / d).string();
  setenv("PATH", path.c_str(), 1);
  EXPECT_EQ(FindInPath("tool"), wanted.string());
  fs::create_directories(dir_.path() / "linked");
  fs::create_symlink(wanted, dir_.path() / "linked" / "tool");
  setenv("PATH", (dir_.path() / "linked").c_str(), 1);
  EXPECT_EQ(FindInPath("tool"), wanted.string()) << "the file a link names";
  EXPECT_EQ(FindInPath("nothing"), std::nullopt);
  EXPECT_EQ(FindInPath("./relative/tool"), "./relative/tool") << "a path is itself";
  EXPECT_EQ(FindInPath(""), std::nullopt);
}

TEST_F(FindInPathTest, NeverLooksInTheWorkingDirectory) {
  File("here", 0755);
  const fs::path before = fs::current_path();
  fs::current_path(dir_.path() / "here");
  for (const char* path : {"", ":", "here", ".", "./"}) {
    setenv("PATH", path, 1);
    EXPECT_EQ(FindInPath("tool"), std::nullopt) << "PATH=" << path;
  }
  fs::current_path(before);
}

}  // namespace
}  // namespace lockstep::os

namespace lockstep::os {
namespace {

TEST(ReadProcessStat, SaysWhatTheKernelSaysOfAProcess) {
  std::optional<ProcessStat> self = ReadProcessStat(getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->state, 'R');
  EXPECT_EQ(self->parent, getppid());
  EXPECT_GT(self->start_ticks, 0u);
  std::optional<ProcessStat> parent = ReadProcessStat(getppid());
  ASSERT_TRUE(parent.has_value());
  EXPECT_LE(parent->start_ticks, self->start_ticks) << "a parent starts first";
  EXPECT_EQ(ReadProcessStat(0), std::nullopt);
  EXPECT_EQ(ReadProcessStat(-1), std::nullopt);
}

}  // namespace
}  // namespace lockstep::os
