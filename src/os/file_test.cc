#include "os/file.h"

#include <gtest/gtest.h>

#include "os/random.h"

namespace lockstep::os {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lockstep-os-" + RandomHex(6));
    ASSERT_TRUE(MakeDirs(dir_).ok());
  }
  void TearDown() override { (void)RemoveTree(dir_); }
  fs::path dir_;
};

TEST_F(FileTest, AtomicWriteReplacesAndLeavesNoTemporaries) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "f", "one").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ / "f", "two").ok());
  EXPECT_EQ(ReadFile(dir_ / "f").value(), "two");
  EXPECT_EQ(ListDir(dir_).value(), std::vector<std::string>{"f"});
}

TEST_F(FileTest, ExclusiveCreateRefusesAnExistingFile) {
  ASSERT_TRUE(CreateFileExclusive(dir_ / "tag", "sha256:a").ok());
  Status s = CreateFileExclusive(dir_ / "tag", "sha256:b");
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(ReadFile(dir_ / "tag").value(), "sha256:a");
  EXPECT_EQ(ListDir(dir_).value().size(), 1u);
}

TEST_F(FileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadFile(dir_ / "absent").status().code(), Code::kNotFound);
  EXPECT_TRUE(ListDir(dir_ / "absent").value().empty());
  EXPECT_TRUE(RemoveFile(dir_ / "absent").ok());
}

}  // namespace
}  // namespace lockstep::os
