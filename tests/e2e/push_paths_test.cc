// Every push path of the distribution spec against a live server: monolithic POST,
// POST + PUT, streamed PATCH, chunked PATCH with Content-Range (and 416 for chunks out of
// order), upload status, cross-repository mount with its fallback, and manifests with a
// subject answered with OCI-Subject. Pulls check Range and HEAD.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

class PushPaths : public ::testing::Test {
 protected:
  void ExpectBlob(const std::string& repo, const std::string& content) {
    HttpResponse r = client_.Do("GET", "/v2/" + repo + "/blobs/" + Sha(content));
    EXPECT_EQ(r.status, 200) << r.Describe();
    EXPECT_EQ(r.body, content);
    EXPECT_EQ(r.Header("docker-content-digest"), Sha(content));
  }
  LockstepServer server_;
  RegistryClient client_{server_};
};

TEST_F(PushPaths, MonolithicPost) {
  HttpResponse r = client_.Do("POST", "/v2/app/blobs/uploads/?digest=" + Sha("mono"), "mono");
  ASSERT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(r.Header("location"), "/v2/app/blobs/" + Sha("mono"));
  ExpectBlob("app", "mono");
}

TEST_F(PushPaths, PostThenPutWithBody) {
  std::string location = client_.StartUpload("app");
  ASSERT_FALSE(location.empty());
  HttpResponse r = client_.Do("PUT", location + "?digest=" + Sha("put body"), "put body");
  ASSERT_EQ(r.status, 201) << r.Describe();
  ExpectBlob("app", "put body");
}

TEST_F(PushPaths, StreamedPatchThenEmptyPut) {
  std::string content(3 << 20, 'z');
  std::string location = client_.StartUpload("app");
  HttpResponse patch = client_.Do("PATCH", location, content, {"Transfer-Encoding: chunked"});
  ASSERT_EQ(patch.status, 202) << patch.Describe();
  EXPECT_EQ(patch.Header("range"), "0-" + std::to_string(content.size() - 1));
  HttpResponse put = client_.Do("PUT", patch.Header("location") + "?digest=" + Sha(content));
  ASSERT_EQ(put.status, 201) << put.Describe();
  ExpectBlob("app", content);
}

TEST_F(PushPaths, ChunkedPatchWithStatusAndOutOfOrderChunks) {
  std::string location = client_.StartUpload("app");
  auto chunk = [&](const std::string& data, size_t start) {
    return client_.Do(
        "PATCH", location, data,
        {"Content-Range: " + std::to_string(start) + "-" + std::to_string(start + data.size() - 1),
         "Content-Type: application/octet-stream"});
  };
  ASSERT_EQ(chunk("aaaa", 0).status, 202);
  HttpResponse status = client_.Do("GET", location);
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.Header("range"), "0-3");
  EXPECT_EQ(status.Header("location"), location);

  HttpResponse repeated = chunk("aaaa", 0);
  EXPECT_EQ(repeated.status, 416) << repeated.Describe();
  EXPECT_EQ(repeated.Header("range"), "0-3");
  HttpResponse gap = chunk("cccc", 8);
  EXPECT_EQ(gap.status, 416);
  HttpResponse lying = client_.Do("PATCH", location, "bbbb", {"Content-Range: 4-9"});
  EXPECT_EQ(lying.status, 416) << "Content-Range longer than the body";

  ASSERT_EQ(chunk("bbbb", 4).status, 202);
  EXPECT_EQ(client_.Do("GET", location).Header("range"), "0-7");
  HttpResponse done = client_.Do("PUT", location + "?digest=" + Sha("aaaabbbbcc"), "cc");
  ASSERT_EQ(done.status, 201) << done.Describe();
  ExpectBlob("app", "aaaabbbbcc");
  EXPECT_EQ(client_.Do("GET", location).status, 404) << "a finished upload is gone";
}

TEST_F(PushPaths, ConcurrentPushesOfTheSameBlobBothSucceedAndOneCopyIsKept) {
  std::string content(8 << 20, 'c');
  for (size_t i = 0; i < content.size(); i += 4096) content[i] = static_cast<char>(i / 4096);
  long status[2] = {0, 0};
  std::thread a([&] {
    status[0] = client_.Do("POST", "/v2/one/blobs/uploads/?digest=" + Sha(content), content).status;
  });
  std::thread b([&] {
    status[1] = client_.Do("POST", "/v2/two/blobs/uploads/?digest=" + Sha(content), content).status;
  });
  a.join();
  b.join();
  EXPECT_EQ(status[0], 201);
  EXPECT_EQ(status[1], 201);
  ExpectBlob("one", content);
  ExpectBlob("two", content);
  EXPECT_EQ(server_.StoredBlobCount(), 1u);
  EXPECT_TRUE(std::filesystem::is_empty(server_.data_dir() / "registry" / "uploads"));
}

