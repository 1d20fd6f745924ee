// Zero-downtime cutover through the front proxy, under load: switches between two releases
// lose no request; stopping the backend without a switch does (so the check can fail);
// two services switched together are never seen half-switched.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "proxy/proxy.h"
#include "runtime/local/health_probe.h"
#include "tests/support/http.h"
#include "tests/support/load_loop.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

using runtime::HealthState;
using namespace std::chrono_literals;

class Cutover : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_ = std::make_unique<RuntimeFixture>();
    Result<std::unique_ptr<proxy::Proxy>> proxy = proxy::Proxy::Start(fixture_->router(), {});
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(proxy).value();
  }
  void TearDown() override {
    proxy_.reset();
    fixture_.reset();
  }

  std::string StartHealthy(const std::string& service, const std::string& release) {
    Result<std::string> id = fixture_->target().Start({"prod", service}, release);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return "";
    EXPECT_EQ(fixture_->WaitHealthy(*id).state, HealthState::kHealthy)
        << fixture_->target().Logs(*id, 4096).value();
    return *id;
  }

  static uint16_t FreePort() { return runtime::local::PickFreePort().value(); }

  std::unique_ptr<RuntimeFixture> fixture_;
  std::unique_ptr<proxy::Proxy> proxy_;
};

TEST_F(Cutover, TwentySwitchesUnderLoadLoseNoRequest) {
  std::string v1 = fixture_->Prepare(fixture_->Service("v1"));
  std::string v2 = fixture_->Prepare(fixture_->Service("v2"));
  uint16_t port = FreePort();
  std::string live = StartHealthy("web", v1);
  ASSERT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {live, port}}}).ok());
  ASSERT_EQ(Get("http://127.0.0.1:" + std::to_string(port) + "/").body, "v1\n");

  LoadLoop load({port}, 8);
  for (int i = 0; i < 20; ++i) {
    std::string next = StartHealthy("web", i % 2 == 0 ? v2 : v1);
    ASSERT_FALSE(next.empty());
    ASSERT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {next, 0}}}).ok());
    Status retired = fixture_->target().Retire(live, 5s);
    ASSERT_TRUE(retired.ok()) << retired.ToString();
    live = next;
  }
  LoadResult result = load.Stop();
  EXPECT_EQ(result.failed, 0u) << ::testing::PrintToString(result.errors);
  EXPECT_EQ(result.non_2xx, 0u) << ::testing::PrintToString(result.errors);
  EXPECT_GT(result.ok, 1000u);
  EXPECT_GT(result.bodies["v1\n"], 0u);
  EXPECT_GT(result.bodies["v2\n"], 0u);
  EXPECT_EQ(result.bodies.size(), 2u);
  // Every instance but the live one is gone.
  Result<std::vector<runtime::ObservedInstance>> observed = fixture_->target().Observe("prod");
  ASSERT_TRUE(observed.ok());
  ASSERT_EQ(observed->size(), 1u);
  EXPECT_EQ(observed->front().instance_id, live);
}

TEST_F(Cutover, StoppingTheBackendWithoutASwitchFailsRequests) {
  std::string v1 = fixture_->Prepare(fixture_->Service("v1"));
  uint16_t port = FreePort();
  std::string live = StartHealthy("web", v1);
  ASSERT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {live, port}}}).ok());
  LoadLoop load({port}, 8);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(fixture_->target().runc().Kill(live, "KILL").ok());
  std::this_thread::sleep_for(300ms);
  LoadResult result = load.Stop();
  EXPECT_GT(result.ok, 0u);
  EXPECT_GT(result.non_2xx + result.failed, 0u) << "the load check must be able to fail";
}

// Each load thread alternates web and api requests; once it has seen the new release of
// either, it must never again see the old release of either.
bool NeverOldAfterNew(const std::vector<std::string>& history) {
  bool seen_new = false;
  for (const std::string& h : history) {
    bool is_new = h.ends_with(":new\n");
    if (seen_new && !is_new) return false;
    seen_new |= is_new;
  }
  return true;
}

