#include "deploy/repo.h"

#include <gtest/gtest.h>

namespace lockstep::deploy {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

RepoFiles Shop() {
  return {
      {"lockstep.toml",
       "registry = \"embedded\"\n"
       "[[environment]]\nname = \"dev\"\n"
       "[[environment]]\nname = \"prod\"\npromote_from = \"dev\"\napproval = \"required\"\n"
       "volumes = [\"uploads\"]\nsoak = \"10m\"\n"},
      {"services/web.toml",
       "kind = \"service\"\nimage = \"shop/web\"\nentrypoint = [\"/bin/web\"]\n"
       "[env]\nLOG_LEVEL = \"info\"\nGREETING = \"hi\"\n"
       "[limits]\nmemory = \"64Mi\"\ncpu = 0.5\n"
       "[service]\ndrain = \"5s\"\nhealth = { path = \"/healthz\", successes = 2 }\n"},
      {"services/nightly.toml",
       "kind = \"function\"\nimage = \"shop/nightly\"\nschedule = \"@daily\"\n"},
      {"environments/dev/web.toml",
       "version = \"1.2.0\"\ndigest = \"" + kDigest + "\"\n[service]\nport = 8081\n"},
      {"environments/prod/web.toml",
       "version = \"1.1.0\"\ndigest = \"" + kDigest +
           "\"\n[env]\nLOG_LEVEL = \"warn\"\n"
           "[limits]\nmemory = \"1Gi\"\n[grants]\nvolumes = { uploads = \"rw\" }\n"
           "[service]\nport = 8082\n"},
      {"environments/prod/nightly.toml", "version = \"3.0.0\"\ndigest = \"" + kDigest + "\"\n"},
      {"environments/prod/README.md", "notes for people are not read"},
  };
}

std::vector<std::string> Messages(const ReadResult& r) {
  std::vector<std::string> out;
  for (const Problem& p : r.problems) out.push_back(p.str());
  return out;
}

TEST(DeployRepo, TheEffectiveReleaseIsTheServiceOverlaidWithTheEnvironment) {
  ReadResult r = ReadRepo(Shop(), "127.0.0.1:5000");
  ASSERT_TRUE(r.problems.empty()) << ::testing::PrintToString(Messages(r));
  ASSERT_EQ(r.repo.environments.size(), 2u);
  EXPECT_EQ(r.repo.environments[0].name, "dev");
  const Environment& prod = r.repo.environments[1];
  EXPECT_EQ(prod.promote_from, "dev");
  EXPECT_EQ(prod.approval, Approval::kRequired);
  EXPECT_EQ(prod.soak_seconds, 600);
  EXPECT_EQ(prod.volumes, std::vector<std::string>{"uploads"});

  const DeployedService& dev = r.repo.deployed.at("dev").at("web");
  EXPECT_EQ(dev.version, "1.2.0");
  EXPECT_EQ(dev.release.image.registry, "127.0.0.1:5000");
  EXPECT_EQ(dev.release.image.repository, "shop/web");
  EXPECT_EQ(dev.release.image.digest->str(), kDigest);
  EXPECT_EQ(dev.release.config.env.at("LOG_LEVEL"), "info");
  EXPECT_EQ(dev.release.config.limits.memory_bytes, 64ull << 20);
  EXPECT_EQ(dev.release.config.limits.cpu_shares, 512u);
  EXPECT_EQ(dev.release.config.health.path, "/healthz");
  EXPECT_EQ(dev.release.config.health.successes, 2u);
  EXPECT_EQ(dev.public_port, 8081);
  EXPECT_EQ(dev.drain_ms, 5000);
  EXPECT_TRUE(dev.release.config.volumes.empty());

  const DeployedService& web = r.repo.deployed.at("prod").at("web");
  EXPECT_EQ(web.release.config.env.at("LOG_LEVEL"), "warn") << "the environment's value wins";
  EXPECT_EQ(web.release.config.env.at("GREETING"), "hi") << "the service's other keys stay";
  EXPECT_EQ(web.release.config.limits.memory_bytes, 1ull << 30);
  EXPECT_EQ(web.release.config.limits.cpu_shares, 512u) << "cpu from the service file";
  ASSERT_EQ(web.release.config.volumes.size(), 1u);
  EXPECT_TRUE(web.release.config.volumes[0].writable);
  EXPECT_EQ(web.release.config.entrypoint, std::vector<std::string>{"/bin/web"});
  EXPECT_NE(ReleaseId(dev.release), ReleaseId(web.release));

  const DeployedService& nightly = r.repo.deployed.at("prod").at("nightly");
  EXPECT_EQ(nightly.release.config.kind, ReleaseKind::kFunction);
  EXPECT_EQ(nightly.schedule, "@daily");
  EXPECT_FALSE(r.repo.deployed.at("dev").contains("nightly"));
}

TEST(DeployRepo, EveryProblemIsReportedAtOnceInFileOrderAndNothingIsRead) {
  RepoFiles files = Shop();
  files["environments/prod/web.toml"] =
      "version = \"1.1.0\"\ndigest = \"sha256:abc\"\n[limits]\nmemory = \"128MB\"\n";
  files["services/nightly.toml"] =
      "kind = \"function\"\nimage = \"shop/nightly\"\nschedle = \"@daily\"\n";
  ReadResult r = ReadRepo(files);
  EXPECT_TRUE(r.repo.environments.empty());
  EXPECT_TRUE(r.repo.deployed.empty());
  EXPECT_EQ(Messages(r),
            (std::vector<std::string>{
                "environments/prod/web.toml: service web has no public port: set [service] "
                "port = 8080 (any free port) in this file",
                "environments/prod/web.toml:2:10: digest \"sha256:abc\" must be \"sha256:\" and "
                "64 lowercase hex digits: the digest of the image manifest this environment "
                "runs (lockstep pack prints it)",
                "environments/prod/web.toml:4:10: memory \"128MB\": use Mi or Gi, e.g. "
                "\"128Mi\" (at least 4Mi)",
                "services/nightly.toml:3:1: unknown key \"schedle\": did you mean "
                "\"schedule\"?",
            }));
}

TEST(DeployRepo, ASyntaxErrorIsOneProblemWithItsPlace) {
  RepoFiles files = Shop();
  files["services/web.toml"] = "kind = \"service\"\nimage = \"shop/web\nport = 1\n";
  ReadResult r = ReadRepo(files);
  ASSERT_EQ(r.problems.size(), 1u) << ::testing::PrintToString(Messages(r));
  EXPECT_EQ(r.problems[0].file, "services/web.toml");
  EXPECT_EQ(r.problems[0].line, 2u);
}

TEST(DeployRepo, AnEnvironmentOverridesHealthKeyByKey) {
  RepoFiles files = Shop();
  files["environments/prod/web.toml"] += "health = { timeout = \"3s\" }\n";
  ReadResult r = ReadRepo(files);
  ASSERT_TRUE(r.problems.empty()) << ::testing::PrintToString(Messages(r));
  const HealthCheck& h = r.repo.deployed.at("prod").at("web").release.config.health;
  EXPECT_EQ(h.timeout_ms, 3000u) << "prod's own key";
  EXPECT_EQ(h.path, "/healthz") << "the service file's other keys stay";
  EXPECT_EQ(h.successes, 2u);
  EXPECT_EQ(r.repo.deployed.at("dev").at("web").release.config.health.timeout_ms, 1000u);
}

TEST(DeployRepo, AZeroHealthIntervalIsAProblemNotIgnored) {
  RepoFiles files = Shop();
  files["environments/prod/web.toml"] += "health = { interval = \"0ms\" }\n";
  ReadResult r = ReadRepo(files);
  ASSERT_EQ(r.problems.size(), 1u) << ::testing::PrintToString(Messages(r));
  EXPECT_EQ(r.problems[0].message, "health interval must be more than 0, e.g. \"1s\"");
}

}  // namespace
}  // namespace lockstep::deploy
