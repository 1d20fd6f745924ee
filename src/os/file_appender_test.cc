#include "os/file_appender.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "os/testing/temp_dir.h"

namespace lockstep::os {
namespace {

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
  return s;
}

TEST(FileAppender, OddSizedChunksArriveIntact) {
  testing::TempDir dir;
  fs::path file = dir.path() / "data";
  std::string expected;
  {
    FileAppender a = FileAppender::Open(file, 0).value();
    for (size_t n : {1u, 4095u, 4097u, 300000u, 7u, 262144u, 12345u}) {
      std::string chunk = Pattern(n, static_cast<char>(n));
      ASSERT_TRUE(a.Append(chunk).ok());
      expected += chunk;
    }
    ASSERT_TRUE(a.Flush().ok());
  }
  EXPECT_EQ(ReadFile(file, 1 << 30).value(), expected);
}

TEST(FileAppender, WritesPastThePageCacheWithODirect) {
  testing::TempDir dir;
  int probe = ::open((dir.path() / "probe").c_str(), O_CREAT | O_WRONLY | O_DIRECT, 0600);
  if (probe < 0) GTEST_SKIP() << "this filesystem has no O_DIRECT";
  ::close(probe);
  fs::path file = dir.path() / "data";
  FileAppender a = FileAppender::Open(file, 0).value();
  EXPECT_TRUE(a.direct());
  EXPECT_NE(::fcntl(a.fd(), F_GETFL) & O_DIRECT, 0) << "the descriptor writes through the cache";
  std::string data = Pattern(3 << 20, 'd');
  ASSERT_TRUE(a.Append(data).ok());
  EXPECT_NE(::fcntl(a.fd(), F_GETFL) & O_DIRECT, 0) << "whole blocks went direct";
  ASSERT_TRUE(a.Flush().ok());
  EXPECT_EQ(ReadFile(file, 1 << 30).value(), data);
}

TEST(FileAppender, ResumesAtAnUnalignedOffset) {
  testing::TempDir dir;
  fs::path file = dir.path() / "data";
  {
    FileAppender a = FileAppender::Open(file, 0).value();
    ASSERT_TRUE(a.Append("hello").ok());
    ASSERT_TRUE(a.Flush().ok());
  }
  FileAppender b = FileAppender::Open(file, 5).value();
  EXPECT_FALSE(b.direct());
  ASSERT_TRUE(b.Append(" world").ok());
  ASSERT_TRUE(b.Flush().ok());
  EXPECT_EQ(ReadFile(file).value(), "hello world");
}

TEST(FileAppender, ZeroCopySpaceAndCommit) {
  testing::TempDir dir;
  fs::path file = dir.path() / "data";
  std::string expected;
  for (bool aligned_start : {true, false}) {
    std::string prefix = aligned_start ? "" : "xyz";
    ASSERT_TRUE(WriteFileAtomic(file, prefix).ok());
    expected = prefix;
    FileAppender a = FileAppender::Open(file, prefix.size()).value();
    for (int round = 0; round < 40; ++round) {
      std::span<char> space = a.Space().value();
      ASSERT_FALSE(space.empty());
      size_t n = std::min<size_t>(space.size(), 10000 + round * 997);
      std::string chunk = Pattern(n, static_cast<char>(round));
      std::copy(chunk.begin(), chunk.end(), space.begin());
      ASSERT_TRUE(a.Commit(n).ok());
      expected += chunk;
    }
    ASSERT_TRUE(a.Flush().ok());
    EXPECT_EQ(ReadFile(file, 1 << 30).value(), expected) << aligned_start;
  }
}

}  // namespace
}  // namespace lockstep::os
