// The data directory holds blobs, tokens and the bearer signing key: lockstep makes it,
// and every store in it, private to the user running it, and refuses one other users can
// read rather than serving from it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/lockstep_server.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

// `lockstep serve ARGS...`, which should refuse at once: a server that started instead is
// stopped after 20 s rather than holding the test for RunCommand's default.
RunResult Serve(const std::string& data) {
  return RunCommand({LockstepBinary(), "serve", "--listen", "127.0.0.1:0", "--dev", "--data", data},
                    std::chrono::seconds(20));
}

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(DataDir, ANewOneAndEveryStoreInItArePrivate) {
  ScratchDir scratch;
  fs::path data = scratch.path() / "parent" / "data";
  RunResult token = Lockstep({"token", "create", "--role", "pull", "--repos", "apps/*", "--name",
                              "ci", "--data", data.string()});
  ASSERT_EQ(token.exit_code, 0) << token.Describe();
  EXPECT_EQ(ModeOf(data), 0700u);
  EXPECT_EQ(ModeOf(data / "state.db"), 0600u);

  LockstepServer server({.dev = true, .data_dir = data});
  for (const char* store : {"registry", "secrets", "runtime"}) {
    EXPECT_EQ(ModeOf(data / store), 0700u) << store;
  }
  EXPECT_EQ(ModeOf(data / "secrets" / "bearer.key"), 0600u);
  EXPECT_EQ(ModeOf(data / "state.db"), 0600u);
  for (const auto& entry : fs::directory_iterator(data)) {
    if (entry.path().filename().string().starts_with("state.db-")) {
      EXPECT_EQ(ModeOf(entry.path()), 0600u) << entry.path();  // SQLite's -wal and -shm
    }
  }
}

TEST(DataDir, ALooserOneIsRefusedWithTheFixAndLeftUntouched) {
  ScratchDir scratch;
  fs::path data = scratch.path() / "data";
  fs::create_directories(data);
  fs::permissions(data, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  RunResult serve = Serve(data.string());
  EXPECT_EQ(serve.exit_code, 1) << serve.Describe();
  EXPECT_NE(serve.err.find(data.string() + " is open to other users (mode 0755)"),
            std::string::npos)
      << serve.err;
  EXPECT_NE(serve.err.find("chmod 700 " + data.string()), std::string::npos) << serve.err;
  EXPECT_TRUE(fs::is_empty(data)) << "nothing is written into a refused directory";
  EXPECT_EQ(ModeOf(data), 0755u) << "nor is its mode changed behind the user's back";

  RunResult token = Lockstep({"token", "create", "--role", "pull", "--repos", "*", "--name", "x",
                              "--data", data.string()});
  EXPECT_NE(token.exit_code, 0);
  EXPECT_NE(token.err.find("open to other users"), std::string::npos) << token.err;

  // One that another user owns is refused too, whatever its mode.
  fs::permissions(data, fs::perms::owner_all);
  ASSERT_EQ(::chown(data.c_str(), 4242, 4242), 0);
  serve = Serve(data.string());
  EXPECT_EQ(serve.exit_code, 1) << serve.Describe();
  EXPECT_NE(serve.err.find("owned by uid 4242"), std::string::npos) << serve.err;
}

TEST(DataDir, OneSomeoneElseCouldSwapIsRefused) {
  ScratchDir scratch;
  // A symlink (which whoever owns it could point elsewhere later).
  fs::path real = scratch.path() / "real";
  fs::create_directories(real);
  fs::permissions(real, fs::perms::owner_all);
  fs::create_directory_symlink(real, scratch.path() / "link");
  RunResult linked = Serve((scratch.path() / "link").string());
  EXPECT_EQ(linked.exit_code, 1) << linked.Describe();
  EXPECT_NE(linked.err.find("is a symbolic link"), std::string::npos) << linked.err;

  // A parent others may write to, without the sticky bit: they could rename the data
  // directory away and put their own there.
  fs::path open = scratch.path() / "open";
  fs::create_directories(open);
  fs::permissions(open, fs::perms::all);
  RunResult exposed = Serve((open / "data").string());
  EXPECT_EQ(exposed.exit_code, 1) << exposed.Describe();
  EXPECT_NE(exposed.err.find("lies in " + open.string() + ", which other users can write to"),
            std::string::npos)
      << exposed.err;
  EXPECT_FALSE(fs::exists(open / "data")) << "refused before anything is made";
}

}  // namespace
}  // namespace lockstep::testing
