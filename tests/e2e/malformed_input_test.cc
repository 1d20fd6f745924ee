// Malformed input gets the right OCI error and status, nothing is stored, and the
// server keeps serving: bad digests, names with "..", truncated and oversized bodies,
// wrong Content-Range, invalid manifests, and clients that vanish mid-upload.
#include <gtest/gtest.h>

#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

class MalformedInput : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(server_.Running()) << server_.Logs();
    EXPECT_EQ(client_.Do("GET", "/v2/").status, 200) << "the server keeps serving";
    EXPECT_EQ(server_.StoredBlobCount(), allowed_blobs_)
        << "nothing of a refused request is stored";
  }
  static void ExpectError(const HttpResponse& r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.Describe();
    EXPECT_NE(r.body.find("\"code\":\"" + code + "\""), std::string::npos) << r.Describe();
  }
  std::string Raw(const std::string& request) { return SendRaw(server_.port(), request); }

  size_t allowed_blobs_ = 0;
  LockstepServer server_{
      ServerOptions{.dev = true, .config_toml = "[registry]\nmax_upload_size = \"1MiB\"\n"}};
  RegistryClient client_{server_};
};

TEST_F(MalformedInput, BadDigests) {
  ExpectError(client_.Do("GET", "/v2/app/blobs/sha256:1234"), 400, "DIGEST_INVALID");
  EXPECT_EQ(client_.Do("HEAD", "/v2/app/blobs/sha256:zz").status, 400);
  ExpectError(client_.Do("GET", "/v2/app/manifests/md5:d41d8cd98f00b204e9800998ecf8427e"), 400,
              "DIGEST_INVALID");
  ExpectError(client_.Do("POST", "/v2/app/blobs/uploads/?digest=sha256:nothex", "x"), 400,
              "DIGEST_INVALID");
  std::string location = client_.StartUpload("app");
  ExpectError(client_.Do("PUT", location), 400, "DIGEST_INVALID");
  ExpectError(client_.Do("PUT", location + "?digest=SHA256:AB"), 400, "DIGEST_INVALID");
  ExpectError(client_.Do("GET", "/v2/app/blobs/" + Sha("absent")), 404, "BLOB_UNKNOWN");
  ExpectError(client_.Do("GET", "/v2/app/manifests/nope"), 404, "MANIFEST_UNKNOWN");
}