TEST_F(PushPaths, KeepAliveConnectionServesTheNextRequestAfterALargeBody) {
  // A large body raises the socket's receive low-water mark; the small request that
  // follows on the same connection must still be answered.
  std::string location = client_.StartUpload("app");
  std::string body(300000, 'k');
  std::string raw = "PATCH " + location +
                    " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\n\r\n" + body + "GET " + location +
                    " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string answers = SendRaw(server_.port(), raw);
  EXPECT_NE(answers.find("HTTP/1.1 202"), std::string::npos) << answers;
  EXPECT_NE(answers.find("HTTP/1.1 204"), std::string::npos) << answers;
  EXPECT_NE(answers.find("Range: 0-299999"), std::string::npos) << answers;
}

TEST_F(PushPaths, WrongDigestAtFinishStoresNothing) {
  size_t before = server_.StoredBlobCount();
  std::string location = client_.StartUpload("app");
  HttpResponse r = client_.Do("PUT", location + "?digest=" + Sha("other"), "content");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("DIGEST_INVALID"), std::string::npos);
  EXPECT_EQ(server_.StoredBlobCount(), before);
  EXPECT_EQ(client_.Do("HEAD", "/v2/app/blobs/" + Sha("content")).status, 404);
}

TEST_F(PushPaths, CrossRepositoryMountAndFallback) {
  std::string digest = client_.PushBlob("src/app", "shared");
  HttpResponse mounted =
      client_.Do("POST", "/v2/dst/app/blobs/uploads/?mount=" + digest + "&from=src/app");
  ASSERT_EQ(mounted.status, 201) << mounted.Describe();
  EXPECT_EQ(mounted.Header("location"), "/v2/dst/app/blobs/" + digest);
  ExpectBlob("dst/app", "shared");

  HttpResponse fallback =
      client_.Do("POST", "/v2/dst/app/blobs/uploads/?mount=" + Sha("absent") + "&from=src/app");
  EXPECT_EQ(fallback.status, 202) << fallback.Describe();
  EXPECT_NE(fallback.Header("location").find("/v2/dst/app/blobs/uploads/"), std::string::npos);
}

TEST_F(PushPaths, Sha512Blobs) {
  std::string d = DigestOf("five-twelve", DigestAlgorithm::kSha512).str();
  HttpResponse r = client_.Do("POST", "/v2/app/blobs/uploads/?digest=" + d, "five-twelve");
  ASSERT_EQ(r.status, 201) << r.Describe();
  HttpResponse get = client_.Do("GET", "/v2/app/blobs/" + d);
  EXPECT_EQ(get.body, "five-twelve");
}

TEST_F(PushPaths, ManifestWithSubjectAnswersOciSubject) {
  std::string subject = client_.PushImageParts("app", "base");
  ASSERT_EQ(client_.PutManifest("app", "1.0.0", subject).status, 201);
  std::string sig = client_.PushImageParts(
      "app", "sig",
      R"(,"artifactType":"application/vnd.example.sig","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
          Sha(subject) + R"(","size":)" + std::to_string(subject.size()) + "}");
  HttpResponse r = client_.PutManifest("app", Sha(sig), sig);
  ASSERT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(r.Header("oci-subject"), Sha(subject));
  EXPECT_EQ(r.Header("docker-content-digest"), Sha(sig));
}

TEST_F(PushPaths, PullHeadAndRanges) {
  std::string content = "0123456789";
  client_.PushBlob("app", content);
  std::string path = "/v2/app/blobs/" + Sha(content);
  HttpResponse head = client_.Do("HEAD", path);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), "10");
  EXPECT_TRUE(head.body.empty());
  HttpResponse part = client_.Do("GET", path, "", {"Range: bytes=2-5"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "2345");
  EXPECT_EQ(part.Header("content-range"), "bytes 2-5/10");
  EXPECT_EQ(client_.Do("GET", path, "", {"Range: bytes=7-"}).body, "789");
  EXPECT_EQ(client_.Do("GET", path, "", {"Range: bytes=-2"}).body, "89");
  HttpResponse bad = client_.Do("GET", path, "", {"Range: bytes=20-30"});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.Header("content-range"), "bytes */10");

  std::string manifest = client_.PushImageParts("app", "m");
  ASSERT_EQ(client_.PutManifest("app", "v1", manifest).status, 201);
  HttpResponse mhead = client_.Do("HEAD", "/v2/app/manifests/v1");
  EXPECT_EQ(mhead.status, 200);
  EXPECT_EQ(mhead.Header("content-length"), std::to_string(manifest.size()));
  EXPECT_EQ(mhead.Header("content-type"), "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(mhead.Header("docker-content-digest"), Sha(manifest));
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/" + Sha(manifest)).body, manifest);
}

}  // namespace
}  // namespace lockstep::testing
