// Functions and logs of an environment end to end: a deploy repository in a bare git
// remote, lockstep serve applying it onto real runc, the CLI and the HTTP API invoking its
// functions, its scheduler running one every minute, and `lockstep logs` reading what the
// containers wrote.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>

#include "tests/support/deploy_repo.h"
#include "tests/support/http.h"
#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/peer_registry.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;
using namespace std::chrono_literals;

class EngineFunctions : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the local runtime needs root";
    repo_ = std::make_unique<DeployRepoDirs>(scratch_.path());
    work_ = repo_->work();
    const fs::path bare = repo_->bare();
    server_ = std::make_unique<LockstepServer>(
        ServerOptions{.config_toml = "[deploy]\nrepo = \"" + bare.string() +
                                     "\"\nhealth_timeout = \"8s\"\nfetch_interval = \"1h\"\n"});
    MakeBusyboxTree(scratch_.path() / "tree");
    RunResult pack = Lockstep({"pack", (scratch_.path() / "tree").string(), "--repo",
                               server_->host() + "/apps/tools", "--version", "1.0.0", "--push",
                               "--insecure", "--quiet"});
    ASSERT_EQ(pack.exit_code, 0) << pack.Describe();
    const std::string digest = pack.OutLine();
    web_port_ = FreePort();
    WriteFile(work_ / "lockstep.toml",
              "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\n");
    // greet: the event on stdin, answered with a greeting; a line on stderr for its log;
    // exits with the status the event names after "exit ".
    WriteFile(work_ / "services" / "greet.toml", R"(kind = "function"
image = "apps/tools"
entrypoint = ["/bin/sh", "-c", 'read -r event; echo "greet saw $event" >&2; echo "hello, $event from $GREETING"; case "$event" in "exit "*) exit ${event#exit };; esac']
[env]
GREETING = "dev"
[limits]
timeout = "10s"
)");
    // tick: every minute, on its schedule.
    WriteFile(work_ / "services" / "tick.toml", R"(kind = "function"
image = "apps/tools"
entrypoint = ["/bin/sh", "-c", "echo ticked >&2"]
schedule = "* * * * *"
)");
    WriteFile(work_ / "services" / "web.toml", R"(kind = "service"
image = "apps/tools"
entrypoint = ["/bin/sh", "-c", '''echo "web $VERSION listening on $PORT"; mkdir -p /tmp/www && echo ok > /tmp/www/health && exec /bin/busybox httpd -f -p 127.0.0.1:$PORT -h /tmp/www''']
[env]
VERSION = "one"
[service]
drain = "1s"
health = { path = "/health", interval = "100ms", timeout = "500ms" }
)");
    for (const char* service : {"greet", "tick", "web"}) {
      WriteFile(work_ / "environments" / "dev" / (std::string(service) + ".toml"),
                "version = \"1.0.0\"\ndigest = \"" + digest + "\"\n" +
                    (std::string(service) == "web"
                         ? "[service]\nport = " + std::to_string(web_port_) + "\n"
                         : ""));
    }
    repo_->CommitAndPush("dev");
    ASSERT_EQ(Post("/api/v1/hooks/git", "").status, 403) << "no webhook secret configured";
    RunResult fetched = Cli({"plan", "dev"});
    ASSERT_EQ(fetched.exit_code, 2) << fetched.Describe() << server_->Logs();
    RunResult apply = Cli({"apply", "dev"});
    ASSERT_EQ(apply.exit_code, 0) << apply.Describe() << server_->Logs();
  }

  void TearDown() override {
    if (server_ == nullptr) return;
    server_->Kill9();
    RemoveLocalRuntime(server_->data_dir() / "runtime");
    server_.reset();
  }

  RunResult Cli(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.push_back("--server");
    args.push_back(server_->url(""));
    args.insert(args.begin(), LockstepBinary());
    return RunCommand(args, 120s, stdin_data);
  }

  HttpResponse Post(const std::string& path, std::string body) {
    return Send(
        {.method = "POST", .url = server_->url(path), .body = std::move(body), .send_body = true});
  }

  bj::value History(const std::string& service) {
    RunResult h = Cli({"history", "dev", service, "--output", "json"});
    EXPECT_EQ(h.exit_code, 0) << h.Describe();
    return h.exit_code == 0 ? bj::parse(h.out) : bj::value();
  }

  ScratchDir scratch_;
  std::unique_ptr<DeployRepoDirs> repo_;
  fs::path work_;
  std::unique_ptr<LockstepServer> server_;
  uint16_t web_port_ = 0;
};

