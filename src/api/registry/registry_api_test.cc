// Route handlers of the distribution API, driven through FakeExchange against a real
// registry store and token store in a scratch directory.
#include "api/registry/registry_api.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "auth/auth.h"
#include "http/fake_exchange.h"
#include "image/media_types.h"
#include "os/testing/temp_dir.h"
#include "registry/testing_images.h"
#include "state/token_store.h"

namespace lockstep::api {
namespace {

class RegistryApiTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(true); }

  void Open(bool dev) {
    registry_ = std::make_unique<registry::Registry>(dir_.path() / "registry",
                                                     registry::RegistryOptions{}, &clock_);
    tokens_ = state::TokenStore::Open((dir_.path() / "state.db").string(), &clock_).value();
    auth_ = std::make_unique<auth::Authenticator>(tokens_.get(), "key", &clock_, dev);
    api_ = std::make_unique<RegistryApi>(registry_.get(), auth_.get(), &blocking_, &blocking_,
                                         "https://reg.example:5000");
  }

  http::FakeExchange Call(std::string method, std::string target, std::string body = "",
                          http::Headers headers = {}) {
    http::FakeExchange ex(std::move(method), std::move(target), std::move(body),
                          std::move(headers));
    ex.Run([this](http::Exchange& e) { return api_->Handle(e); });
    EXPECT_EQ(ex.responses(), 1) << "exactly one response";
    return ex;
  }

  os::testing::TempDir dir_;
  os::FakeClock clock_{1'700'000'000};
  http::BlockingPool blocking_{1};
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<state::TokenStore> tokens_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<RegistryApi> api_;
};

TEST_F(RegistryApiTest, TheBaseEndpointAnswersAsDistributionDoes) {
  http::FakeExchange ex = Call("GET", "/v2/");
  EXPECT_EQ(ex.response().status, 200);
  EXPECT_EQ(ex.ResponseHeader("docker-distribution-api-version"), "registry/2.0");
}

TEST_F(RegistryApiTest, AMonolithicPushIsServedBackByDigest) {
  std::string blob = "hello, registry";
  Digest d = DigestOf(blob);
  http::FakeExchange put = Call("POST", "/v2/apps/web/blobs/uploads/?digest=" + d.str(), blob);
  EXPECT_EQ(put.response().status, 201) << put.response().body;
  EXPECT_EQ(put.ResponseHeader("location"), "/v2/apps/web/blobs/" + d.str());

  http::FakeExchange head = Call("HEAD", "/v2/apps/web/blobs/" + d.str());
  EXPECT_EQ(head.response().status, 200);
  EXPECT_EQ(head.ResponseHeader("docker-content-digest"), d.str());
  http::FakeExchange get = Call("GET", "/v2/apps/web/blobs/" + d.str());
  EXPECT_EQ(get.response().body, blob);
  EXPECT_EQ(Call("HEAD", "/v2/apps/other/blobs/" + d.str()).response().status, 404)
      << "a blob is served only to the repository it was pushed to";
}

TEST_F(RegistryApiTest, HostileNamesAndMethodsAreRefusedWithOciCodes) {
  http::FakeExchange dots = Call("GET", "/v2/a/%2e%2e/manifests/latest");
  EXPECT_EQ(dots.response().status, 400);
  EXPECT_NE(dots.response().body.find("NAME_INVALID"), std::string::npos);
  http::FakeExchange method = Call("PATCH", "/v2/a/manifests/latest");
  EXPECT_EQ(method.response().status, 405);
  EXPECT_EQ(Call("GET", "/v2/a/nonsense/x").response().status, 404);
}

TEST_F(RegistryApiTest, AManifestNamingAnAbsentBlobIsRefused) {
  std::string manifest = R"({"schemaVersion":2,"mediaType":")" +
                         std::string(image::media::kOciManifest) + R"(","config":)" +
                         registry::testing::DescriptorFor(image::media::kOciConfig, "{}") +
                         R"(,"layers":[]})";
  http::FakeExchange ex = Call("PUT", "/v2/apps/web/manifests/v1", manifest,
                               {{"Content-Type", std::string(image::media::kOciManifest)}});
  EXPECT_EQ(ex.response().status, 400);
  EXPECT_NE(ex.response().body.find("MANIFEST_BLOB_UNKNOWN"), std::string::npos)
      << ex.response().body;
  EXPECT_EQ(Call("GET", "/v2/apps/web/manifests/v1").response().status, 404) << "nothing stored";
}

TEST_F(RegistryApiTest, WithoutCredentialsTheClientIsChallengedForTheRightScope) {
  Open(false);
  http::FakeExchange ex = Call("GET", "/v2/apps/web/manifests/v1", "", {{"Host", "reg:5000"}});
  EXPECT_EQ(ex.response().status, 401);
  EXPECT_EQ(ex.ResponseHeader("www-authenticate"),
            R"(Bearer realm="https://reg.example:5000/auth/token",service="lockstep",)"
            R"(scope="repository:apps/web:pull")")
      << "the realm is the configured public URL, whatever Host said";
}

TEST_F(RegistryApiTest, AHostileHostHeaderNeverReachesTheChallenge) {
  Open(false);
  struct Case {
    const char* method;
    const char* target;
    long quotes;  // realm and service quoted, and scope when a repository is named
    long commas;  // between the parameters, and in "pull,push"
  };
  for (const std::string& host :
       {std::string("evil.example"), std::string(R"(x", realm="https://evil.example/t)"),
        std::string("a,b=c"), std::string("evil\r\nSet-Cookie: s=1"), std::string("\"")}) {
    for (const Case& c :
         {Case{"GET", "/v2/", 4, 1}, Case{"POST", "/v2/apps/web/blobs/uploads/", 6, 3}}) {
      http::FakeExchange ex = Call(c.method, c.target, "", {{"Host", host}});
      EXPECT_EQ(ex.response().status, 401);
      std::string challenge = ex.ResponseHeader("www-authenticate");
      EXPECT_EQ(challenge.rfind(R"(Bearer realm="https://reg.example:5000/auth/token",)", 0), 0u)
          << challenge;
      EXPECT_EQ(challenge.find("evil"), std::string::npos) << challenge;
      EXPECT_EQ(challenge.find_first_of("\r\n"), std::string::npos) << challenge;
      EXPECT_EQ(std::count(challenge.begin(), challenge.end(), '"'), c.quotes) << challenge;
      EXPECT_EQ(std::count(challenge.begin(), challenge.end(), ','), c.commas) << challenge;
    }
  }
}

}  // namespace
}  // namespace lockstep::api
