// The engine end to end: a deploy repository in a bare git remote, lockstep serve with its
// registry, real runc containers behind its proxy, driven by the CLI over the API. Two
// services change together or not at all, and a load loop through the proxy checks it; a
// kill at every step leaves the old or the new. (Rollbacks: engine_rollback_test.cc.)
#include <gtest/gtest.h>

#include "tests/support/engine_env.h"

namespace lockstep::testing {

namespace engine_env {

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

}  // namespace engine_env

namespace {

using namespace engine_env;

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
  std::string token = server_->CreateToken("viewer", "reader");
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

}  // namespace
}  // namespace lockstep::testing
