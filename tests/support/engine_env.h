// The fixture of the engine's end-to-end tests of applies and rollbacks: a deploy
// repository in a bare git remote, lockstep serve with its registry, two services (web and
// api, busybox httpd answering $VERSION) behind its proxy on ports of their own.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "tests/support/deploy_repo.h"
#include "tests/support/http.h"
#include "tests/support/images.h"
#include "tests/support/load_loop.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/peer_registry.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {

namespace engine_env {
namespace fs = std::filesystem;
namespace bj = boost::json;
using namespace std::chrono_literals;
inline constexpr const char* kSecret = "a-webhook-secret-of-some-length";

// busybox httpd on $PORT answering "$VERSION" at / and, unless HEALTHY is "no", at /health.
inline constexpr const char* kServiceFile = R"(kind = "service"
image = "apps/shop"
entrypoint = ["/bin/sh", "-c", '''mkdir -p /tmp/www && echo "$VERSION" > /tmp/www/index.html && { [ "$HEALTHY" = no ] || echo ok > /tmp/www/health; } && /bin/busybox httpd -f -p 127.0.0.1:$PORT -h /tmp/www & child=$!; trap 'kill $child; wait $child; exit 0' TERM; wait $child''']

[env]
HEALTHY = "yes"

[service]
drain = "1s"
health = { path = "/health", interval = "100ms", timeout = "500ms", successes = 2 }
)";

// Each load thread alternates web and api; once it saw the new release of either, it must
// never again see the old one of either.
inline bool NeverOldAfterNew(const std::string& old_body, const std::vector<std::string>& history) {
  bool seen_new = false;
  for (const std::string& h : history) {
    bool is_old = h.ends_with(":" + old_body);
    if (seen_new && is_old) return false;
    seen_new |= !is_old;
  }
  return true;
}

// `git -C REPO ARGS`: its output.
inline std::string Git(const fs::path& repo, const std::string& args) {
  RunResult r = RunCommand({"sh", "-c", "git -C '" + repo.string() + "' " + args});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  return r.out;
}

class EngineApply : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the local runtime needs root";
    repo_ = std::make_unique<DeployRepoDirs>(scratch_.path());
    bare_ = repo_->bare();
    work_ = repo_->work();
    server_ = std::make_unique<LockstepServer>(ServerOptions{
        .config_toml = "[deploy]\nrepo = \"" + bare_.string() + "\"\nwebhook_secret = \"" +
                       kSecret + "\"\nhealth_timeout = \"8s\"\nfetch_interval = \"1h\"\n"});
    MakeBusyboxTree(scratch_.path() / "tree");
    RunResult pack = Lockstep({"pack", (scratch_.path() / "tree").string(), "--repo",
                               server_->host() + "/apps/shop", "--version", "1.0.0", "--push",
                               "--insecure", "--quiet"});
    ASSERT_EQ(pack.exit_code, 0) << pack.Describe();
    digest_ = pack.OutLine();
    web_port_ = FreePort();
    api_port_ = FreePort();
    WriteFile(work_ / "lockstep.toml",
              "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\n");
    WriteFile(work_ / "services" / "web.toml", kServiceFile);
    WriteFile(work_ / "services" / "api.toml", kServiceFile);
  }

  void TearDown() override {
    if (server_ == nullptr) return;
    server_->Kill9();
    RemoveLocalRuntime(server_->data_dir() / "runtime");
    server_.reset();
  }

  // Pins dev's web and api to the image with these VERSION values (and api's HEALTHY),
  // commits, pushes and tells the server through its webhook.
  void Pin(const std::string& web, const std::string& api, bool api_healthy = true) {
    auto pin = [&](const std::string& service, const std::string& version, uint16_t port,
                   const std::string& more) {
      WriteFile(work_ / "environments" / "dev" / (service + ".toml"),
                "version = \"1.0.0\"\ndigest = \"" + digest_ + "\"\n\n[env]\nVERSION = \"" +
                    version + "\"\n" + more + "\n[service]\nport = " + std::to_string(port) + "\n");
    };
    pin("web", web, web_port_, "");
    pin("api", api, api_port_, api_healthy ? "" : "HEALTHY = \"no\"\n");
    repo_->CommitAndPush("pin " + web + "/" + api);
    Hook();
  }

  // Tells the server through its webhook that the deploy repository moved.
  void Hook() {
    HttpResponse hook = Send({.method = "POST",
                              .url = server_->url("/api/v1/hooks/git"),
                              .headers = {std::string("X-Lockstep-Secret: ") + kSecret},
                              .send_body = true});
    ASSERT_EQ(hook.status, 200) << hook.Describe();
  }

  RunResult Cli(std::vector<std::string> args) {
    args.push_back("--server");
    args.push_back(server_->url(""));
    return Lockstep(args);
  }

  std::string Through(uint16_t port) {
    return Get("http://127.0.0.1:" + std::to_string(port) + "/").body;
  }

  bj::value Status() {
    RunResult s = Cli({"status", "dev", "--output", "json"});
    EXPECT_EQ(s.exit_code, 0) << s.Describe();
    return bj::parse(s.out);
  }

  // Whether dev's status says git caught up with what runs (within 30 s); the status
  // last read and the server's log go into the failure message.
  ::testing::AssertionResult GitCaughtUp() {
    bj::value status;
    if (WaitFor(
            [&] {
              status = Status();
              return !status.at("git").at("behind").as_bool();
            },
            std::chrono::seconds(30))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << status << server_->Logs();
  }

  void KillAtEveryStep(int* kills);

  // web and api at one, then two; then web rolled back to one while the remote is down
  // (moved to `away`), until the write-back's first try failed.
  void RollBackWebWhileTheRemoteIsDown(const fs::path& away) {
    Pin("one", "one");
    ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
    Pin("two", "two");
    ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
    fs::rename(bare_, away);
    RunResult rollback = Cli({"rollback", "dev", "web"});
    ASSERT_EQ(rollback.exit_code, 0) << "a rollback does not wait for git: " << rollback.Describe();
    bj::value status;
    ASSERT_TRUE(WaitFor(
        [&] {
          status = Status();
          const bj::array& owed = status.at("git").at("write_backs").as_array();
          return !owed.empty() && owed[0].at("attempts").as_int64() > 0;
        },
        30s))
        << status;
  }

  ScratchDir scratch_;
  std::unique_ptr<DeployRepoDirs> repo_;
  fs::path bare_, work_;
  std::unique_ptr<LockstepServer> server_;
  std::string digest_;
  uint16_t web_port_ = 0, api_port_ = 0;
};
}  // namespace engine_env

using engine_env::EngineApply;

}  // namespace lockstep::testing
