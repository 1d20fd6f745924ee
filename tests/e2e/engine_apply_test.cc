// The engine end to end: a deploy repository in a bare git remote, lockstep serve with its
// registry, real runc containers behind its proxy, driven by the CLI over the API. Two
// services change together or not at all, and a load loop through the proxy checks it;
// rollbacks put earlier releases back the same way and hold them.
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
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;
using namespace std::chrono_literals;

constexpr const char* kSecret = "a-webhook-secret-of-some-length";

// busybox httpd on $PORT answering "$VERSION" at / and, unless HEALTHY is "no", at /health.
constexpr const char* kServiceFile = R"(kind = "service"
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
bool NeverOldAfterNew(const std::string& old_body, const std::vector<std::string>& history) {
  bool seen_new = false;
  for (const std::string& h : history) {
    bool is_old = h.ends_with(":" + old_body);
    if (seen_new && is_old) return false;
    seen_new |= !is_old;
  }
  return true;
}

// `git -C REPO ARGS`: its output.
std::string Git(const fs::path& repo, const std::string& args) {
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

TEST_F(EngineApply, PlansAppliesAndThenHasNothingToDo) {
  Pin("old", "old");
  RunResult plan = Cli({"plan", "dev"});
  EXPECT_EQ(plan.exit_code, 2) << plan.Describe();
  EXPECT_NE(plan.out.find("web"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("api"), std::string::npos) << plan.out;

  RunResult apply = Cli({"apply", "dev", "--reason", "first"});
  ASSERT_EQ(apply.exit_code, 0) << apply.Describe() << server_->Logs();
  EXPECT_NE(apply.out.find("switch"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find(": succeeded"), std::string::npos) << apply.out;
  EXPECT_EQ(Through(web_port_), "old\n");
  EXPECT_EQ(Through(api_port_), "old\n");

  bj::value status = Status();
  ASSERT_EQ(status.at("services").as_array().size(), 2u) << status;
  for (const bj::value& s : status.at("services").as_array()) {
    EXPECT_EQ(s.at("health").as_string(), "healthy") << s;
    EXPECT_EQ(s.at("digest").as_string(), digest_) << s;
  }
  EXPECT_EQ(status.at("serial").as_int64(), 1);

  RunResult again = Cli({"plan", "dev"});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  RunResult noop = Cli({"apply", "dev"});
  EXPECT_EQ(noop.exit_code, 0) << noop.Describe();
  EXPECT_NE(noop.out.find(": no-change"), std::string::npos) << noop.out;
  EXPECT_EQ(Status().at("serial").as_int64(), 1) << "a no-op apply leaves the serial alone";

  RunResult history = Cli({"history", "dev", "--output", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.Describe();
  bj::value h = bj::parse(history.out);
  EXPECT_EQ(h.at("history").as_array().size(), 2u) << h;
  EXPECT_EQ(h.at("deployments").as_array().size(), 2u) << h;
}

TEST_F(EngineApply, TheWebhookNeedsItsSecret) {
  HttpResponse wrong = Send({.method = "POST",
                             .url = server_->url("/api/v1/hooks/git"),
                             .headers = {"X-Lockstep-Secret: not-the-secret-at-all-no"},
                             .send_body = true});
  EXPECT_EQ(wrong.status, 401) << wrong.Describe();
  HttpResponse none =
      Send({.method = "POST", .url = server_->url("/api/v1/hooks/git"), .send_body = true});
  EXPECT_EQ(none.status, 401) << none.Describe();
  // As git hosts send it: GitHub signs the body, GitLab sends the secret as a token.
  std::string body = R"({"ref":"refs/heads/main"})";
  RunResult mac = RunCommand({"sh", "-c",
                              "printf '%s' '" + body + "' | openssl dgst -sha256 -hmac '" +
                                  kSecret + "' | sed 's/.*= //'"});
  ASSERT_EQ(mac.exit_code, 0) << mac.Describe();
  auto hook = [&](std::string header, std::string payload) {
    return Send({.method = "POST",
                 .url = server_->url("/api/v1/hooks/git"),
                 .headers = {std::move(header)},
                 .body = std::move(payload),
                 .send_body = true});
  };
  // The repository is empty, so the fetch itself fails (503); the secret passed.
  HttpResponse github = hook("X-Hub-Signature-256: sha256=" + mac.OutLine(), body);
  EXPECT_NE(github.status, 401) << github.Describe();
  HttpResponse forged = hook("X-Hub-Signature-256: sha256=" + mac.OutLine(), body + " ");
  EXPECT_EQ(forged.status, 401) << forged.Describe();
  HttpResponse gitlab = hook(std::string("X-Gitlab-Token: ") + kSecret, "");
  EXPECT_NE(gitlab.status, 401) << gitlab.Describe();
}

TEST_F(EngineApply, AReadOnlyTokenReadsButChangesNothing) {
  std::string token = server_->CreateToken("pull", "*", "ci-reader");
  HttpResponse refused = Send({.method = "POST",
                               .url = server_->url("/api/v1/environments/dev/plans"),
                               .send_body = true,
                               .basic_user = "x",
                               .basic_password = token});
  EXPECT_EQ(refused.status, 403) << refused.Describe();
  EXPECT_NE(refused.body.find("\"DENIED\""), std::string::npos) << refused.body;
  HttpResponse read = Send(
      {.url = server_->url("/api/v1/environments"), .basic_user = "x", .basic_password = token});
  EXPECT_EQ(read.status, 200) << read.Describe();
  HttpResponse bad = Send({.url = server_->url("/api/v1/environments/..%2Fetc"),
                           .basic_user = "x",
                           .basic_password = token});
  EXPECT_EQ(bad.status, 400) << bad.Describe();
}

TEST_F(EngineApply, TwoServicesSwitchTogetherUnderLoad) {
  Pin("old", "old");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  Pin("new", "new");
  LoadLoop load({web_port_, api_port_}, 6, [](const std::vector<std::string>& history) {
    return NeverOldAfterNew("old\n", history);
  });
  RunResult apply = Cli({"apply", "dev"});
  ASSERT_EQ(apply.exit_code, 0) << apply.Describe();
  // The apply has returned, so the switch is done: some more answers, all from the new.
  const uint64_t after_switch = load.Requests();
  ASSERT_TRUE(WaitFor([&] { return load.Requests() >= after_switch + 100; }));
  LoadResult result = load.Stop();
  EXPECT_EQ(result.failed + result.non_2xx, 0u) << ::testing::PrintToString(result.errors);
  EXPECT_GT(result.bodies["old\n"], 0u);
  EXPECT_GT(result.bodies["new\n"], 0u);
  EXPECT_EQ(result.out_of_order, 0u) << "a thread saw one new and one old service";
}

TEST_F(EngineApply, ANewReleaseThatNeverGetsHealthySwitchesNothing) {
  Pin("old", "old");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  bj::value before = Status();
  Pin("new", "new", /*api_healthy=*/false);
  LoadLoop load({web_port_, api_port_}, 4);
  RunResult apply = Cli({"apply", "dev"});
  LoadResult result = load.Stop();
  EXPECT_EQ(apply.exit_code, 1) << apply.Describe();
  EXPECT_NE(apply.out.find("api 1.0.0: instance"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("was not healthy within 8 s"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("nothing was switched"), std::string::npos) << apply.out;
  EXPECT_EQ(result.bodies["new\n"], 0u) << "the healthy new web must not go live alone";
  EXPECT_GT(result.bodies["old\n"], 0u);
  EXPECT_EQ(result.failed + result.non_2xx, 0u) << ::testing::PrintToString(result.errors);
  bj::value after = Status();
  EXPECT_EQ(after.at("services"), before.at("services"))
      << "nothing of the failed apply is recorded";
  // Only the two live instances remain: the staged ones were removed.
  size_t instances = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator(server_->data_dir() / "runtime" / "instances")) {
    ++instances;
  }
  EXPECT_EQ(instances, 2u);
  RunResult history = Cli({"history", "dev", "--output", "json"});
  bj::value h = bj::parse(history.out);
  EXPECT_EQ(h.at("deployments").as_array()[0].at("outcome").as_string(), "failed") << h;
}

// Item 6 of the engine: a SIGKILL right after each journaled step of a two-service apply
// (the server's test hook stops it there, before it takes the step). After a restart the
// environment serves entirely the old releases or entirely the new, the deployment is
// resolved, the staged containers are gone and the lock is free.
// Sets `*kills` to how many kills it took to get past the apply's last step.
void EngineApply::KillAtEveryStep(int* kills) {
  const std::string versions[] = {"a", "b"};
  int& killed = *kills;
  killed = 0;
  for (int step = 1; step <= 40; ++step) {
    const std::string& from = versions[step % 2];
    const std::string& to = versions[(step + 1) % 2];
    // A normal server makes `from` live (nothing to do when it already is).
    Pin(from, from);
    RunResult settle = Cli({"apply", "dev"});
    ASSERT_EQ(settle.exit_code, 0)
        << "step " << step << ": " << settle.Describe() << server_->Logs();
    ASSERT_EQ(Through(web_port_), from + "\n");

    server_->SetEnvironment({"LOCKSTEP_TEST_KILL_AFTER_STEP=" + std::to_string(step)});
    server_->Restart();
    Pin(to, to);
    RunResult apply = Cli({"apply", "dev"});
    server_->SetEnvironment({});
    if (apply.exit_code == 0) {
      // Past the last step: the apply finished unharmed; every step before was a kill.
      EXPECT_EQ(killed, step - 1);
      break;
    }
    ASSERT_TRUE(WaitFor([&] { return !server_->Running(); }))
        << "step " << step << ": the apply failed, the server was not killed:\n"
        << apply.Describe();
    ++killed;
    server_->Restart();
    bj::value status = Status();
    std::string web = Through(web_port_), api = Through(api_port_);
    EXPECT_EQ(web, api) << "step " << step << ": one service old and one new\n" << server_->Logs();
    EXPECT_TRUE(web == from + "\n" || web == to + "\n") << "step " << step << ": " << web;
    EXPECT_TRUE(status.at("locked_by").is_null()) << "step " << step << ": " << status;
    RunResult history = Cli({"history", "dev", "--output", "json"});
    bj::value h = bj::parse(history.out);
    const bj::value& last = h.at("deployments").as_array()[0];
    // Succeeded exactly when the new releases serve.
    EXPECT_EQ(last.at("outcome").as_string(), web == to + "\n" ? "succeeded" : "failed")
        << "step " << step << ": " << last << " while serving " << web;
    EXPECT_NE(last.at("reason").as_string().find("lockstep serve stopped"), std::string::npos)
        << last;
    size_t instances = 0;
    for ([[maybe_unused]] const auto& e :
         fs::directory_iterator(server_->data_dir() / "runtime" / "instances")) {
      ++instances;
    }
    // The live instances and the standbys kept for a rollback, nothing staged.
    const size_t kept = status.at("standbys").as_array().size();
    EXPECT_EQ(instances, 2u + kept) << "step " << step << ": staged instances left";
    for (const bj::value& k : status.at("standbys").as_array()) {
      EXPECT_TRUE(fs::exists(server_->data_dir() / "runtime" / "instances" /
                             std::string(k.at("instance").as_string())))
          << "step " << step << ": a standby that is gone: " << k;
    }
  }
}

TEST_F(EngineApply, AKillAtEveryStepLeavesTheOldOrTheNewNeverAMix) {
  // Without a rollback window: every apply starts new instances and retires the old.
  WriteFile(work_ / "lockstep.toml",
            "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\nrollback_window = \"0s\"\n");
  // begin, prepare ×2, start and started ×2, healthy ×2, switch, commit, retire ×2, finish
  int kills = -1;
  KillAtEveryStep(&kills);
  EXPECT_EQ(kills, 14) << "the hook must stop the apply at each of its steps";
}

TEST_F(EngineApply, AKillAtEveryStepOfAnApplyThatReusesStandbysLeavesTheOldOrTheNew) {
  // With one (the default): each apply goes back to the release the standbys run, so it
  // reuses them and keeps the instances it switched away from.
  // begin, prepare ×2, reuse ×2, healthy ×2, switch, commit, standby ×2, finish: no start,
  // and nothing to retire (the standbys it had are live again).
  int kills = -1;
  KillAtEveryStep(&kills);
  EXPECT_EQ(kills, 12);
}

TEST_F(EngineApply, ARollbackPutsTheEarlierReleaseBackUnderLoadAndHoldsIt) {
  Pin("one", "one");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  Pin("two", "two");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  ASSERT_EQ(Through(web_port_), "two\n");

  // The instances of one stay ready, unrouted, for the rollback window (15 minutes).
  const bj::value ready = Status();
  ASSERT_EQ(ready.at("standbys").as_array().size(), 2u) << ready;
  for (const bj::value& k : ready.at("standbys").as_array()) {
    EXPECT_EQ(k.at("version").as_string(), "1.0.0") << k;
    EXPECT_GT(k.at("memory_bytes").as_int64(), 0) << "what keeping it costs: " << k;
  }
  EXPECT_NE(Cli({"status", "dev"}).out.find("kept for an instant rollback"), std::string::npos);

  LoadLoop load({web_port_}, 4);
  RunResult rollback = Cli({"rollback", "dev", "web", "--reason", "two breaks checkout"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.Describe() << server_->Logs();
  EXPECT_NE(rollback.out.find("reuse web"), std::string::npos)
      << "inside the window a rollback is a switch to the instance kept: " << rollback.out;
  EXPECT_EQ(rollback.out.find("start web"), std::string::npos) << rollback.out;
  EXPECT_NE(rollback.out.find("rollback of dev"), std::string::npos) << rollback.out;
  EXPECT_NE(rollback.out.find("env.VERSION: two → one"), std::string::npos)
      << "the config comes back with the artifact: " << rollback.out;
  const uint64_t after_switch = load.Requests();
  ASSERT_TRUE(WaitFor([&] { return load.Requests() >= after_switch + 100; }));
  LoadResult result = load.Stop();
  EXPECT_EQ(result.failed + result.non_2xx, 0u) << ::testing::PrintToString(result.errors);
  EXPECT_GT(result.bodies["one\n"], 0u);
  EXPECT_EQ(Through(web_port_), "one\n");
  EXPECT_EQ(Through(api_port_), "two\n") << "only web was rolled back";

  bj::value status = Status();
  for (const bj::value& s : status.at("services").as_array()) {
    if (s.at("service").as_string() == "web") {
      ASSERT_TRUE(s.at("held").is_object()) << s;
      EXPECT_EQ(s.at("held").at("reason").as_string(), "two breaks checkout") << s;
    } else {
      EXPECT_TRUE(s.at("held").is_null()) << s;
    }
  }
  RunResult history = Cli({"history", "dev", "--output", "json"});
  bj::value h = bj::parse(history.out);
  const bj::value& last = h.at("deployments").as_array()[0];
  EXPECT_EQ(last.at("kind").as_string(), "rollback") << last;
  EXPECT_EQ(last.at("outcome").as_string(), "succeeded") << last;
  EXPECT_EQ(last.at("why").as_string(), "two breaks checkout") << last;

  // Git is told (value by value), so it says one again; a later pin of web is shown held,
  // and an apply leaves web alone.
  ASSERT_TRUE(WaitFor([&] { return !Status().at("git").at("behind").as_bool(); }, 30s)) << Status();
  EXPECT_NE(Git(bare_, "show HEAD:environments/dev/web.toml").find("VERSION = \"one\""),
            std::string::npos)
      << "git says what runs";
  repo_->Pull();
  Pin("three", "three");
  RunResult plan = Cli({"plan", "dev", "--output", "json"});
  EXPECT_EQ(plan.exit_code, 2) << plan.Describe();
  bj::value p = bj::parse(plan.out);
  ASSERT_EQ(p.at("held").as_array().size(), 1u) << p;
  EXPECT_EQ(p.at("held").as_array()[0].at("service").as_string(), "web") << p;
  RunResult apply = Cli({"apply", "dev"});
  ASSERT_EQ(apply.exit_code, 0) << apply.Describe();
  EXPECT_NE(apply.out.find("held by"), std::string::npos) << apply.out;
  EXPECT_EQ(Through(web_port_), "one\n") << "held";
  EXPECT_EQ(Through(api_port_), "three\n");

  RunResult refused = Cli({"hold", "release", "dev", "web"});
  EXPECT_NE(refused.exit_code, 0) << "a reason is required: " << refused.Describe();
  RunResult release = Cli({"hold", "release", "dev", "web", "--reason", "checkout fixed"});
  ASSERT_EQ(release.exit_code, 0) << release.Describe();
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0);
  EXPECT_EQ(Through(web_port_), "three\n") << "released, the next apply moves it";
  RunResult audit = Cli({"audit", "--output", "json"});
  EXPECT_NE(audit.out.find("\"action\":\"hold release\""), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("\"action\":\"rollback\""), std::string::npos) << audit.out;
}

TEST_F(EngineApply, AnEnvironmentRollbackPutsEveryServiceBackInOneSwitch) {
  Pin("old", "old");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  const int64_t first = Status().at("services").as_array()[0].at("deployment_id").as_int64();
  Pin("new", "new");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  // Once a thread saw the rolled-back release of either service, never the other again.
  LoadLoop load({web_port_, api_port_}, 6, [](const std::vector<std::string>& history) {
    return NeverOldAfterNew("new\n", history);
  });
  RunResult rollback = Cli({"rollback", "dev", "--to", std::to_string(first)});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.Describe() << server_->Logs();
  const uint64_t after_switch = load.Requests();
  ASSERT_TRUE(WaitFor([&] { return load.Requests() >= after_switch + 100; }));
  LoadResult result = load.Stop();
  EXPECT_EQ(result.failed + result.non_2xx, 0u) << ::testing::PrintToString(result.errors);
  EXPECT_EQ(result.out_of_order, 0u) << "a thread saw one old and one new service";
  EXPECT_EQ(Through(web_port_), "old\n");
  EXPECT_EQ(Through(api_port_), "old\n");
  const bj::value after = Status();
  for (const bj::value& s : after.at("services").as_array()) {
    EXPECT_TRUE(s.at("held").is_object()) << "both were put back, both held: " << s;
  }
}

TEST_F(EngineApply, RollbacksThatCannotBeDoneAreRefusedAndChangeNothing) {
  WriteFile(work_ / "lockstep.toml",
            "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\nvolumes = "
            "[\"uploads\"]\n");
  Pin("one", "one");
  // web 1 writes to the environment's volume.
  WriteFile(work_ / "environments" / "dev" / "web.toml",
            "version = \"1.0.0\"\ndigest = \"" + digest_ +
                "\"\n[env]\nVERSION = \"one\"\n[grants]\nvolumes = { uploads = \"rw\" }\n"
                "[service]\nport = " +
                std::to_string(web_port_) + "\n");
  repo_->CommitAndPush("web writes uploads");
  Hook();
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();

  RunResult only = Cli({"rollback", "dev", "api"});
  EXPECT_EQ(only.exit_code, 1) << only.Describe();
  EXPECT_NE(only.err.find("no earlier release"), std::string::npos) << only.err;
  RunResult unknown = Cli({"rollback", "dev", "--to", "999"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.Describe();
  EXPECT_NE(unknown.err.find("no deployment 999 in dev"), std::string::npos) << unknown.err;
  RunResult version = Cli({"rollback", "dev", "web", "--to", "9.9.9"});
  EXPECT_EQ(version.exit_code, 1) << version.Describe();

  // The environment gives the volume up; web 2 no longer needs it.
  WriteFile(work_ / "lockstep.toml", "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\n");
  Pin("two", "two");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  bj::value before = Status();
  RunResult grant = Cli({"rollback", "dev", "web"});
  EXPECT_EQ(grant.exit_code, 1) << grant.Describe();
  EXPECT_NE(grant.err.find("needs volume uploads"), std::string::npos) << grant.err;
  EXPECT_NE(grant.err.find("no longer owns"), std::string::npos) << grant.err;
  EXPECT_EQ(Through(web_port_), "two\n");
  EXPECT_EQ(Status().at("services"), before.at("services")) << "nothing recorded";
  RunResult history = Cli({"history", "dev", "--output", "json"});
  bj::value h = bj::parse(history.out);
  EXPECT_EQ(h.at("deployments").as_array()[0].at("kind").as_string(), "apply")
      << "a refused rollback is no deployment: " << h;
}

// A pin file as people keep it: comments on every line, aligned values, blank lines.
std::string CommentedPin(const std::string& digest, const std::string& version, uint16_t port) {
  return "# web in dev: bumped by CI, reviewed by a person.\n"
         "version = \"1.0.0\"    # the tag people read\n"
         "digest  = \"" +
         digest +
         "\"  # what runs\n"
         "\n"
         "# What this environment sets.\n"
         "[env]\n"
         "VERSION = \"" +
         version +
         "\"   # shown at /\n"
         "\n"
         "[service]\n"
         "port = " +
         std::to_string(port) + "  # the proxy's\n";
}

TEST_F(EngineApply, ARollbackIsWrittenBackToGitValueByValueCommentsIntact) {
  Pin("one", "one");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  WriteFile(work_ / "environments" / "dev" / "web.toml", CommentedPin(digest_, "two", web_port_));
  const std::string two = repo_->CommitAndPush("web two, with comments");
  Hook();
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();

  RunResult rollback = Cli({"rollback", "dev", "web", "--reason", "two breaks checkout"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.Describe();
  bj::value status;
  ASSERT_TRUE(WaitFor(
      [&] {
        status = Status();
        return !status.at("git").at("behind").as_bool();
      },
      30s))
      << status << server_->Logs();
  EXPECT_EQ(Git(bare_, "rev-parse HEAD~1"), two + "\n") << "one commit on top of the branch";
  EXPECT_EQ(Git(bare_, "show HEAD:environments/dev/web.toml"),
            CommentedPin(digest_, "one", web_port_))
      << "only the value changed; every comment and blank line is where it was";
  EXPECT_EQ(Git(bare_, "diff --name-only HEAD~1 HEAD"), "environments/dev/web.toml\n");
  EXPECT_EQ(Git(bare_, "log -1 --format=%an"), "anonymous\n") << "who rolled back";
  std::string message = Git(bare_, "log -1 --format=%B");
  EXPECT_NE(message.find("Roll back web 1.0.0 → 1.0.0 in dev"), std::string::npos) << message;
  EXPECT_NE(message.find("two breaks checkout"), std::string::npos) << message;
  EXPECT_NE(message.find("lockstep hold release dev"), std::string::npos) << message;

  // The branch now says what runs: the next plan has nothing to do, held or not.
  RunResult release = Cli({"hold", "release", "dev", "web", "--reason", "git agrees"});
  ASSERT_EQ(release.exit_code, 0) << release.Describe();
  RunResult plan = Cli({"plan", "dev"});
  EXPECT_EQ(plan.exit_code, 0) << plan.Describe();
}

TEST_F(EngineApply, AWriteBackTheRemoteRefusesLeavesTheRollbackLiveAndIsRetried) {
  const fs::path away = scratch_.path() / "remote-down";
  RollBackWebWhileTheRemoteIsDown(away);
  EXPECT_EQ(Through(web_port_), "one\n") << "live";
  bj::value status = Status();
  EXPECT_TRUE(status.at("git").at("behind").as_bool()) << status;
  RunResult text = Cli({"status", "dev"});
  EXPECT_NE(text.out.find("git is behind"), std::string::npos) << text.out;

  // The remote comes back, and someone pushed meanwhile (another service): built upon.
  fs::rename(away, bare_);
  WriteFile(work_ / "environments" / "dev" / "api.toml",
            "# api, bumped meanwhile\nversion = \"1.0.0\"\ndigest = \"" + digest_ +
                "\"\n[env]\nVERSION = \"three\"\n[service]\nport = " + std::to_string(api_port_) +
                "\n");
  const std::string meanwhile = repo_->CommitAndPush("api three");
  ASSERT_TRUE(WaitFor([&] { return !Status().at("git").at("behind").as_bool(); }, 60s))
      << Status() << server_->Logs();
  EXPECT_EQ(Git(bare_, "rev-parse HEAD~1"), meanwhile + "\n");
  EXPECT_NE(Git(bare_, "show HEAD:environments/dev/web.toml").find("VERSION = \"one\""),
            std::string::npos);
  EXPECT_NE(Git(bare_, "show HEAD:environments/dev/api.toml").find("VERSION = \"three\""),
            std::string::npos)
      << "the other change is kept";
  EXPECT_EQ(Through(web_port_), "one\n");
}

TEST_F(EngineApply, AFileSomeoneChangedAfterTheRollbackIsLeftForAPerson) {
  const fs::path away = scratch_.path() / "remote-down";
  RollBackWebWhileTheRemoteIsDown(away);
  // The first try recorded the branch's head; then a person changes web.toml.
  fs::rename(away, bare_);
  Pin("two-fixed", "two");
  bj::value status;
  ASSERT_TRUE(WaitFor(
      [&] {
        status = Status();
        const bj::array& owed = status.at("git").at("write_backs").as_array();
        return !owed.empty() && owed[0].at("state").as_string() == "conflict";
      },
      60s))
      << status << server_->Logs();
  EXPECT_NE(std::string(status.at("git").at("write_backs").as_array()[0].at("error").as_string())
                .find("a person decides"),
            std::string::npos)
      << status;
  EXPECT_NE(Git(bare_, "show HEAD:environments/dev/web.toml").find("two-fixed"), std::string::npos)
      << "lockstep wrote nothing over it";
  EXPECT_EQ(Through(web_port_), "one\n") << "the rollback stays live, held";
}

TEST_F(EngineApply, OutsideTheWindowARollbackStartsTheReleaseAgainAndStandbysEndWithIt) {
  WriteFile(work_ / "lockstep.toml",
            "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\nrollback_window = "
            "\"1s\"\n");
  Pin("one", "one");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  Pin("two", "two");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  // The window ends: the server retires what it kept.
  ASSERT_TRUE(WaitFor([&] { return Status().at("standbys").as_array().empty(); }, 30s)) << Status();
  size_t instances = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator(server_->data_dir() / "runtime" / "instances")) {
    ++instances;
  }
  EXPECT_EQ(instances, 2u) << "only the live instances are left";

  // Then a rollback starts the earlier release from the cached image, health-gated.
  LoadLoop load({web_port_}, 4);
  RunResult rollback = Cli({"rollback", "dev", "web"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.Describe() << server_->Logs();
  EXPECT_NE(rollback.out.find("start web"), std::string::npos) << rollback.out;
  EXPECT_NE(rollback.out.find("healthy web"), std::string::npos) << rollback.out;
  LoadResult result = load.Stop();
  EXPECT_EQ(result.failed + result.non_2xx, 0u) << ::testing::PrintToString(result.errors);
  EXPECT_EQ(Through(web_port_), "one\n");
}

TEST_F(EngineApply, ASecondRollbackGoesFurtherBackNotForwardAgain) {
  Pin("one", "one");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  Pin("two", "two");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  Pin("three", "three");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  ASSERT_EQ(Cli({"rollback", "dev", "web"}).exit_code, 0);
  EXPECT_EQ(Through(web_port_), "two\n");
  RunResult again = Cli({"rollback", "dev", "web"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(Through(web_port_), "one\n") << "not back to three, which was rolled back from";
  RunResult forward = Cli({"rollback", "dev", "web", "--to", "r"});
  EXPECT_NE(forward.exit_code, 0) << "a prefix shorter than 4 names nothing: "
                                  << forward.Describe();
}

TEST_F(EngineApply, ReleasingTheHoldClosesAWriteBackNotYetPushed) {
  const fs::path away = scratch_.path() / "remote-down";
  RollBackWebWhileTheRemoteIsDown(away);
  ASSERT_TRUE(Status().at("git").at("behind").as_bool());
  RunResult release = Cli({"hold", "release", "dev", "web", "--reason", "two is fixed"});
  ASSERT_EQ(release.exit_code, 0) << release.Describe();
  const bj::value after = Status();
  EXPECT_FALSE(after.at("git").at("behind").as_bool())
      << "pushed later, the rollback would undo what people decide next: " << after;
  fs::rename(away, bare_);
}

}  // namespace
}  // namespace lockstep::testing
