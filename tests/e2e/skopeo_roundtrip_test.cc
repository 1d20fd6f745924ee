// skopeo pushes images built with umoci to a fresh `lockstep serve` and pulls them back:
// the pulled bytes equal the pushed, and `skopeo inspect` shows the tags.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

class SkopeoRoundTrip : public ::testing::Test {
 protected:
  // Pushes layout:tag to repo:tag, pulls it back into a new layout and checks every
  // reachable blob is byte-identical.
  void RoundTrip(const fs::path& layout, const std::string& tag, const std::string& repo,
                 bool all = false) {
    std::string ref = "docker://" + server_.host() + "/" + repo + ":" + tag;
    std::vector<std::string> push = {"copy", "--dest-tls-verify=false"};
    if (all) push.push_back("--all");
    push.insert(push.end(), {"oci:" + layout.string() + ":" + tag, ref});
    RunResult pushed = RunCommand(Skopeo(push));
    ASSERT_EQ(pushed.exit_code, 0) << pushed.Describe();

    fs::path pulled = server_.scratch() / ("pulled-" + tag);
    std::vector<std::string> pull = {"copy", "--src-tls-verify=false"};
    if (all) pull.push_back("--all");
    pull.insert(pull.end(), {ref, "oci:" + pulled.string() + ":" + tag});
    RunResult got = RunCommand(Skopeo(pull));
    ASSERT_EQ(got.exit_code, 0) << got.Describe();

    std::string digest = LayoutDigest(layout, tag);
    EXPECT_EQ(LayoutDigest(pulled, tag), digest);
    for (const std::string& blob : ReachableBlobs(layout, digest)) {
      EXPECT_EQ(ReadBlob(pulled, blob), ReadBlob(layout, blob)) << blob;
    }
  }

  LockstepServer server_;
};

TEST_F(SkopeoRoundTrip, OneLargeLayer) {
  fs::path layout = server_.scratch() / "large";
  MakeImage(layout, "1.0.0", {{"data/blob.bin", RandomBytes(48 << 20, 7)}});
  RoundTrip(layout, "1.0.0", "big/app");
}

TEST_F(SkopeoRoundTrip, ManySmallImagesAndInspectShowsTags) {
  fs::path layout = server_.scratch() / "small";
  for (int i = 0; i < 12; ++i) {
    std::string tag = "v" + std::to_string(i);
    MakeImage(layout, tag, {{"app/version", tag}, {"app/data", RandomBytes(4096, i)}});
    RoundTrip(layout, tag, "small/app");
  }
  RunResult inspect = RunCommand(
      Skopeo({"inspect", "--tls-verify=false", "docker://" + server_.host() + "/small/app:v3"}));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.Describe();
  boost::json::value info = boost::json::parse(inspect.out);
  EXPECT_EQ(info.at("Digest").as_string(), LayoutDigest(layout, "v3"));
  const auto& tags = info.at("RepoTags").as_array();
  EXPECT_EQ(tags.size(), 12u);
  EXPECT_NE(std::find(tags.begin(), tags.end(), boost::json::value("v11")), tags.end());
}

TEST_F(SkopeoRoundTrip, ImageIndex) {
  fs::path layout = server_.scratch() / "multi";
  MakeImage(layout, "amd", {{"arch", "amd64"}});
  MakeImage(layout, "arm", {{"arch", "arm64"}});
  std::string index = MakeIndex(layout, "2.0.0", {"amd", "arm"});
  RoundTrip(layout, "2.0.0", "multi/app", /*all=*/true);
  RunResult raw = RunCommand(Skopeo({"inspect", "--raw", "--tls-verify=false",
                                     "docker://" + server_.host() + "/multi/app:2.0.0"}));
  ASSERT_EQ(raw.exit_code, 0) << raw.Describe();
  EXPECT_EQ(raw.out, ReadBlob(layout, index));
}

TEST_F(SkopeoRoundTrip, SkopeoDeleteByDigestIsRefusedForATaggedImage) {
  fs::path layout = server_.scratch() / "del";
  MakeImage(layout, "1", {{"f", "x"}});
  RunResult pushed =
      RunCommand(Skopeo({"copy", "--dest-tls-verify=false", "oci:" + layout.string() + ":1",
                         "docker://" + server_.host() + "/del/app:1"}));
  ASSERT_EQ(pushed.exit_code, 0) << pushed.Describe();
  RunResult del = RunCommand(
      Skopeo({"delete", "--tls-verify=false", "docker://" + server_.host() + "/del/app:1"}));
  EXPECT_NE(del.exit_code, 0);
  EXPECT_NE(del.err.find("immutable"), std::string::npos) << del.Describe();
  RunResult still = RunCommand(
      Skopeo({"inspect", "--tls-verify=false", "docker://" + server_.host() + "/del/app:1"}));
  EXPECT_EQ(still.exit_code, 0) << still.Describe();
}

}  // namespace
}  // namespace lockstep::testing
