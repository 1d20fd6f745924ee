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

TEST_F(FileTest, ReadChunksReadsToTheEndOrTheLimitAndStopsOnError) {
  fs::path file = dir_ / "data";
  ASSERT_TRUE(WriteFileAtomic(file, std::string(10000, 'x') + "end").ok());
  UniqueFd fd = OpenRead(file).value();
  char buf[4096];
  std::string all;
  int chunks = 0;
  ASSERT_TRUE(ReadChunks(fd.get(), file, buf, [&](std::string_view c) {
                ++chunks;
                all.append(c);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(all.size(), 10003u);
  EXPECT_EQ(chunks, 3);

  UniqueFd again = OpenRead(file).value();
  std::string head;
  ASSERT_TRUE(ReadChunks(
                  again.get(), file, buf,
                  [&](std::string_view c) {
                    head.append(c);
                    return Status::Ok();
                  },
                  5000)
                  .ok());
  EXPECT_EQ(head.size(), 5000u) << "no byte past the limit";

  UniqueFd third = OpenRead(file).value();
  int calls = 0;
  Status refused = ReadChunks(third.get(), file, buf, [&](std::string_view) {
    ++calls;
    return OutOfRange("enough");
  });
  EXPECT_EQ(refused.code(), Code::kOutOfRange);
  EXPECT_EQ(calls, 1);
}

TEST_F(FileTest, APrivateDirectoryIsTheOwnersAlone) {
  fs::path data = dir_ / "a" / "b" / "data";
  ASSERT_TRUE(MakePrivateDir(data).ok());
  EXPECT_EQ(fs::status(data).permissions() & fs::perms::all, fs::perms::owner_all);
  ASSERT_TRUE(MakePrivateDir(data).ok()) << "an existing directory is fine";
}

}  // namespace
}  // namespace lockstep::os
