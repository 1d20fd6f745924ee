// Once a tag points at a manifest it never moves and is never deleted, by any path:
// manifest PUT by tag, PUT by digest naming the tag, DELETE of the tag, DELETE of the
// manifest it points at, and a mount (which moves no tag). Re-pushing identical content
// is accepted. Tags matching a configured mutable pattern may move.
#include <gtest/gtest.h>

#include "tests/support/images.h"
#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

class Immutability : public ::testing::Test {
 protected:
  void ExpectTagAt(const std::string& tag, const std::string& manifest) {
    HttpResponse r = client_.Do("GET", "/v2/app/manifests/" + tag);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.Header("docker-content-digest"), Sha(manifest));
  }
  LockstepServer server_{ServerOptions{
      .dev = true, .config_toml = "[[registry.mutable_tags]]\nrepos = \"*\"\ntags = \"latest\"\n"}};
  RegistryClient client_{server_};
};

TEST_F(Immutability, NoPathMovesOrDeletesATag) {
  std::string a = client_.PushImageParts("app", "a");
  std::string b = client_.PushImageParts("app", "b");
  ASSERT_EQ(client_.PutManifest("app", "1.0.0", a).status, 201);

  EXPECT_EQ(client_.PutManifest("app", "1.0.0", a).status, 201) << "identical re-push is fine";

  HttpResponse by_tag = client_.PutManifest("app", "1.0.0", b);
  EXPECT_EQ(by_tag.status, 409) << by_tag.Describe();
  EXPECT_NE(by_tag.body.find("immutable"), std::string::npos);
  EXPECT_NE(by_tag.body.find("DENIED"), std::string::npos);

  HttpResponse by_digest = client_.PutManifest("app", Sha(b) + "?tag=1.0.0", b);
  EXPECT_EQ(by_digest.status, 409) << by_digest.Describe();
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/" + Sha(b)).status, 404)
      << "refused: nothing stored";

  EXPECT_EQ(client_.Do("DELETE", "/v2/app/manifests/1.0.0").status, 405);
  EXPECT_EQ(client_.Do("DELETE", "/v2/app/manifests/" + Sha(a)).status, 405);

  // A mount links blobs only; the tag stays where it was.
  EXPECT_EQ(client_.Do("POST", "/v2/app/blobs/uploads/?mount=" + Sha(b) + "&from=app").status, 202);
  ExpectTagAt("1.0.0", a);
}

TEST_F(Immutability, SkopeoCannotOverwriteATag) {
  std::filesystem::path layout = server_.scratch() / "layout";
  MakeImage(layout, "one", {{"f", "1"}});
  MakeImage(layout, "two", {{"f", "2"}});
  std::string dest = "docker://" + server_.host() + "/app:1.0.0";
  ASSERT_EQ(RunCommand(Skopeo({"copy", "--dest-tls-verify=false", "oci:" + layout.string() + ":one",
                               dest}))
                .exit_code,
            0);
  RunResult again = RunCommand(
      Skopeo({"copy", "--dest-tls-verify=false", "oci:" + layout.string() + ":two", dest}));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("immutable"), std::string::npos) << again.Describe();
  RunResult inspect = RunCommand(Skopeo({"inspect", "--raw", "--tls-verify=false", dest}));
  EXPECT_EQ(Sha(inspect.out), LayoutDigest(layout, "one"));
}

TEST_F(Immutability, MutablePatternsMove) {
  std::string a = client_.PushImageParts("app", "a");
  std::string b = client_.PushImageParts("app", "b");
  ASSERT_EQ(client_.PutManifest("app", "latest", a).status, 201);
  ASSERT_EQ(client_.PutManifest("app", "latest", b).status, 201);
  ExpectTagAt("latest", b);
}

}  // namespace
}  // namespace lockstep::testing
