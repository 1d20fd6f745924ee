// `lockstep serve` runs the local target: containers outlive the server, and a server
// started (again) on the same data directory re-adopts them and serves the saved routes,
// also after kill -9. Containers lockstep did not start are never touched.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <regex>

#include "runtime/local/health_probe.h"
#include "tests/support/http.h"
#include "tests/support/images.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
using runtime::HealthState;

// Whether a cgroup named `id` exists in lockstep's part of the memory (v1) or unified
// hierarchy, at any depth.
bool CgroupExists(const std::string& id) {
  for (const char* root : {"/sys/fs/cgroup/memory/lockstep", "/sys/fs/cgroup/lockstep"}) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it->is_directory() && it->path().filename() == id) return true;
    }
  }
  return false;
}

std::string Body(uint16_t port) {
  return Get("http://127.0.0.1:" + std::to_string(port) + "/").body;
}

// A container started with runc directly, under runc's default state directory.
class ForeignContainer {
 public:
  explicit ForeignContainer(const fs::path& scratch)
      : id_("foreign-" + std::to_string(getpid())), bundle_(scratch / "foreign") {
    MakeBusyboxTree(bundle_ / "rootfs");
    for (const char* d : {"proc", "dev", "sys", "tmp"})
      fs::create_directories(bundle_ / "rootfs" / d);
    EXPECT_EQ(RunCommand({"runc", "spec", "--bundle", bundle_.string()}).exit_code, 0);
    std::ifstream in(bundle_ / "config.json");
    std::string config((std::istreambuf_iterator<char>(in)), {});
    config = std::regex_replace(config, std::regex(R"("terminal": true)"), R"("terminal": false)");
    config = std::regex_replace(config, std::regex(R"("args": \[\s*"sh"\s*\])"),
                                R"("args": ["/bin/busybox", "sleep", "600"])");
    std::ofstream(bundle_ / "config.json") << config;
    RunResult run = RunCommand({"runc", "run", "--detach", "--bundle", bundle_.string(), id_});
    EXPECT_EQ(run.exit_code, 0) << run.Describe();
  }
  ~ForeignContainer() { RunCommand({"runc", "delete", "--force", id_}); }
  std::string Status() const {
    RunResult state = RunCommand({"runc", "state", id_});
    return state.out.find("\"running\"") != std::string::npos ? "running" : state.Describe();
  }

 private:
  std::string id_;
  fs::path bundle_;
};

TEST(Readopt, ServeAdoptsRunningInstancesAndServesTheirRoutesAfterKill9) {
  RuntimeFixture fixture;
  ForeignContainer foreign(fixture.node().parent_path());
  ASSERT_EQ(foreign.Status(), "running");

  std::string web =
      *fixture.target().Start({"prod", "web"}, fixture.Prepare(fixture.Service("v1")));
  std::string api =
      *fixture.target().Start({"prod", "api"}, fixture.Prepare(fixture.Service("a1")));
  ASSERT_EQ(fixture.WaitHealthy(web).state, HealthState::kHealthy);
  ASSERT_EQ(fixture.WaitHealthy(api).state, HealthState::kHealthy);
  uint16_t web_port = runtime::local::PickFreePort().value();
  uint16_t api_port = runtime::local::PickFreePort().value();
  ASSERT_TRUE(fixture.target()
                  .SwitchRoutes("prod", {{"web", {web, web_port}}, {"api", {api, api_port}}})
                  .ok());
  int web_pid = fixture.target().runc().State(web)->pid;
  fixture.Close();  // the engine's process goes away; its containers stay

  {
    LockstepServer node(ServerOptions{.data_dir = fixture.node()});
    ASSERT_TRUE(WaitFor([&] { return node.Logs().find("routing prod/web") != std::string::npos; }))
        << node.Logs();
    EXPECT_NE(node.Logs().find("(2 instances running)"), std::string::npos) << node.Logs();
    EXPECT_EQ(Body(web_port), "v1\n");
    EXPECT_EQ(Body(api_port), "a1\n");

    node.Kill9();
    EXPECT_EQ(Get("http://127.0.0.1:" + std::to_string(web_port) + "/").status, 0)
        << "the proxy died with the server";
    RunResult state =
        RunCommand({"runc", "--root", (fixture.dir() / "runc").string(), "state", web});
    EXPECT_NE(state.out.find("\"running\""), std::string::npos) << state.Describe();

    node.Restart();
    ASSERT_TRUE(WaitFor([&] { return node.Logs().find("routing prod/web") != std::string::npos; }))
        << node.Logs();
    EXPECT_EQ(Body(web_port), "v1\n");
    EXPECT_EQ(Body(api_port), "a1\n");
  }
  fixture.Reopen();
  EXPECT_EQ(fixture.target().runc().State(web)->pid, web_pid) << "adopted, not restarted";
  EXPECT_EQ(fixture.target().Health(web)->restarts, 0u);
  EXPECT_EQ(foreign.Status(), "running") << "a container lockstep did not start is not touched";
}