class TwoServices : public Cutover {
 protected:
  // Starts web and api at release "old", routes them, runs the load and switches both to
  // "new" — in one step, or (the control) in two steps with a pause between.
  LoadResult SwitchUnderLoad(bool one_step) {
    std::string web_old = StartHealthy("web", fixture_->Prepare(fixture_->Service("old")));
    std::string api_old = StartHealthy("api", fixture_->Prepare(fixture_->Service("old")));
    uint16_t web_port = FreePort();
    uint16_t api_port = FreePort();
    EXPECT_TRUE(
        fixture_->target()
            .SwitchRoutes("prod", {{"web", {web_old, web_port}}, {"api", {api_old, api_port}}})
            .ok());
    std::string web_new = StartHealthy("web", fixture_->Prepare(fixture_->Service("new")));
    std::string api_new = StartHealthy("api", fixture_->Prepare(fixture_->Service("new")));

    LoadLoop load({web_port, api_port}, 8, NeverOldAfterNew);
    std::this_thread::sleep_for(300ms);
    if (one_step) {
      EXPECT_TRUE(fixture_->target()
                      .SwitchRoutes("prod", {{"web", {web_new, 0}}, {"api", {api_new, 0}}})
                      .ok());
    } else {
      EXPECT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {web_new, 0}}}).ok());
      std::this_thread::sleep_for(200ms);
      EXPECT_TRUE(fixture_->target().SwitchRoutes("prod", {{"api", {api_new, 0}}}).ok());
    }
    std::this_thread::sleep_for(300ms);
    LoadResult result = load.Stop();
    EXPECT_TRUE(fixture_->target().Retire(web_old, 1s).ok());
    EXPECT_TRUE(fixture_->target().Retire(api_old, 1s).ok());
    return result;
  }
};

TEST_F(TwoServices, SwitchTogetherAndAreNeverSeenHalfSwitched) {
  LoadResult result = SwitchUnderLoad(/*one_step=*/true);
  EXPECT_EQ(result.failed + result.non_2xx, 0u) << ::testing::PrintToString(result.errors);
  EXPECT_GT(result.bodies["old\n"], 0u);
  EXPECT_GT(result.bodies["new\n"], 0u);
  EXPECT_EQ(result.out_of_order, 0u);
}

TEST_F(TwoServices, TwoSeparateSwitchesAreSeenHalfSwitched) {
  LoadResult result = SwitchUnderLoad(/*one_step=*/false);
  EXPECT_GT(result.out_of_order, 0u) << "the ordering check must be able to fail";
}

TEST_F(Cutover, AnswersWithoutARouteAndForAFailedBackendClearly) {
  std::string v1 = fixture_->Prepare(fixture_->Service("v1"));
  uint16_t port = FreePort();
  std::string live = StartHealthy("web", v1);
  ASSERT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {live, port}}}).ok());
  EXPECT_EQ(Get("http://127.0.0.1:" + std::to_string(port) + "/").status, 200);

  // The service moves to another port: the old one still listens, with nothing routed.
  uint16_t moved = FreePort();
  ASSERT_TRUE(fixture_->target().SwitchRoutes("prod", {{"web", {live, moved}}}).ok());
  HttpResponse none = Get("http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(none.status, 503) << none.Describe();
  EXPECT_NE(none.body.find(std::to_string(port)), std::string::npos) << none.body;

  // Its backend dies: the next answers are 502, naming the service (until the
  // supervisor has it back up).
  ASSERT_TRUE(fixture_->target().runc().Kill(live, "KILL").ok());
  HttpResponse down;
  ASSERT_TRUE(WaitFor([&] {
    down = Get("http://127.0.0.1:" + std::to_string(moved) + "/");
    return down.status != 200;
  }));
  EXPECT_EQ(down.status, 502) << down.Describe();
  EXPECT_NE(down.body.find("prod/web"), std::string::npos) << down.body;
}

}  // namespace
}  // namespace lockstep::testing