TEST_F(MalformedInput, NamesThatTryToLeaveTheirDirectory) {
  for (const char* path : {"/v2/../../etc/blobs/uploads/", "/v2/app/../../x/manifests/1",
                           "/v2/%2e%2e/%2e%2e/etc/manifests/passwd", "/v2/app/_tags/manifests/1",
                           "/v2/UPPER/manifests/1", "/v2/a//b/manifests/1"}) {
    std::string response =
        Raw(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(response.find("HTTP/1.1 400"), std::string::npos) << path << "\n" << response;
    EXPECT_NE(response.find("NAME_INVALID"), std::string::npos) << path << "\n" << response;
  }
  // A pull of a name no tag can have finds nothing; a write or delete of it is refused.
  ExpectError(client_.Do("GET", "/v2/app/manifests/..%2f..%2fetc"), 404, "MANIFEST_UNKNOWN");
  ExpectError(client_.Do("DELETE", "/v2/app/manifests/..%2f..%2fetc"), 400, "TAG_INVALID");
  ExpectError(client_.Do("GET", "/v2/app/blobs/uploads/..%2f..%2fx"), 404, "BLOB_UPLOAD_UNKNOWN");
  ExpectError(client_.Do("DELETE", "/v2/app/blobs/uploads/0123456789abcdef0123456789abcdef"), 404,
              "BLOB_UPLOAD_UNKNOWN");
  EXPECT_FALSE(std::filesystem::exists(server_.data_dir() / "etc"));
}

TEST_F(MalformedInput, TruncatedAndInterruptedUploadsLeaveNothing) {
  // A PATCH whose client goes away after 100 of 1000 bytes: the session keeps what
  // arrived (so the client can resume), and nothing is served until the digest matches.
  std::string location = client_.StartUpload("app");
  ASSERT_EQ(client_.Do("PATCH", location, "first").status, 202);
  ASSERT_TRUE(SendRawAndHangUp(
      server_.port(), "PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                          std::string(100, 'p')));
  ASSERT_TRUE(WaitFor([&] { return client_.Do("GET", location).Header("range") == "0-104"; }))
      << client_.Do("GET", location).Describe();
  EXPECT_EQ(client_.Do("HEAD", "/v2/app/blobs/" + Sha("first" + std::string(100, 'p'))).status,
            404);
  HttpResponse resumed =
      client_.Do("PATCH", location, std::string(900, 'p'), {"Content-Range: 105-1004"});
  EXPECT_EQ(resumed.status, 202) << resumed.Describe();
  HttpResponse done =
      client_.Do("PUT", location + "?digest=" + Sha("first" + std::string(1000, 'p')));
  EXPECT_EQ(done.status, 201) << done.Describe();
  allowed_blobs_ = 1;  // that blob is the one legitimate write of this test

  // A monolithic POST that stops halfway: no blob.
  std::string body(2000, 'm');
  ASSERT_TRUE(
      SendRawAndHangUp(server_.port(), "POST /v2/app/blobs/uploads/?digest=" + Sha(body) +
                                           " HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" +
                                           body.substr(0, 700)));
  EXPECT_EQ(client_.Do("HEAD", "/v2/app/blobs/" + Sha(body)).status, 404);
  // A truncated chunked body (no final chunk) is no blob either.
  std::string chunked = "POST /v2/app/blobs/uploads/?digest=" + Sha("abc") +
                        " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
  ASSERT_TRUE(SendRawAndHangUp(server_.port(), chunked));
  EXPECT_EQ(client_.Do("HEAD", "/v2/app/blobs/" + Sha("abc")).status, 404);
}

TEST_F(MalformedInput, OversizedBodies) {
  std::string big((1 << 20) + 1, 'b');
  ExpectError(client_.Do("POST", "/v2/app/blobs/uploads/?digest=" + Sha(big), big), 413,
              "SIZE_INVALID");
  std::string location = client_.StartUpload("app");
  ExpectError(client_.Do("PATCH", location, big), 413, "SIZE_INVALID");
  std::string manifest =
      R"({"schemaVersion":2,"config":{},"pad":")" + std::string(5 << 20, 'x') + "\"}";
  ExpectError(client_.PutManifest("app", "1", manifest), 413, "SIZE_INVALID");
}

TEST_F(MalformedInput, WrongContentRange) {
  std::string location = client_.StartUpload("app");
  for (const char* range : {"abc", "5-2", "1-3", "-", "0-"}) {
    HttpResponse r = client_.Do("PATCH", location, "abc", {std::string("Content-Range: ") + range});
    EXPECT_EQ(r.status, 416) << range << "\n" << r.Describe();
    EXPECT_EQ(r.Header("range"), "0-0");
  }
  EXPECT_EQ(client_.Do("GET", location).Header("range"), "0-0");
  // A range to 2^64-1 is 2^64 bytes, not 0 (its length wrapped and an empty body passed).
  HttpResponse wrapped =
      client_.Do("PATCH", location, "", {"Content-Range: 0-18446744073709551615"});
  EXPECT_EQ(wrapped.status, 416) << wrapped.Describe();
  EXPECT_NE(wrapped.body.find("more than"), std::string::npos) << wrapped.body;
}

TEST_F(MalformedInput, InvalidManifests) {
  ExpectError(client_.PutManifest("app", "1", "not json"), 400, "MANIFEST_INVALID");
  ExpectError(client_.PutManifest("app", "1", R"({"schemaVersion":1,"fsLayers":[]})"), 400,
              "MANIFEST_INVALID");
  std::string missing =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      Sha("nope") + R"(","size":4},"layers":[]})";
  HttpResponse r = client_.PutManifest("app", "1", missing);
  ExpectError(r, 400, "MANIFEST_BLOB_UNKNOWN");
  EXPECT_NE(r.body.find("push it before the manifest"), std::string::npos);
  ExpectError(client_.PutManifest("app", Sha("different"), missing), 400, "DIGEST_INVALID");
  ExpectError(client_.PutManifest("app", "bad/tag", missing), 404, "NAME_UNKNOWN");
  ExpectError(client_.Do("PUT", "/v2/app/manifests/-tag", missing), 400, "TAG_INVALID");
  EXPECT_EQ(client_.Do("GET", "/v2/app/tags/list").status, 404) << "no repository was created";

  // An image manifest that also lists manifests (an index to a reader without the
  // Content-Type): refused, whatever the Content-Type says.
  std::string image = client_.PushImageParts("app", "1", R"(,"manifests":[])");
  allowed_blobs_ = 2;  // its config and layer, pushed first
  HttpResponse both = client_.PutManifest("app", "1", image);
  ExpectError(both, 400, "MANIFEST_INVALID");
  EXPECT_NE(both.body.find("not both"), std::string::npos) << both.body;
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/1").status, 404);
}

TEST_F(MalformedInput, BrokenHttpAndWrongMethods) {
  EXPECT_NE(Raw("NONSENSE\r\n\r\n").find("400"), std::string::npos);
  EXPECT_NE(Raw("GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n").find("400"),
            std::string::npos);
  ExpectError(client_.Do("PATCH", "/v2/app/manifests/1"), 405, "UNSUPPORTED");
  ExpectError(client_.Do("POST", "/v2/app/tags/list"), 405, "UNSUPPORTED");
}

}  // namespace
}  // namespace lockstep::testing
