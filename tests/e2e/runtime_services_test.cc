// Services on the local target: start, health gating, supervision, observation, retire and
// re-adoption by a new target over the same directory. Real runc, busybox httpd.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "tests/support/http.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
using runtime::HealthState;
using runtime::ObservedInstance;

class Services : public ::testing::Test {
 protected:
  void SetUp() override { fixture_ = std::make_unique<RuntimeFixture>(); }
  void TearDown() override { fixture_.reset(); }

  std::string StartService(const std::string& version, const std::string& env = "prod",
                           const std::string& service = "web", bool healthy = true) {
    std::string release = fixture_->Prepare(fixture_->Service(version, healthy));
    Result<std::string> id = fixture_->target().Start({env, service}, release);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }

  ObservedInstance Observed(const std::string& id) {
    Result<std::vector<ObservedInstance>> all = fixture_->target().Observe("");
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    for (const ObservedInstance& o : *all) {
      if (o.instance_id == id) return o;
    }
    ADD_FAILURE() << "instance " << id << " is not observed";
    return {};
  }

  // What the instance answers at `path`, asked from inside its network namespace (or from
  // the host, for one granted the host's network).
  static std::string Body(const ObservedInstance& o, const std::string& path = "/") {
    std::string url = "http://127.0.0.1:" + std::to_string(o.port) + path;
    if (o.netns.empty()) return Get(url).body;
    return RunCommand({"nsenter", "--net=" + o.netns, "curl", "-s", url}).out;
  }

  std::unique_ptr<RuntimeFixture> fixture_;
};

TEST_F(Services, StartBecomeHealthyAndAreObservedFromTheRuntime) {
  std::string id = StartService("v1");
  EXPECT_EQ(fixture_->WaitHealthy(id).state, HealthState::kHealthy);
  ObservedInstance o = Observed(id);
  EXPECT_EQ(o.environment, "prod");
  EXPECT_EQ(o.service, "web");
  EXPECT_EQ(o.release_id, ReleaseId(fixture_->Service("v1")));
  EXPECT_EQ(o.image, *fixture_->image().digest);
  EXPECT_EQ(o.status, "running");
  EXPECT_EQ(o.health, HealthState::kHealthy);
  EXPECT_FALSE(o.routed);
  EXPECT_GT(o.since_unix, 0);
  // The config hash is that of the bundle the container really runs with.
  std::ifstream config(fixture_->dir() / "instances" / id / "config.json");
  std::string text((std::istreambuf_iterator<char>(config)), {});
  EXPECT_EQ(o.config_hash, DigestOf(text).str());
  EXPECT_EQ(Body(o), "v1\n");
  // Isolated by default: the instance's namespace has loopback and nothing else.
  ASSERT_FALSE(o.netns.empty());
  RunResult links = RunCommand({"nsenter", "--net=" + o.netns, "cat", "/proc/net/dev"});
  EXPECT_EQ(std::count(links.out.begin(), links.out.end(), ':'), 1) << links.out;
  EXPECT_NE(links.out.find("lo:"), std::string::npos) << links.out;
  Result<std::string> logs = fixture_->target().Logs(id, 4096);
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  EXPECT_EQ(*logs, "serving v1 on " + std::to_string(o.port) + "\n");
}

TEST_F(Services, GrantedTheHostNetworkListenOnAHostPort) {
  Release open = fixture_->Service("v1");
  open.config.network = NetworkGrant::kHost;
  std::string id = *fixture_->target().Start({"prod", "web"}, fixture_->Prepare(open));
  ASSERT_EQ(fixture_->WaitHealthy(id).state, HealthState::kHealthy);
  ObservedInstance o = Observed(id);
  EXPECT_TRUE(o.netns.empty());
  EXPECT_NE(o.port, 8080);
  EXPECT_EQ(Get("http://127.0.0.1:" + std::to_string(o.port) + "/").body, "v1\n");
}

TEST_F(Services, ANeverHealthyReleaseIsNeverRouted) {
  std::string id = StartService("broken", "prod", "web", /*healthy=*/false);
  // Once the instance has answered its health check (with a 404), it is still starting.
  Result<runtime::InstanceHealth> health = NotFound("not asked");
  ASSERT_TRUE(WaitFor([&] {
    health = fixture_->target().Health(id);
    return health.ok() && health->last_error.find("status 404") != std::string::npos;
  })) << (health.ok() ? health->last_error : health.status().ToString());
  EXPECT_EQ(health->state, HealthState::kStarting);
  EXPECT_NE(health->last_error.find("status 404"), std::string::npos) << health->last_error;
  Status s = fixture_->target().SwitchRoutes("prod", {{"web", {id, 18080}}});
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("only healthy instances are routed"), std::string::npos)
      << s.message();
  EXPECT_TRUE(fixture_->router().Current()->by_port.empty());
  EXPECT_FALSE(fs::exists(fixture_->dir() / "routes.json"));
}

