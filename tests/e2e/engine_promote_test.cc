// Promotion end to end through the CLI on real runc and a real git remote: the artifact
// built once goes dev → staging → prod by digest, each step refused until it proved
// itself (live and healthy for the next environment's soak), each step written to the
// deploy repository by lockstep (checked with the git CLI) and attested; prod's two
// approvals; the chain checked with the public key alone, and published as referrers of
// the image; an apply without an upstream attestation refused, then an admin's override,
// audited.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

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

// busybox httpd answering "$VERSION" at /, and at /health for $HEALTH_FOR seconds if set
// (else for good).
constexpr const char* kService = R"(kind = "service"
image = "apps/web"
entrypoint = ["/bin/sh", "-c", '''mkdir -p /tmp/www && echo "$VERSION" > /tmp/www/index.html && echo ok > /tmp/www/health && { [ -z "$HEALTH_FOR" ] || { sleep "$HEALTH_FOR"; rm -f /tmp/www/health; } & } && exec /bin/busybox httpd -f -p 127.0.0.1:$PORT -h /tmp/www''']
[env]
VERSION = "built once"
[service]
drain = "1s"
health = { path = "/health", interval = "100ms", timeout = "500ms" }
)";

class EnginePromote : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the local runtime needs root";
    repo_ = std::make_unique<DeployRepoDirs>(scratch_.path());
    server_ = std::make_unique<LockstepServer>(
        ServerOptions{.config_toml = "[deploy]\nrepo = \"" + repo_->bare().string() +
                                     "\"\nhealth_timeout = \"30s\"\nfetch_interval = \"1h\"\n"});
    MakeBusyboxTree(scratch_.path() / "tree");
    v1_ = Pack("1.0.0");
    for (const char* env : {"dev", "staging", "prod"}) port_[env] = FreePort();
    repo_->Write("lockstep.toml", R"(registry = "embedded"
[[environment]]
name = "dev"

[[environment]]
name = "staging"
promote_from = "dev"
soak = "3s"

[[environment]]
name = "prod"
promote_from = "staging"
approval = "required"
approvals = 2
)");
    repo_->Write("services/web.toml", kService);
    repo_->Write("services/api.toml", kService);
    Pin("dev", "web", "[service]\nport = " + std::to_string(port_["dev"]) + "\n");
    // Healthy for a second, then not.
    Pin("dev", "api",
        "[env]\nHEALTH_FOR = \"1\"\n[service]\nport = " + std::to_string(FreePort()) + "\n");
    // Staging's own settings, which promotions leave alone.
    repo_->Write("environments/staging/web.toml",
                 "# staging's web: promoted from dev\n"
                 "version = \"0.0.0\"\n"
                 "digest = \"sha256:" +
                     std::string(64, '0') +
                     "\"  # set by lockstep promote\n"
                     "\n[env]\nVERSION = \"staging's own\"\n"
                     "[service]\nport = " +
                     std::to_string(port_["staging"]) + "\n");
    repo_->Write("environments/prod/web.toml",
                 "version = \"0.0.0\"\ndigest = \"sha256:" + std::string(64, '0') +
                     "\"\n[service]\nport = " + std::to_string(port_["prod"]) + "\n");
    repo_->CommitAndPush("dev runs web 1.0.0; staging and prod wait for it");
  }

  void TearDown() override {
    if (server_ == nullptr) return;
    server_->Kill9();
    RemoveLocalRuntime(server_->data_dir() / "runtime");
    server_.reset();
  }

  std::string Pack(const std::string& version) {
    RunResult pack = Lockstep({"pack", (scratch_.path() / "tree").string(), "--repo",
                               server_->host() + "/apps/web", "--version", version, "--push",
                               "--insecure", "--quiet"});
    EXPECT_EQ(pack.exit_code, 0) << pack.Describe();
    return pack.OutLine();
  }

  void Pin(const std::string& env, const std::string& service, const std::string& more,
           const std::string& digest = "") {
    repo_->Write(
        "environments/" + env + "/" + service + ".toml",
        "version = \"1.0.0\"\ndigest = \"" + (digest.empty() ? v1_ : digest) + "\"\n" + more);
  }

  // `lockstep ARGS` as the token named `name` (made on first use, holding `grants`).
  RunResult As(const std::string& name, std::vector<std::string> args,
               const std::string& grants = "") {
    if (!tokens_.contains(name)) tokens_[name] = server_->CreateToken(grants, name);
    args.push_back("--server");
    args.push_back(server_->url(""));
    return Lockstep(args, {"LOCKSTEP_TOKEN=" + tokens_[name]});
  }
  RunResult Deployer(std::vector<std::string> args) {
    return As("dana", std::move(args), "deployer:**");
  }

  bj::value Json(const RunResult& r) {
    bj::error_code ec;
    bj::value v = bj::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.Describe();
    return v;
  }

  std::string Through(const std::string& env) {
    return Get("http://127.0.0.1:" + std::to_string(port_[env]) + "/").body;
  }

  std::string Git(const std::string& args) {
    RunResult r = RunCommand({"sh", "-c", "git -C '" + repo_->bare().string() + "' " + args});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.out;
  }

  // Promotes until the soak allows it (each refusal changes nothing); the last answer.
  RunResult PromoteOnceSoaked(const std::string& from, const std::string& to) {
    RunResult r;
    EXPECT_TRUE(WaitFor(
        [&] {
          r = Deployer({"promote", "web", "--from", from, "--to", to, "--reason", "soaked"});
          return r.exit_code == 0 || r.err.find("soak") == std::string::npos;
        },
        30s))
        << r.Describe();
    return r;
  }

  ScratchDir scratch_;
  std::unique_ptr<DeployRepoDirs> repo_;
  std::unique_ptr<LockstepServer> server_;
  std::string v1_;
  std::map<std::string, uint16_t> port_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(EnginePromote, TheDigestBuiltOnceGoesToProdProvenAtEachStep) {
  RunResult dev = Deployer({"apply", "dev"});
  ASSERT_EQ(dev.exit_code, 0) << dev.Describe() << server_->Logs();
  ASSERT_EQ(Through("dev"), "built once\n");

  // What a promotion refuses, each time saying what is missing, changing nothing.
  const std::string head = Git("rev-parse main");
  RunResult skip = Deployer({"promote", "web", "--from", "dev", "--to", "prod"});
  EXPECT_EQ(skip.exit_code, 1) << skip.Describe();
  EXPECT_NE(skip.err.find("prod promotes from staging, not dev"), std::string::npos) << skip.err;
  RunResult absent = Deployer({"promote", "web", "--from", "staging", "--to", "prod"});
  EXPECT_NE(absent.err.find("web is not live in staging"), std::string::npos) << absent.err;
  RunResult viewer = As("vic", {"promote", "web", "--from", "dev", "--to", "staging"}, "viewer");
  EXPECT_NE(viewer.err.find("may not promote into staging"), std::string::npos) << viewer.err;
  RunResult early = Deployer({"promote", "web", "api", "--from", "dev", "--to", "staging"});
  EXPECT_EQ(early.exit_code, 1) << early.Describe();
  EXPECT_NE(early.err.find("of 3s (staging's soak)"), std::string::npos) << early.err;
  RunResult sick;
  ASSERT_TRUE(WaitFor(
      [&] {
        sick = Deployer({"promote", "api", "--from", "dev", "--to", "staging"});
        return sick.err.find("unhealthy in dev since") != std::string::npos;
      },
      30s))
      << sick.Describe();
  EXPECT_NE(sick.err.find("health check /health"), std::string::npos) << sick.err;
  EXPECT_EQ(Git("rev-parse main"), head) << "no refusal wrote to the deploy repository";

  // dev → staging, once soaked: lockstep's commit pins only the artifact.
  RunResult promoted = PromoteOnceSoaked("dev", "staging");
  ASSERT_EQ(promoted.exit_code, 0) << promoted.Describe() << server_->Logs();
  EXPECT_NE(promoted.out.find("promoted web 1.0.0"), std::string::npos) << promoted.out;
  EXPECT_EQ(Git("log -1 --format=%s main"), "Promote web 1.0.0 from dev to staging\n");
  std::string staging_file = Git("show main:environments/staging/web.toml");
  EXPECT_NE(staging_file.find("digest = \"" + v1_ + "\"  # set by lockstep promote"),
            std::string::npos)
      << staging_file;
  EXPECT_NE(staging_file.find("# staging's web: promoted from dev"), std::string::npos);
  EXPECT_NE(staging_file.find("VERSION = \"staging's own\""), std::string::npos) << staging_file;
  RunResult staging = Deployer({"apply", "staging"});
  ASSERT_EQ(staging.exit_code, 0) << staging.Describe() << server_->Logs();
  EXPECT_EQ(Through("staging"), "staging's own\n") << "staging's settings stay staging's";

  // staging → prod: two approvers, not the author.
  promoted = PromoteOnceSoaked("staging", "prod");
  ASSERT_EQ(promoted.exit_code, 0) << promoted.Describe() << server_->Logs();
  const std::string alice = "deployer:prod;approver:prod";
  RunResult plan = As("alice", {"plan", "prod", "--output", "json"}, alice);
  ASSERT_EQ(plan.exit_code, 2) << plan.Describe();
  const std::string id(Json(plan).at("plan_id").as_string());
  EXPECT_EQ(As("alice", {"approve", id}, alice).exit_code, 1) << "the author's does not count";
  for (const char* approver : {"bob", "carol"}) {
    RunResult approved = As(approver, {"approve", id}, "approver:prod");
    ASSERT_EQ(approved.exit_code, 0) << approved.Describe();
  }
  RunResult prod = As("alice", {"apply", id}, alice);
  ASSERT_EQ(prod.exit_code, 0) << prod.Describe() << server_->Logs();
  bj::value status = Json(Deployer({"status", "prod", "--output", "json"}));
  EXPECT_EQ(status.at("services").as_array()[0].at("digest").as_string(), v1_)
      << "prod runs the digest built once";

  // The chain, checked with the public key alone.
  HttpResponse key = Get(server_->url("/api/v1/attestations/key"));
  ASSERT_EQ(key.status, 200) << key.Describe();
  EXPECT_EQ(key.body.find("PRIVATE"), std::string::npos);
  WriteFile(scratch_.path() / "key.pem", key.body);
  RunResult verify = As(
      "vic", {"verify", v1_, "--key", (scratch_.path() / "key.pem").string(), "--output", "json"});
  ASSERT_EQ(verify.exit_code, 0) << verify.Describe();
  bj::value checked = Json(verify);
  EXPECT_EQ(checked.at("invalid").as_int64(), 0) << checked;
  std::map<std::string, int> steps;
  for (const bj::value& a : checked.at("attestations").as_array()) {
    ASSERT_TRUE(a.at("valid").as_bool()) << a;
    const bj::value& s = a.at("statement");
    steps[std::string(s.at("kind").as_string()) + " " + std::string(s.at("from").as_string()) +
          ">" + std::string(s.at("environment").as_string())]++;
  }
  EXPECT_EQ(steps["promotion dev>staging"], 1) << checked;
  EXPECT_EQ(steps["promotion staging>prod"], 1) << checked;
  // The registry lists them as referrers of the image.
  HttpResponse referrers = Get(server_->url("/v2/apps/web/referrers/" + v1_));
  ASSERT_EQ(referrers.status, 200) << referrers.Describe();
  int published = 0;
  bj::value index = bj::parse(referrers.body);
  for (const bj::value& m : index.at("manifests").as_array()) {
    if (m.at("artifactType").as_string() == "application/vnd.lockstep.attestation.v1+json") {
      ++published;
    }
  }
  EXPECT_GE(published, 2) << referrers.body;
  // Another key vouches for nothing.
  const fs::path other = scratch_.path() / "other.pem";
  RunResult made = RunCommand(
      {"sh", "-c",
       "openssl genpkey -algorithm ed25519 | openssl pkey -pubout > '" + other.string() + "'"});
  ASSERT_EQ(made.exit_code, 0) << made.Describe();
  RunResult wrong = As("vic", {"verify", v1_, "--key", other.string()});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.Describe();
  EXPECT_NE(wrong.out.find("INVALID"), std::string::npos) << wrong.out;
}

