// What a container may not do, checked from inside real runc containers: a static probe
// tries each forbidden call and reports the errno it got.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
using runtime::Invocation;

class Confinement : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fixture_ = new RuntimeFixture(); }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }

  // NAME → result of each line the probe printed.
  std::map<std::string, std::string> Probe(Release release) {
    std::string id = fixture_->Prepare(release);
    Result<Invocation> run = fixture_->target().Invoke({"dev", "probe"}, id, {});
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    std::map<std::string, std::string> results;
    if (!run.ok()) return results;
    EXPECT_EQ(run->exit_code, 0) << run->logs;
    std::istringstream lines(run->output);
    for (std::string line; std::getline(lines, line);) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) results[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return results;
  }

  static RuntimeFixture* fixture_;
};

RuntimeFixture* Confinement::fixture_ = nullptr;

const char* const kForbidden[] = {
    "unshare_user", "unshare_mount",   "clone_user",          "keyctl",
    "bpf",          "mount",           "raise_cap",           "socket_vsock",
    "socket_alg",   "socketpair_tipc", "personality_no_aslr", "userfaultfd",
    "ptrace"};

TEST_F(Confinement, AFunctionRunsAsNobodyAndCannotLeaveItsBox) {
  std::map<std::string, std::string> r = Probe(fixture_->Function("exec /bin/syscall_probe"));
  EXPECT_EQ(r["uid"], "65534");
  for (const char* call : kForbidden) EXPECT_EQ(r[call], "EPERM") << call;
  EXPECT_EQ(r["setuid_root"], "EPERM");
  // Answered as if the kernel lacked them, so libraries fall back.
  EXPECT_EQ(r["io_uring_setup"], "ENOSYS");
  EXPECT_EQ(r["clone3"], "ENOSYS");
  for (const char* call : {"fork", "thread", "socket_inet", "socketpair_unix"}) {
    EXPECT_EQ(r[call], "ok") << call;
  }
}

TEST_F(Confinement, RootIsGrantedExplicitlyAndStillConfined) {
  Release root = fixture_->Function("exec /bin/syscall_probe");
  root.config.root = true;
  std::map<std::string, std::string> r = Probe(root);
  EXPECT_EQ(r["uid"], "0");
  for (const char* call : kForbidden) EXPECT_EQ(r[call], "EPERM") << call;

  Release asks = fixture_->Function("exec /bin/syscall_probe");
  asks.config.user = "0";
  EXPECT_NE(fixture_->target().Prepare(asks).status().message().find("not granted"),
            std::string::npos);
}

TEST_F(Confinement, AReleaseMayBeGrantedASystemCall) {
  Release granted = fixture_->Function("exec /bin/syscall_probe");
  granted.config.syscalls = {"keyctl"};
  std::map<std::string, std::string> r = Probe(granted);
  EXPECT_EQ(r["keyctl"], "ok");
  EXPECT_EQ(r["unshare_user"], "EPERM");
}

TEST_F(Confinement, AWritableVolumeBelongsToTheReleasesUser) {
  Result<fs::path> volume = fixture_->target().Volume("dev", "uploads");
  ASSERT_TRUE(volume.ok());
  Release writer = fixture_->Function("echo saved > /volumes/uploads/note && id -u");
  writer.config.volumes = {{"uploads", true}};
  writer.config.user = "4242:4242";
  std::string id = fixture_->Prepare(writer);
  Result<Invocation> run = fixture_->target().Invoke({"dev", "writer"}, id, {});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->output, "4242\n") << run->logs;
  struct stat st {};
  ASSERT_EQ(::stat((*volume / "note").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
}

// The target refuses a runc with a known escape before it runs anything.
TEST(RuncVersionCheck, ATargetWillNotOpenWithARuncThatHasKnownEscapes) {
  ScratchDir scratch;
  fs::path bin = scratch.path() / "bin";
  fs::create_directories(bin);
  {
    std::ofstream script(bin / "runc");
    script << "#!/bin/sh\necho 'runc version 1.1.11'\necho 'commit: v1.1.11-0-g4bccb38c'\n";
  }
  fs::permissions(bin / "runc", fs::perms::owner_all);
  std::string path = std::getenv("PATH");
  ::setenv("PATH", (bin.string() + ":" + path).c_str(), 1);
  runtime::local::LocalTargetOptions options;
  options.dir = scratch.path() / "runtime";
  options.own = false;
  Result<std::unique_ptr<runtime::local::LocalTarget>> target =
      runtime::local::LocalTarget::Open(std::move(options));
  ::setenv("PATH", path.c_str(), 1);
  ASSERT_FALSE(target.ok());
  EXPECT_EQ(target.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(target.status().message().find("CVE-2024-21626"), std::string::npos)
      << target.status().ToString();
}

}  // namespace
}  // namespace lockstep::testing