TEST_F(EngineFunctions, AFunctionIsInvokedByTheCliAndOverHttpAndEachRunIsInHistory) {
  RunResult cli = Cli({"invoke", "dev", "greet", "--event", "-"}, "ada\n");
  ASSERT_EQ(cli.exit_code, 0) << cli.Describe() << server_->Logs();
  EXPECT_EQ(cli.out, "hello, ada from dev\n") << "the environment's release, config included";

  // As an application calls a Lambda: the event is the body, the output comes back.
  HttpResponse http = Post("/api/v1/environments/dev/functions/greet/invoke", "grace\n");
  ASSERT_EQ(http.status, 200) << http.Describe();
  EXPECT_EQ(http.body, "hello, grace from dev\n");
  EXPECT_EQ(http.Header("x-lockstep-exit-code"), "0");
  EXPECT_EQ(http.Header("x-lockstep-function-error"), "");

  // A failing run is still a run: its output, its exit code, exit 1 from the CLI.
  RunResult failed =
      Cli({"invoke", "dev", "greet", "--event", "-", "--output", "json"}, "exit 3\n");
  EXPECT_EQ(failed.exit_code, 1) << failed.Describe();
  bj::value answer = bj::parse(failed.out);
  EXPECT_EQ(answer.at("exit_code").as_int64(), 3) << answer;
  EXPECT_GE(answer.at("duration_ms").as_int64(), 0) << answer;
  EXPECT_EQ(answer.at("error").as_string(), "exit 3") << answer;
  EXPECT_NE(failed.err.find("lockstep logs dev greet"), std::string::npos) << failed.err;

  // Its log is the last run's stderr.
  RunResult logs = Cli({"logs", "dev", "greet"});
  ASSERT_EQ(logs.exit_code, 0) << logs.Describe();
  EXPECT_NE(logs.out.find("greet saw exit 3"), std::string::npos) << logs.out;

  bj::value h = History("greet");
  const bj::array& runs = h.at("invocations").as_array();
  ASSERT_EQ(runs.size(), 3u) << h;
  EXPECT_EQ(runs[0].at("exit_code").as_int64(), 3) << runs[0];
  EXPECT_EQ(runs[1].at("exit_code").as_int64(), 0) << runs[1];
  for (const bj::value& r : runs) {
    EXPECT_EQ(r.at("trigger").as_string(), "call") << r;
    EXPECT_FALSE(r.at("finished_at").is_null()) << r;
    EXPECT_TRUE(r.at("error").is_null()) << r;
  }
  RunResult text = Cli({"history", "dev", "greet"});
  EXPECT_NE(text.out.find("greet  call by"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("exit 3"), std::string::npos) << text.out;
}

TEST_F(EngineFunctions, WhatIsNotAFunctionOrNotThereIsRefusedClearly) {
  HttpResponse service = Post("/api/v1/environments/dev/functions/web/invoke", "");
  EXPECT_EQ(service.status, 409) << service.Describe();
  EXPECT_NE(service.body.find("web is a service"), std::string::npos) << service.body;
  HttpResponse missing = Post("/api/v1/environments/dev/functions/nope/invoke", "");
  EXPECT_EQ(missing.status, 404) << missing.Describe();
  HttpResponse bad = Post("/api/v1/environments/dev/functions/..%2f..%2fetc/invoke", "");
  EXPECT_EQ(bad.status, 400) << bad.Describe();
  EXPECT_NE(bad.body.find("\"field\":\"service\""), std::string::npos) << bad.body;
  RunResult cli = Cli({"invoke", "dev", "Web"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_NE(cli.err.find("is not a name"), std::string::npos) << cli.err;
  bj::value all = History("");
  for (const bj::value& r : all.at("invocations").as_array()) {
    EXPECT_EQ(r.at("function").as_string(), "tick") << "only the scheduled one ran: " << r;
  }
}

TEST_F(EngineFunctions, TokensInvokeAndReadLogsOnlyAsTheirRoleAndScopeAllow) {
  const std::string tools = server_->CreateToken("deployer:dev", "dev-deployer");
  const std::string other = server_->CreateToken("deployer:prod", "prod-deployer");
  const std::string reader = server_->CreateToken("viewer;ci:**", "reader");
  auto as = [&](const std::string& token, const std::string& method, const std::string& path) {
    return Send({.method = method,
                 .url = server_->url(path),
                 .body = method == "POST" ? "ada\n" : "",
                 .send_body = method == "POST",
                 .basic_user = "t",
                 .basic_password = token});
  };
  const std::string invoke = "/api/v1/environments/dev/functions/greet/invoke";
  HttpResponse allowed = as(tools, "POST", invoke);
  EXPECT_EQ(allowed.status, 200) << allowed.Describe();
  EXPECT_EQ(allowed.body, "hello, ada from dev\n");
  HttpResponse scoped = as(other, "POST", invoke);
  EXPECT_EQ(scoped.status, 403) << scoped.Describe();
  EXPECT_NE(scoped.body.find("may not invoke functions in dev: that needs admin or deployer "
                             "covering dev"),
            std::string::npos)
      << scoped.body;
  HttpResponse pull = as(reader, "POST", invoke);
  EXPECT_EQ(pull.status, 403) << pull.Describe();

  const std::string logs = "/api/v1/environments/dev/services/greet/logs";
  EXPECT_EQ(as(reader, "GET", logs).status, 403) << "a log holds what a function prints";
  HttpResponse read = as(tools, "GET", logs);
  EXPECT_EQ(read.status, 200) << read.Describe();
  EXPECT_NE(read.body.find("greet saw ada"), std::string::npos) << read.body;
  EXPECT_EQ(as(reader, "GET", "/api/v1/environments/dev").status, 200) << "status is a read";

  bj::value h = History("greet");
  const bj::array& runs = h.at("invocations").as_array();
  ASSERT_EQ(runs.size(), 1u) << "refused calls ran nothing: " << h;
  EXPECT_EQ(runs[0].at("actor").as_string(), "dev-deployer") << runs[0];
}

TEST_F(EngineFunctions, AScheduledFunctionRunsOnItsScheduleInTheCurrentRelease) {
  // Every minute: the scheduler's next tick runs this minute's, once.
  bj::value h;
  ASSERT_TRUE(WaitFor(
      [&] {
        h = History("tick");
        return h.is_object() && !h.at("invocations").as_array().empty() &&
               !h.at("invocations").as_array()[0].at("finished_at").is_null();
      },
      30s))
      << h << server_->Logs();
  const bj::value& run = h.at("invocations").as_array()[0];
  EXPECT_EQ(run.at("trigger").as_string(), "schedule") << run;
  EXPECT_EQ(run.at("exit_code").as_int64(), 0) << run;
  EXPECT_EQ(run.at("scheduled_for").as_int64() % 60, 0) << run;
  bj::value status = bj::parse(Cli({"status", "dev", "--output", "json"}).out);
  for (const bj::value& s : status.at("services").as_array()) {
    if (s.at("service").as_string() == "tick") {
      EXPECT_EQ(run.at("release").as_string(), s.at("release").as_string()) << s;
      EXPECT_EQ(s.at("invoke").as_string(), "/api/v1/environments/dev/functions/tick/invoke");
    }
  }
  RunResult logs = Cli({"logs", "dev", "tick"});
  EXPECT_NE(logs.out.find("ticked"), std::string::npos) << logs.Describe();
}

TEST_F(EngineFunctions, LogsOfAServiceAreItsInstancesAndFollowPrintsWhatFollows) {
  RunResult logs = Cli({"logs", "dev", "web"});
  ASSERT_EQ(logs.exit_code, 0) << logs.Describe();
  EXPECT_NE(logs.out.find("web one listening on"), std::string::npos) << logs.out;

  // --follow keeps printing: what the instance writes after it started shows up. busybox
  // httpd writes nothing per request, so the next thing written is a new release's line,
  // under a header naming the new instance.
  Background follow(
      {LockstepBinary(), "logs", "dev", "web", "--follow", "--server", server_->url("")},
      scratch_.path() / "follow");
  ASSERT_TRUE(WaitFor([&] { return follow.Stdout().find("web one") != std::string::npos; }))
      << follow.Stderr();
  std::string text = std::string(
      std::istreambuf_iterator<char>(std::ifstream(work_ / "services" / "web.toml").rdbuf()), {});
  text.replace(text.find("VERSION = \"one\""), 15, "VERSION = \"two\"");
  WriteFile(work_ / "services" / "web.toml", text);
  repo_->CommitAndPush("two");
  RunResult apply = Cli({"apply", "dev"});
  ASSERT_EQ(apply.exit_code, 0) << apply.Describe() << server_->Logs();
  EXPECT_TRUE(WaitFor([&] { return follow.Stdout().find("web two") != std::string::npos; }))
      << follow.Stdout() << follow.Stderr();
  EXPECT_NE(follow.Stdout().find("--- now "), std::string::npos) << follow.Stdout();
  EXPECT_TRUE(follow.Running()) << follow.Stderr();
}

}  // namespace
}  // namespace lockstep::testing