TEST_F(EnginePromote, AnApplyWithoutAnUpstreamAttestationIsRefusedUnlessAnAdminOverrides) {
  // staging pinned by hand to an artifact dev never ran.
  WriteFile(scratch_.path() / "tree" / "etc" / "hotfix", "1\n");
  const std::string hotfix = Pack("1.0.1");
  repo_->Write("environments/staging/web.toml",
               "version = \"1.0.1\"\ndigest = \"" + hotfix +
                   "\"\n[service]\nport = " + std::to_string(port_["staging"]) + "\n");
  repo_->CommitAndPush("hotfix straight to staging");
  RunResult refused = Deployer({"apply", "staging"});
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_NE(refused.err.find("web 1.0.1 (" + hotfix.substr(0, 19) +
                             ") has no attestation from dev of a 3s soak"),
            std::string::npos)
      << refused.err;
  RunResult plan = Deployer({"plan", "staging", "--output", "json"});
  const std::string id(Json(plan).at("plan_id").as_string());
  RunResult not_admin = Deployer({"apply", id, "--override-attestation", "urgent"});
  EXPECT_EQ(not_admin.exit_code, 1) << not_admin.Describe();
  EXPECT_NE(not_admin.err.find("that is an admin's"), std::string::npos) << not_admin.err;
  EXPECT_EQ(Deployer({"status", "staging"}).exit_code, 1) << "nothing was applied";

  RunResult overridden =
      As("root", {"apply", id, "--override-attestation", "checkout is down, fix tested by hand"},
         "admin");
  ASSERT_EQ(overridden.exit_code, 0) << overridden.Describe() << server_->Logs();
  RunResult history = Deployer({"history", "staging"});
  EXPECT_NE(history.out.find("WITHOUT ATTESTATION: checkout is down"), std::string::npos)
      << history.out;
  bj::value audit = Json(Deployer({"audit", "--output", "json"}));
  bool audited = false;
  for (const bj::value& a : audit.at("audit").as_array()) {
    audited = audited || (a.at("actor").as_string() == "root" &&
                          a.at("action").as_string() == "override attestation");
  }
  EXPECT_TRUE(audited) << audit;
}

}  // namespace
}  // namespace lockstep::testing