TEST(Readopt, ASecondOwnerOfTheSameDirectoryIsRefused) {
  RuntimeFixture fixture;
  runtime::local::LocalTargetOptions options;
  options.dir = fixture.dir();
  Result<std::unique_ptr<runtime::local::LocalTarget>> second =
      runtime::local::LocalTarget::Open(std::move(options));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another lockstep server runs the local target"),
            std::string::npos)
      << second.status().ToString();
}

TEST(Readopt, HalfUnpackedLayersOfDeadProcessesAreSwept) {
  RuntimeFixture fixture;
  fs::path layers = fixture.dir() / "layers";
  fs::path dead = layers / ".unpack.999999999-0123abcd.0123456789ab";
  fs::path alive = layers / (".unpack." + std::to_string(getpid()) + "-0123abcd.0123456789ab");
  fs::create_directories(dead / "usr");
  fs::create_directories(alive / "usr");
  fixture.Reopen();
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive)) << "a live process may still be writing it";
  fs::remove_all(alive);
}

TEST(Readopt, AServerStartingLeavesAnInvocationInProgressAlone) {
  RuntimeFixture fixture;
  fs::path runc_root = fixture.dir() / "runc";
  fixture.Close();
  Background run({LockstepBinary(), "run", fixture.server().host() + "/test/tools:1.0.0",
                  "--insecure", "--data", fixture.node().string(), "--", "/bin/busybox", "sh", "-c",
                  "sleep 1; echo survived"},
                 fixture.node().parent_path() / "run-logs");
  std::string id;
  ASSERT_TRUE(WaitFor([&] {
    id = RunCommand({"runc", "--root", runc_root.string(), "list", "-q"}).OutLine();
    return id.starts_with("inv-");
  })) << run.Stderr();
  fixture.Reopen();  // recovery runs while the invocation does
  ASSERT_TRUE(WaitFor([&] { return !run.Running(); }));
  EXPECT_EQ(run.Stdout(), "survived\n") << run.Stderr();
  EXPECT_FALSE(CgroupExists(id));
}

TEST(Readopt, AnInvocationWhoseCallerWasKilledIsCleanedUp) {
  RuntimeFixture fixture;
  fs::path runc_root = fixture.dir() / "runc";
  Background run(
      {LockstepBinary(), "run", fixture.server().host() + "/test/tools:1.0.0", "--insecure",
       "--data", fixture.node().string(), "--timeout", "60s", "--", "/bin/busybox", "sleep", "60"},
      fixture.node().parent_path() / "run-logs");
  // Running, not only listed: runc lists a container while it is still being created,
  // before its cgroup is there (seen under ASan's slower start).
  std::string id;
  ASSERT_TRUE(WaitFor([&] {
    RunResult list = RunCommand({"runc", "--root", runc_root.string(), "list", "-q"});
    id = list.OutLine();
    if (!id.starts_with("inv-")) return false;
    RunResult state = RunCommand({"runc", "--root", runc_root.string(), "state", id});
    return state.out.find("\"status\": \"running\"") != std::string::npos;
  })) << run.Stderr();
  run.Stop(SIGKILL);  // the caller dies; runc's container does not
  ASSERT_TRUE(CgroupExists(id));

  fixture.Reopen();
  RunResult list = RunCommand({"runc", "--root", runc_root.string(), "list", "-q"});
  EXPECT_EQ(list.out, "") << "the orphaned invocation is gone";
  EXPECT_FALSE(fs::exists(fixture.dir() / "invocations" / id));
  EXPECT_FALSE(CgroupExists(id));
}

TEST(Readopt, ARetirementACrashInterruptedIsFinishedNotUndone) {
  RuntimeFixture fixture;
  std::string id = *fixture.target().Start({"prod", "web"}, fixture.Prepare(fixture.Service("v1")));
  ASSERT_EQ(fixture.WaitHealthy(id).state, HealthState::kHealthy);
  // The journal as Retire leaves it before it stops the container.
  fixture.Close();
  std::ofstream(fixture.dir() / "instances" / id / "retiring");
  fixture.Reopen();
  EXPECT_EQ(fixture.target().runc().State(id).status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(fixture.dir() / "instances" / id));
  EXPECT_EQ(fixture.target().Health(id).status().code(), Code::kNotFound);
}

TEST(Readopt, ADamagedRoutingTableIsReportedNotGuessedAt) {
  ScratchDir scratch;
  fs::create_directories(scratch.path() / "runtime");
  fs::permissions(scratch.path() / "runtime", fs::perms::owner_all);
  std::ofstream(scratch.path() / "runtime" / "routes.json") << R"({"routes":[{"public_port":80}]})";
  runtime::local::LocalTargetOptions options;
  options.dir = scratch.path() / "runtime";
  Result<std::unique_ptr<runtime::local::LocalTarget>> target =
      runtime::local::LocalTarget::Open(std::move(options));
  ASSERT_FALSE(target.ok());
  EXPECT_NE(target.status().message().find("routes.json is damaged"), std::string::npos)
      << target.status().ToString();
}

}  // namespace
}  // namespace lockstep::testing
