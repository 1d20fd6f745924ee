// Build once, run anywhere: `lockstep pack` makes a base from Debian's busybox-static and
// an app on top of it, pushes both, pulls the app back, and umoci + runc run it.
// Against lockstep's own registry and against CNCF Distribution with htpasswd auth;
// skopeo agrees with `lockstep inspect` on the digest and tags.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/peer_registry.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

class PackPushRun : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeBusyboxTree(scratch_.path() / "base");
    fs::create_directories(scratch_.path() / "app/etc");
    std::ofstream(scratch_.path() / "app/run.sh")
        << "echo \"hello from $GREETING\"; cat /etc/motd\n";
    std::ofstream(scratch_.path() / "app/etc/motd") << "built once\n";
  }

  // Packs base and app to `registry`, pulls the app and runs it; returns the app digest.
  std::string BuildPushPullRun(const std::string& registry, const std::vector<std::string>& env,
                               const std::vector<std::string>& skopeo_creds) {
    RunResult base =
        Lockstep({"pack", (scratch_.path() / "base").string(), "--repo", registry + "/base/busybox",
                  "--version", "1.36.1", "--push", "--insecure"},
                 env);
    EXPECT_EQ(base.exit_code, 0) << base.Describe();
    RunResult app =
        Lockstep({"pack", (scratch_.path() / "app").string(), "--repo", registry + "/apps/hello",
                  "--version", "1.0.0", "--base", registry + "/base/busybox:1.36.1", "--cmd",
                  R"(["/bin/sh","/run.sh"])", "--env", "GREETING=lockstep", "--push", "--insecure"},
                 env);
    EXPECT_EQ(app.exit_code, 0) << app.Describe();
    std::string digest = app.OutLine();
    EXPECT_EQ(digest.rfind("sha256:", 0), 0u) << digest;

    RunResult inspect = Lockstep(
        {"inspect", registry + "/apps/hello:1.0.0", "--insecure", "--output", "json"}, env);
    EXPECT_EQ(inspect.exit_code, 0) << inspect.Describe();
    json::value info = json::parse(inspect.out);
    EXPECT_EQ(info.at("digest").as_string(), digest);
    EXPECT_EQ(json::serialize(info.at("tags")), R"(["1.0.0"])");
    EXPECT_EQ(info.at("annotations").at("org.opencontainers.image.version").as_string(), "1.0.0");
    std::vector<std::string> sk = {"inspect", "--tls-verify=false"};
    sk.insert(sk.end(), skopeo_creds.begin(), skopeo_creds.end());
    sk.push_back("docker://" + registry + "/apps/hello:1.0.0");
    RunResult by_skopeo = RunCommand(Skopeo(sk));
    EXPECT_EQ(by_skopeo.exit_code, 0) << by_skopeo.Describe();
    EXPECT_EQ(json::parse(by_skopeo.out).at("Digest").as_string(), digest);

    fs::path layout = scratch_.path() / ("pulled-" + std::to_string(runs_++));
    RunResult pull =
        Lockstep({"pull", registry + "/apps/hello:1.0.0", layout.string(), "--insecure"}, env);
    EXPECT_EQ(pull.exit_code, 0) << pull.Describe();
    EXPECT_EQ(pull.OutLine(), digest);
    RunResult ran = RunWithRunc(layout, "1.0.0", scratch_.path());
    EXPECT_EQ(ran.exit_code, 0) << ran.Describe();
    EXPECT_EQ(ran.out, "hello from lockstep\nbuilt once\n");
    return digest;
  }

  ScratchDir scratch_;
  int runs_ = 0;
};

TEST_F(PackPushRun, AgainstLockstepsRegistry) {
  LockstepServer server;
  std::string digest = BuildPushPullRun(server.host(), {}, {});
  // Re-pushing the same version with other content is refused: the tag never moves.
  std::ofstream(scratch_.path() / "app/etc/motd") << "built twice\n";
  RunResult again =
      Lockstep({"pack", (scratch_.path() / "app").string(), "--repo", server.host() + "/apps/hello",
                "--version", "1.0.0", "--push", "--insecure"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("immutable"), std::string::npos) << again.Describe();
}

TEST_F(PackPushRun, AgainstDistributionWithHtpasswd) {
  PeerRegistry peer("ci", "s3cret");
  fs::path docker = scratch_.path() / "docker";
  fs::create_directories(docker);
  std::ofstream(docker / "config.json")
      << R"({"auths":{")" << peer.host() << R"(":{"auth":"Y2k6czNjcmV0"}}})";  // ci:s3cret
  std::string digest =
      BuildPushPullRun(peer.host(), {"DOCKER_CONFIG=" + docker.string()}, {"--creds", "ci:s3cret"});

  RunResult via_env = Lockstep({"tags", peer.host() + "/apps/hello", "--insecure"},
                               {"LOCKSTEP_REGISTRY=" + peer.host(), "LOCKSTEP_REGISTRY_USERNAME=ci",
                                "LOCKSTEP_REGISTRY_PASSWORD=s3cret"});
  EXPECT_EQ(via_env.exit_code, 0) << via_env.Describe();
  EXPECT_EQ(via_env.out, "1.0.0\n");
  RunResult wrong = Lockstep({"tags", peer.host() + "/apps/hello", "--insecure"},
                             {"LOCKSTEP_REGISTRY=" + peer.host(), "LOCKSTEP_REGISTRY_USERNAME=ci",
                              "LOCKSTEP_REGISTRY_PASSWORD=wrong"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("401"), std::string::npos) << wrong.Describe();
  RunResult none =
      Lockstep({"tags", peer.host() + "/apps/hello", "--insecure"}, {"DOCKER_CONFIG=/nonexistent"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("LOCKSTEP_REGISTRY_USERNAME"), std::string::npos) << none.Describe();
}

}  // namespace
}  // namespace lockstep::testing