TEST_F(Services, AnEntrypointThatIsNotThereSaysWhatRuncSaid) {
  Release missing = fixture_->Service("v1");
  missing.config.entrypoint = {"/bin/not-there"};
  Result<std::string> id = fixture_->target().Start({"prod", "web"}, fixture_->Prepare(missing));
  ASSERT_FALSE(id.ok());
  const std::string& message = id.status().message();
  EXPECT_NE(message.find("could not start"), std::string::npos) << message;
  EXPECT_NE(message.find("/bin/not-there"), std::string::npos) << message;
  EXPECT_NE(message.find("no such file or directory"), std::string::npos) << message;
  // What runc says, not how it logs it.
  EXPECT_EQ(message.find("level="), std::string::npos) << message;
  EXPECT_EQ(message.find("\"level\""), std::string::npos) << message;
  EXPECT_EQ(message.find("runc run failed"), std::string::npos) << message;
  Result<std::vector<ObservedInstance>> all = fixture_->target().Observe("");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(Services, ACrashedInstanceIsRestartedAndTheRestartReported) {
  std::string id = StartService("v1");
  ASSERT_EQ(fixture_->WaitHealthy(id).state, HealthState::kHealthy);
  Result<runtime::local::ContainerState> state = fixture_->target().runc().State(id);
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(kill(state->pid, SIGKILL), 0);
  runtime::InstanceHealth health;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    health = *fixture_->target().Health(id);
  } while ((health.restarts == 0 || health.state != HealthState::kHealthy) &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(health.state, HealthState::kHealthy);
  EXPECT_EQ(health.restarts, 1u);
  EXPECT_NE(fixture_->target().runc().State(id)->pid, state->pid);
  EXPECT_EQ(Body(Observed(id)), "v1\n");
  Result<std::string> logs = fixture_->target().Logs(id, 4096);
  ASSERT_TRUE(logs.ok());
  // Started twice, logged twice, into the one bounded log.
  EXPECT_EQ(std::count(logs->begin(), logs->end(), '\n'), 2) << *logs;
}

TEST_F(Services, RetireLeavesNothingBehindAndRefusesARoutedInstance) {
  std::string id = StartService("v1");
  ASSERT_EQ(fixture_->WaitHealthy(id).state, HealthState::kHealthy);
  ASSERT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {id, 18081}}}).ok());
  Status routed = fixture_->target().Retire(id, std::chrono::milliseconds(100));
  EXPECT_EQ(routed.code(), Code::kFailedPrecondition);
  EXPECT_NE(routed.message().find("serves public port 18081"), std::string::npos);
  EXPECT_EQ(fixture_->target().Unprepare(Observed(id).release_id).code(),
            Code::kFailedPrecondition);

  std::string next = StartService("v2");
  ASSERT_EQ(fixture_->WaitHealthy(next).state, HealthState::kHealthy);
  ASSERT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {next, 0}}}).ok());
  EXPECT_EQ(fixture_->router().Current()->RouteOf("prod", "web")->instance_id, next);
  EXPECT_EQ(fixture_->router().Current()->PortOf("prod", "web"), 18081) << "the port is kept";
  std::string old_netns = Observed(id).netns;
  ASSERT_FALSE(old_netns.empty());
  ASSERT_TRUE(fixture_->target().Retire(id, std::chrono::milliseconds(100)).ok());
  EXPECT_EQ(fixture_->target().runc().State(id).status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(fixture_->dir() / "instances" / id));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/lockstep/" + id)) << "its cgroup is gone";
  EXPECT_FALSE(fs::exists(old_netns)) << "its network namespace is released";
  EXPECT_EQ(fixture_->target().Health(id).status().code(), Code::kNotFound);
}