namespace lockstep::testing {
namespace {

TEST(Proxy, AnswersGatewayTimeoutForABackendThatDoesNotAnswer) {
  RuntimeFixture fixture;
  proxy::ProxyOptions options;
  options.upstream_timeout = std::chrono::seconds(1);
  auto proxy = proxy::Proxy::Start(fixture.router(), options);
  ASSERT_TRUE(proxy.ok());
  Release slow = fixture.Service("slow");
  slow.config.entrypoint = {"/bin/hello_http"};
  slow.config.env = {{"VERSION", "slow"}, {"WORK_US", "0"}};
  slow.config.health.path = "/";
  std::string id = *fixture.target().Start({"prod", "web"}, fixture.Prepare(slow));
  ASSERT_EQ(fixture.WaitHealthy(id).state, HealthState::kHealthy);
  uint16_t port = runtime::local::PickFreePort().value();
  ASSERT_TRUE(fixture.target().SwitchRoutes("prod", {{"web", {id, port}}}).ok());
  EXPECT_EQ(Get("http://127.0.0.1:" + std::to_string(port) + "/").body, "hello from slow\n");

  // Now freeze the backend: it accepts connections (the kernel does) but never answers.
  ASSERT_TRUE(fixture.target().runc().Kill(id, "STOP").ok());
  auto started = std::chrono::steady_clock::now();
  HttpResponse late = Get("http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(late.status, 504) << late.Describe();
  EXPECT_NE(late.body.find("prod/web did not answer in time"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ASSERT_TRUE(fixture.target().runc().Kill(id, "CONT").ok());
}

}  // namespace
}  // namespace lockstep::testing

namespace lockstep::testing {
namespace {

// Peak resident memory of this process (the proxy runs in it), in bytes.
uint64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

TEST(Proxy, StreamsLargeBodiesBothWaysInFlatMemory) {
  RuntimeFixture fixture;
  auto proxy = proxy::Proxy::Start(fixture.router(), {});
  ASSERT_TRUE(proxy.ok());
  // busybox httpd serving a 48 MiB file, and a CGI script that counts what it is sent
  // (busybox passes a CGI header through as written; HTTP wants CRLF).
  Release files = fixture.Service("files");
  files.config.entrypoint = {
      "/bin/sh", "-c",
      "mkdir -p /tmp/www/cgi-bin && echo ok > /tmp/www/health && "
      "dd if=/dev/zero bs=1M count=48 2>/dev/null | tr '\\0' 'x' > /tmp/www/big && "
      "printf '#!/bin/sh\\nprintf \"Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n\"\\nwc -c | tr -d "
      "\" \"\\n' "
      "> /tmp/www/cgi-bin/count && chmod +x /tmp/www/cgi-bin/count && "
      "exec /bin/busybox httpd -f -p 127.0.0.1:$PORT -h /tmp/www"};
  files.config.limits.memory_bytes = 512 << 20;
  std::string id = *fixture.target().Start({"prod", "files"}, fixture.Prepare(files));
  ASSERT_EQ(fixture.WaitHealthy(id).state, HealthState::kHealthy);
  uint16_t port = runtime::local::PickFreePort().value();
  ASSERT_TRUE(fixture.target().SwitchRoutes("prod", {{"files", {id, port}}}).ok());
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  uint64_t before = PeakRss();

  RunResult down = RunCommand({"sh", "-c", "curl -sS " + base + "/big | wc -c"});
  EXPECT_EQ(down.OutLine(), std::to_string(48 << 20)) << down.Describe();

  std::filesystem::path upload = fixture.node().parent_path() / "upload";
  RunCommand({"sh", "-c", "head -c 104857600 /dev/zero > " + upload.string()});
  RunResult up =
      RunCommand({"curl", "-sS", "--data-binary", "@" + upload.string(), base + "/cgi-bin/count"});
  EXPECT_EQ(up.OutLine(), "104857600") << up.Describe();

  uint64_t grown = PeakRss() - before;
  EXPECT_LT(grown, 16u << 20) << "the proxy held a body in memory: grew by " << grown;
  // Small requests still work on the same proxy afterwards.
  EXPECT_EQ(Get(base + "/health").body, "ok\n");
}

}  // namespace
}  // namespace lockstep::testing
