// `lockstep pack` gives the same digest for the same content whatever the files'
// mtimes, the umask, the creation order or the owner; a one-byte change gives another.
// Versions are SemVer or a clean git commit.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>

#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

void MakeTree(const fs::path& root, bool reversed, mode_t mask, int64_t mtime, uid_t owner) {
  mode_t old = ::umask(mask);
  std::vector<std::function<void()>> steps = {
      [&] {
        fs::create_directories(root / "bin");
        std::ofstream(root / "bin/tool") << "#!/bin/sh\necho tool\n";
        ::chmod((root / "bin/tool").c_str(), 0777 & ~mask);
      },
      [&] {
        fs::create_directories(root / "share/doc");
        std::ofstream(root / "share/doc/README") << "docs\n";
      },
      [&] { fs::create_directories(root / "var/cache"); },
      [&] {
        fs::create_directories(root / "bin");
        fs::create_symlink("tool", root / "bin/alias");
      },
  };
  if (reversed) std::reverse(steps.begin(), steps.end());
  for (auto& s : steps) s();
  ::umask(old);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    ::lchown(e.path().c_str(), owner, owner);
    if (!e.is_symlink())
      fs::last_write_time(e.path(), fs::file_time_type(std::chrono::seconds(mtime)));
  }
}

class PackReproducible : public ::testing::Test {
 protected:
  RunResult Pack(const std::string& dir, std::vector<std::string> extra = {},
                 std::vector<std::string> env = {}) {
    std::vector<std::string> args = {
        "pack",   (scratch_.path() / dir).string(),
        "--repo", "127.0.0.1:1/apps/tool",
        "--out",  (scratch_.path() / ("out-" + std::to_string(n_++))).string()};
    if (std::find(extra.begin(), extra.end(), "--git") == extra.end()) {
      args.insert(args.end(), {"--version", "1.2.3"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Lockstep(args, env);
  }
  ScratchDir scratch_;
  int n_ = 0;
};

TEST_F(PackReproducible, SameContentSameDigest) {
  MakeTree(scratch_.path() / "a", false, 022, 1000, 0);
  MakeTree(scratch_.path() / "b", true, 077, 1900000000, 1234);
  for (const char* compression : {"gzip", "zstd"}) {
    RunResult a = Pack("a", {"--compression", compression});
    RunResult b = Pack("b", {"--compression", compression});
    ASSERT_EQ(a.exit_code, 0) << a.Describe();
    ASSERT_EQ(b.exit_code, 0) << b.Describe();
    EXPECT_EQ(a.OutLine(), b.OutLine()) << compression;
  }
  std::ofstream(scratch_.path() / "b/share/doc/README") << "docs!\n";
  EXPECT_NE(Pack("b").OutLine(), Pack("a").OutLine()) << "one byte changes the digest";
  EXPECT_NE(Pack("a", {}, {"SOURCE_DATE_EPOCH=1700000000"}).OutLine(), Pack("a").OutLine());
}

TEST_F(PackReproducible, ALayoutNeedsNoRegistryAndSaysItsPlatform) {
  MakeTree(scratch_.path() / "a", false, 022, 1000, 0);
  fs::path out = scratch_.path() / "plain";
  RunResult r = Lockstep({"pack", (scratch_.path() / "a").string(), "--repo", "apps/tool",
                          "--version", "1.0.0", "--out", out.string()},
                         {"LOCKSTEP_REGISTRY="});
  ASSERT_EQ(r.exit_code, 0) << "--out contacts no registry, so needs none named: " << r.Describe();
  EXPECT_NE(r.err.find("the image is for linux/"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("--platform"), std::string::npos) << r.Describe();

  RunResult arm = Pack("a", {"--platform", "linux/arm64"});
  ASSERT_EQ(arm.exit_code, 0) << arm.Describe();
  EXPECT_EQ(arm.err.find("this machine's platform"), std::string::npos) << arm.Describe();
  EXPECT_EQ(Pack("a", {"--platform", "linux/arm64"}).OutLine(), arm.OutLine());
  EXPECT_NE(Pack("a", {"--platform", "linux/riscv64"}).OutLine(), arm.OutLine())
      << "the platform is part of the image";
  RunResult bad = Pack("a", {"--platform", "arm64"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("OS/ARCHITECTURE"), std::string::npos) << bad.Describe();
}

TEST_F(PackReproducible, VersionsAreSemVerOrACleanCommit) {
  MakeTree(scratch_.path() / "a", false, 022, 1000, 0);
  RunResult bad = Lockstep({"pack", (scratch_.path() / "a").string(), "--repo", "127.0.0.1:1/x",
                            "--version", "1.2", "--out", (scratch_.path() / "o").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("three numbers"), std::string::npos) << bad.Describe();

  std::string d = (scratch_.path() / "a").string();
  ASSERT_EQ(RunCommand({"sh", "-c",
                        "cd " + d +
                            " && git init -q && git -c user.email=t@e -c user.name=t add . && "
                            "git -c user.email=t@e -c user.name=t commit -qm one"})
                .exit_code,
            0);
  std::string commit = RunCommand({"git", "-C", d, "rev-parse", "HEAD"}).out.substr(0, 40);
  RunResult clean = Pack("a", {"--git"});
  ASSERT_EQ(clean.exit_code, 0) << clean.Describe();
  fs::path layout = scratch_.path() / ("out-" + std::to_string(n_ - 1));
  boost::json::value manifest = boost::json::parse(ReadBlob(layout, LayoutDigest(layout, commit)));
  EXPECT_EQ(manifest.at("annotations").at("org.opencontainers.image.revision").as_string(), commit);

  std::ofstream(scratch_.path() / "a/new-file") << "uncommitted\n";
  RunResult dirty = Pack("a", {"--git"});
  EXPECT_EQ(dirty.exit_code, 1);
  EXPECT_NE(dirty.err.find("--allow-dirty"), std::string::npos) << dirty.Describe();
  RunResult allowed = Pack("a", {"--git", "--allow-dirty"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.Describe();
  fs::path dirty_layout = scratch_.path() / ("out-" + std::to_string(n_ - 1));
  EXPECT_NO_THROW(LayoutDigest(dirty_layout, commit + "-dirty"));
}

}  // namespace
}  // namespace lockstep::testing