TEST_F(Services, ANewTargetReadoptsWhatRunsAndRestoresRoutes) {
  std::string web = StartService("v1", "prod", "web");
  std::string api = StartService("a1", "prod", "api");
  ASSERT_EQ(fixture_->WaitHealthy(web).state, HealthState::kHealthy);
  ASSERT_EQ(fixture_->WaitHealthy(api).state, HealthState::kHealthy);
  ASSERT_TRUE(
      fixture_->target().SwitchRoutes("prod", {{"web", {web, 18082}}, {"api", {api, 18083}}}).ok());
  int pid = fixture_->target().runc().State(web)->pid;

  fixture_->Reopen();
  // The same processes, not new ones; the routes as they were.
  EXPECT_EQ(fixture_->target().runc().State(web)->pid, pid);
  EXPECT_EQ(fixture_->WaitHealthy(web).state, HealthState::kHealthy);
  EXPECT_EQ(fixture_->router().Current()->RouteOf("prod", "web")->instance_id, web);
  EXPECT_EQ(fixture_->router().Current()->RouteOf("prod", "api")->instance_id, api);
  EXPECT_TRUE(Observed(web).routed);
  EXPECT_EQ(fixture_->target().Health(web)->restarts, 0u);
}

TEST_F(Services, AHangingHealthCheckHoldsUpNoOtherInstance) {
  Release slow = fixture_->Service("slow");
  slow.config.health.timeout_ms = 20'000;
  std::string hung = *fixture_->target().Start({"prod", "slow"}, fixture_->Prepare(slow));
  ASSERT_EQ(fixture_->WaitHealthy(hung).state, HealthState::kHealthy);
  // Frozen, it accepts connections (the kernel does) and never answers: its next check
  // hangs for 20 s.
  ASSERT_TRUE(fixture_->target().runc().Kill(hung, "STOP").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string other = StartService("v1");
  // Healthy needs two passing checks 100 ms apart: well inside the hung check's 20 s.
  EXPECT_EQ(fixture_->WaitHealthy(other, std::chrono::seconds(15)).state, HealthState::kHealthy);
  EXPECT_EQ(fixture_->target().Health(hung)->state, HealthState::kHealthy)
      << "its check is still running";
  ASSERT_TRUE(fixture_->target().runc().Kill(hung, "CONT").ok());
}

TEST_F(Services, RefusesBadSwitches) {
  std::string web = StartService("v1", "prod", "web");
  std::string api = StartService("a1", "prod", "api");
  ASSERT_EQ(fixture_->WaitHealthy(web).state, HealthState::kHealthy);
  ASSERT_EQ(fixture_->WaitHealthy(api).state, HealthState::kHealthy);
  auto& target = fixture_->target();
  EXPECT_EQ(target.SwitchRoutes("prod", {{"web", {"prod.web.nothere", 18084}}}).code(),
            Code::kNotFound);
  EXPECT_EQ(target.SwitchRoutes("staging", {{"web", {web, 18084}}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(target.SwitchRoutes("prod", {{"web", {web, 0}}}).code(), Code::kInvalidArgument)
      << "a first route needs a public port";
  // One bad change refuses the whole switch.
  Status both = target.SwitchRoutes("prod", {{"web", {web, 18084}}, {"api", {api, 18084}}});
  EXPECT_EQ(both.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(fixture_->router().Current()->by_port.empty());
}

}  // namespace
}  // namespace lockstep::testing

namespace lockstep::testing {
namespace {

TEST(ServiceLogs, StayWithinTheirBoundAndKeepTheNewestLines) {
  RuntimeFixture fixture(/*log_bytes=*/64 << 10);
  Release chatty = fixture.Service("v1");
  // 4 MiB of numbered lines, then a last line, then it serves.
  chatty.config.entrypoint = {
      "/bin/sh", "-c",
      "seq 1 40000 | sed 's/^/line /; s/$/: "
      "0123456789012345678901234567890123456789012345678901234567890123456789/'; "
      "echo last-line; mkdir -p /tmp/w && echo ok > /tmp/w/health && "
      "exec /bin/busybox httpd -f -p 127.0.0.1:$PORT -h /tmp/w"};
  std::string id = *fixture.target().Start({"prod", "chatty"}, fixture.Prepare(chatty));
  ASSERT_EQ(fixture.WaitHealthy(id, std::chrono::seconds(60)).state,
            runtime::HealthState::kHealthy);
  // The supervisor trims at each health check; give it one more round.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::filesystem::path log = fixture.dir() / "instances" / id / "log";
  struct stat st;
  ASSERT_EQ(stat(log.c_str(), &st), 0);
  uint64_t on_disk = static_cast<uint64_t>(st.st_blocks) * 512;
  EXPECT_LE(on_disk, (64u << 10) + (64u << 10)) << "blocks in use: " << on_disk;
  Result<std::string> tail = fixture.target().Logs(id, 1 << 20);
  ASSERT_TRUE(tail.ok());
  EXPECT_LE(tail->size(), (64u << 10) + 4096);
  EXPECT_TRUE(tail->ends_with("last-line\n"))
      << tail->substr(tail->size() - std::min<size_t>(200, tail->size()));
}

}  // namespace
}  // namespace lockstep::testing
