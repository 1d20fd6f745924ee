// Rollbacks end to end on the engine's fixture (real runc behind the proxy, a bare git
// remote checked with the git CLI): a service or a whole environment put back under load,
// instant inside the rollback window and started again outside it, held, refused when it
// cannot be done, and written back to git value by value, retried while the remote is down.
#include <gtest/gtest.h>

#include "tests/support/engine_env.h"

namespace lockstep::testing {
namespace {

using namespace engine_env;

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

TEST_F(EngineApply, AnEnvironmentRollbackTakesAwayInGitWhatItTookAwayInTheEnvironment) {
  Pin("old", "old");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  // Then api goes (deployed nowhere: its service file too) while web moves on.
  Pin("mid", "old");
  fs::remove(work_ / "environments" / "dev" / "api.toml");
  fs::remove(work_ / "services" / "api.toml");
  repo_->CommitAndPush("api goes");
  Hook();
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  const bj::value before = Status();
  ASSERT_EQ(before.at("services").as_array().size(), 1u) << before;
  const int64_t without_api = before.at("services").as_array()[0].at("deployment_id").as_int64();
  // api comes back, and web moves on again.
  WriteFile(work_ / "services" / "api.toml", kServiceFile);
  Pin("new", "new");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  ASSERT_EQ(Status().at("services").as_array().size(), 2u);

  RunResult rollback = Cli({"rollback", "dev", "--to", std::to_string(without_api)});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.Describe() << server_->Logs();
  EXPECT_EQ(Through(web_port_), "mid\n");
  EXPECT_EQ(Status().at("services").as_array().size(), 1u) << "api is gone again";
  ASSERT_TRUE(GitCaughtUp());
  EXPECT_EQ(Git(bare_, "diff --name-status HEAD~1 HEAD"),
            "D\tenvironments/dev/api.toml\nM\tenvironments/dev/web.toml\nD\tservices/api.toml\n");
  EXPECT_NE(Git(bare_, "show HEAD:environments/dev/web.toml").find("VERSION = \"mid\""),
            std::string::npos);
  std::string message = Git(bare_, "log -1 --format=%B");
  EXPECT_NE(message.find("api 1.0.0 → removed"), std::string::npos) << message;
  EXPECT_NE(message.find("services/api.toml (removed: no environment deploys it"),
            std::string::npos)
      << message;

  // git says what runs: released, the next plan has nothing to do.
  for (const char* service : {"web", "api"}) {
    RunResult release = Cli({"hold", "release", "dev", service, "--reason", "git agrees"});
    ASSERT_EQ(release.exit_code, 0) << release.Describe();
  }
  RunResult plan = Cli({"plan", "dev"});
  EXPECT_EQ(plan.exit_code, 0) << plan.Describe();
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
  ASSERT_TRUE(GitCaughtUp());
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
  // The window ends: the server retires what it kept (the record goes first, then the
  // instance, drained).
  ASSERT_TRUE(WaitFor([&] { return Status().at("standbys").as_array().empty(); }, 30s)) << Status();
  auto instances = [&] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         fs::directory_iterator(server_->data_dir() / "runtime" / "instances")) {
      ++n;
    }
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return instances() == 2; }, 30s))
      << instances() << " instances: only the live ones should be left";

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

// The registry loses the earlier release's image (its manifest and blobs are gone from
// the server's store, as after a GC): outside the window the rollback starts it from the
// target's cache, and asks the registry for nothing.
TEST_F(EngineApply, OutsideTheWindowARollbackNeedsNothingFromTheRegistry) {
  WriteFile(work_ / "lockstep.toml",
            "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\nrollback_window = "
            "\"0s\"\n");
  // web two is another image (one more file), so web one's image is web's alone.
  WriteFile(scratch_.path() / "tree" / "two", "two\n");
  RunResult pack = Lockstep({"pack", (scratch_.path() / "tree").string(), "--repo",
                             server_->host() + "/apps/shop", "--version", "2.0.0", "--push",
                             "--insecure", "--quiet"});
  ASSERT_EQ(pack.exit_code, 0) << pack.Describe();
  const std::string two = pack.OutLine();
  ASSERT_NE(two, digest_);
  Pin("one", "one");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  WriteFile(work_ / "environments" / "dev" / "web.toml",
            "version = \"2.0.0\"\ndigest = \"" + two +
                "\"\n[env]\nVERSION = \"two\"\n[service]\nport = " + std::to_string(web_port_) +
                "\n");
  repo_->CommitAndPush("web two");
  Hook();
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << server_->Logs();
  ASSERT_EQ(Through(web_port_), "two\n");

  // web one's image goes from the registry: its manifest, config and layer blobs (api runs
  // it from the target's cache meanwhile).
  const std::string manifest_url = server_->url("/v2/apps/shop/manifests/" + digest_);
  HttpResponse manifest = Get(manifest_url, {"Accept: application/vnd.oci.image.manifest.v1+json"});
  ASSERT_EQ(manifest.status, 200) << manifest.Describe();
  const bj::value m = bj::parse(manifest.body);
  std::vector<std::string> blobs = {digest_, std::string(m.at("config").at("digest").as_string())};
  for (const bj::value& layer : m.at("layers").as_array()) {
    blobs.emplace_back(layer.at("digest").as_string());
  }
  for (const std::string& d : blobs) {
    const std::string hex = d.substr(d.find(':') + 1);
    ASSERT_TRUE(
        fs::remove(server_->data_dir() / "registry" / "blobs" / "sha256" / hex.substr(0, 2) / hex))
        << d;
  }
  EXPECT_NE(Get(manifest_url, {"Accept: application/vnd.oci.image.manifest.v1+json"}).status, 200)
      << "the registry can no longer serve web one";

  LoadLoop load({web_port_}, 4);
  RunResult rollback = Cli({"rollback", "dev", "web"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.Describe() << server_->Logs();
  EXPECT_NE(rollback.out.find("start web"), std::string::npos) << rollback.out;
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
