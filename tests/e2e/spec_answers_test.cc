// Answers the OCI distribution spec (and its conformance suite) requires to the letter:
// no body on any HEAD answer, even over a kept-alive connection; one OCI-Tag header per
// tag a push by digest created; a pull of an impossible tag is an unknown manifest; and
// deletes the registry will not do are 405 with the reason.
#include <gtest/gtest.h>

#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

class SpecAnswers : public ::testing::Test {
 protected:
  LockstepServer server_{ServerOptions{.dev = true, .config_toml = "[runtime]\nenabled = false\n"}};
  RegistryClient client_{server_};
};

TEST_F(SpecAnswers, NoHeadAnswerCarriesABodyOnAKeptAliveConnection) {
  std::string manifest = client_.PushImageParts("app", "h");
  ASSERT_EQ(client_.PutManifest("app", "1.0.0", manifest).status, 201);
  std::string missing = "sha256:" + std::string(64, '0');
  // Every route, found and not found, and malformed: each HEAD answer must end at its
  // header, so the next answer on the connection starts right after it.
  std::vector<std::string> targets = {"/v2/",
                                      "/v2/app/tags/list",
                                      "/v2/app/manifests/1.0.0",
                                      "/v2/app/manifests/9.9.9",
                                      "/v2/app/manifests/" + missing,
                                      "/v2/app/blobs/" + Sha("layer-h"),
                                      "/v2/app/blobs/" + missing,
                                      "/v2/app/blobs/sha256:short",
                                      "/v2/app/referrers/" + missing,
                                      "/v2/_catalog",
                                      "/v2/Bad/manifests/1",
                                      "/nowhere"};
  std::string pipeline;
  for (const std::string& t : targets) pipeline += "HEAD " + t + " HTTP/1.1\r\nHost: x\r\n\r\n";
  pipeline += "GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string answers = SendRaw(server_.port(), pipeline);
  size_t at = 0;
  for (const std::string& t : targets) {
    ASSERT_EQ(answers.compare(at, 9, "HTTP/1.1 "), 0)
        << "the answer to HEAD " << t << " does not start where the one before ended:\n"
        << answers.substr(at, 400);
    size_t end = answers.find("\r\n\r\n", at);
    ASSERT_NE(end, std::string::npos) << t;
    at = end + 4;
  }
  EXPECT_EQ(answers.compare(at, 15, "HTTP/1.1 200 OK"), 0) << answers.substr(at);
}

TEST_F(SpecAnswers, APushByDigestNamesEachTagItCreated) {
  std::string manifest = client_.PushImageParts("app", "t");
  HttpResponse put = client_.PutManifest("app", Sha(manifest) + "?tag=1.0.0&tag=stable", manifest);
  ASSERT_EQ(put.status, 201) << put.Describe();
  std::vector<std::string> tags;
  for (auto [it, end] = put.headers.equal_range("oci-tag"); it != end; ++it) {
    tags.push_back(it->second);
  }
  EXPECT_EQ(tags, (std::vector<std::string>{"1.0.0", "stable"}));
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/stable").status, 200);
}

TEST_F(SpecAnswers, APullOfAnImpossibleTagIsAnUnknownManifest) {
  HttpResponse r = client_.Do("GET", "/v2/app/manifests/.INVALID");
  EXPECT_EQ(r.status, 404) << r.Describe();
  EXPECT_NE(r.body.find("MANIFEST_UNKNOWN"), std::string::npos) << r.Describe();
  HttpResponse put = client_.PutManifest("app", ".INVALID", client_.PushImageParts("app", "i"));
  EXPECT_EQ(put.status, 400) << "writing it is still refused as a bad tag: " << put.Describe();
  EXPECT_NE(put.body.find("TAG_INVALID"), std::string::npos) << put.Describe();
}

TEST_F(SpecAnswers, RefusedDeletesAre405WithTheReason) {
  std::string manifest = client_.PushImageParts("app", "d");
  ASSERT_EQ(client_.PutManifest("app", "1.0.0", manifest).status, 201);
  HttpResponse tag = client_.Do("DELETE", "/v2/app/manifests/1.0.0");
  EXPECT_EQ(tag.status, 405) << tag.Describe();
  EXPECT_NE(tag.body.find("UNSUPPORTED"), std::string::npos) << tag.Describe();
  EXPECT_NE(tag.body.find("immutable"), std::string::npos) << tag.Describe();
  HttpResponse blob = client_.Do("DELETE", "/v2/app/blobs/" + Sha("layer-d"));
  EXPECT_EQ(blob.status, 405) << blob.Describe();
  EXPECT_NE(blob.body.find(Sha(manifest)), std::string::npos)
      << "it names the manifest that uses the blob: " << blob.Describe();
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/1.0.0").status, 200) << "nothing was deleted";
}

}  // namespace
}  // namespace lockstep::testing
