// Access control on a server started without --dev: tokens with roles and repository
// patterns, Basic auth and the bearer-token challenge flow, each scope allowed and
// refused, revocation, and skopeo using credentials.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/images.h"
#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

namespace json = boost::json;

class Access : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = server_.CreateToken("admin", "root");
    ci_ = server_.CreateToken("ci:apps/*", "ci");
    prod_ = server_.CreateToken("pull:apps/*", "prod-pull");
    other_ = server_.CreateToken("pull:other/*", "other-pull");
  }
  HttpResponse As(const std::string& token, std::string method, const std::string& path,
                  std::string body = "") {
    return RegistryClient(server_, token).Do(std::move(method), path, std::move(body));
  }
  std::string Bearer(const std::string& token, const std::string& scope) {
    HttpRequest req{.url = server_.url("/auth/token?service=lockstep&scope=" + scope)};
    req.basic_user = "u";
    req.basic_password = token;
    HttpResponse r = Send(req);
    if (r.status != 200) return "";
    return std::string(json::parse(r.body).at("token").as_string());
  }

  LockstepServer server_{ServerOptions{.dev = false}};
  std::string admin_, ci_, prod_, other_;
};

TEST_F(Access, AnonymousGetsABearerChallenge) {
  HttpResponse base = Get(server_.url("/v2/"));
  EXPECT_EQ(base.status, 401);
  EXPECT_NE(base.Header("www-authenticate")
                .find("Bearer realm=\"http://" + server_.host() + "/auth/token\""),
            std::string::npos)
      << base.Describe();
  EXPECT_NE(base.body.find("UNAUTHORIZED"), std::string::npos);
  HttpResponse pull = Get(server_.url("/v2/apps/api/manifests/1.0.0"));
  EXPECT_EQ(pull.status, 401);
  EXPECT_NE(pull.Header("www-authenticate").find("scope=\"repository:apps/api:pull\""),
            std::string::npos);
  HttpResponse push = Send(
      {.method = "POST", .url = server_.url("/v2/apps/api/blobs/uploads/"), .send_body = true});
  EXPECT_NE(push.Header("www-authenticate").find("scope=\"repository:apps/api:pull,push\""),
            std::string::npos);
}

TEST_F(Access, EachRoleIsAllowedAndRefusedWhereItShouldBe) {
  RegistryClient ci(server_, ci_);
  std::string m = ci.PushImageParts("apps/api", "1");
  ASSERT_EQ(ci.PutManifest("apps/api", "1.0.0", m).status, 201) << "push role pushes";
  EXPECT_EQ(As(ci_, "GET", "/v2/apps/api/manifests/1.0.0").status, 200) << "push role pulls";
  EXPECT_EQ(As(ci_, "POST", "/v2/base/blobs/uploads/").status, 403) << "outside its repositories";
  EXPECT_EQ(As(ci_, "DELETE", "/v2/apps/api/manifests/" + Sha(m)).status, 403)
      << "push role cannot delete";

  EXPECT_EQ(As(prod_, "GET", "/v2/apps/api/manifests/1.0.0").status, 200) << "pull role pulls";
  EXPECT_EQ(As(prod_, "GET", "/v2/apps/api/blobs/" + Sha("layer-1")).status, 200);
  HttpResponse refused = As(prod_, "POST", "/v2/apps/api/blobs/uploads/");
  EXPECT_EQ(refused.status, 403) << "pull role cannot push";
  EXPECT_NE(refused.body.find("prod-pull"), std::string::npos) << refused.body;
  EXPECT_EQ(As(other_, "GET", "/v2/apps/api/manifests/1.0.0").status, 403)
      << "other repositories only";

  EXPECT_EQ(As(admin_, "POST", "/v2/anything/blobs/uploads/").status, 202) << "admin does anything";

  // Cancelling an upload is part of pushing: a push token may end its own.
  HttpResponse started = As(ci_, "POST", "/v2/apps/api/blobs/uploads/");
  ASSERT_EQ(started.status, 202) << started.Describe();
  std::string upload = started.Header("location");
  EXPECT_EQ(As(ci_, "DELETE", upload).status, 204) << "push role cancels its upload";
  EXPECT_EQ(As(ci_, "GET", upload).status, 404) << "the upload is gone";
  HttpResponse another = As(ci_, "POST", "/v2/apps/api/blobs/uploads/");
  EXPECT_EQ(As(prod_, "DELETE", another.Header("location")).status, 403)
      << "pull role cannot cancel";

  // Mount needs pull on the source: a push token for apps/* cannot mount from elsewhere.
  RegistryClient admin(server_, admin_);
  std::string secret = admin.PushBlob("private/x", "secret layer");
  HttpResponse mount =
      As(ci_, "POST", "/v2/apps/api/blobs/uploads/?mount=" + secret + "&from=private/x");
  EXPECT_EQ(mount.status, 202) << "falls back to an upload instead of leaking the blob";

  HttpResponse catalog = As(prod_, "GET", "/v2/_catalog");
  EXPECT_EQ(catalog.body.find("private/x"), std::string::npos) << catalog.body;
}

TEST_F(Access, BearerFlowAndRevocation) {
  EXPECT_EQ(Send({.url = server_.url("/auth/token?service=lockstep")}).status, 401);
  std::string bearer = Bearer(prod_, "repository:apps/api:pull");
  ASSERT_FALSE(bearer.empty());
  EXPECT_EQ(Get(server_.url("/v2/"), {"Authorization: Bearer " + bearer}).status, 200);

  std::string tampered = bearer;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Get(server_.url("/v2/"), {"Authorization: Bearer " + tampered}).status, 401);
  EXPECT_EQ(Get(server_.url("/v2/"), {"Authorization: Bearer " + prod_}).status, 401)
      << "a raw token is no bearer token";

  RunResult revoke = server_.Cli({"token", "revoke", "prod-pull"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.Describe();
  EXPECT_EQ(Get(server_.url("/v2/"), {"Authorization: Bearer " + bearer}).status, 401)
      << "revoking the token ends its bearer tokens";
  EXPECT_EQ(As(prod_, "GET", "/v2/").status, 401);
}

TEST_F(Access, TokenCliListsWithoutSecretsAndStoresOnlyHashes) {
  RunResult list = server_.Cli({"token", "list", "--output", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  json::array tokens = json::parse(list.out).as_array();
  EXPECT_EQ(tokens.size(), 4u);
  // A token is "lst_" + a 16-character id + '_' + the secret (which may hold '_').
  EXPECT_EQ(list.out.find(ci_.substr(21)), std::string::npos);
  std::string db =
      Slurp(server_.data_dir() / "state.db") + Slurp(server_.data_dir() / "state.db-wal");
  for (const std::string& t : {admin_, ci_, prod_, other_}) {
    EXPECT_EQ(db.find(t.substr(21)), std::string::npos);
  }
  RunResult dup = server_.Cli({"token", "create", "--role", "pull:**", "--name", "ci"});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("exists"), std::string::npos);
  RunResult bad = server_.Cli({"token", "create", "--role", "owner"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("use admin, deployer, approver, ci, viewer or pull"), std::string::npos)
      << bad.Describe();
}

TEST_F(Access, SkopeoWithCredentials) {
  std::filesystem::path layout = server_.scratch() / "layout";
  MakeImage(layout, "1", {{"f", "1"}});
  std::string src = "oci:" + layout.string() + ":1";
  std::string dest = "docker://" + server_.host() + "/apps/web:1.0.0";
  RunResult anonymous = RunCommand(Skopeo({"copy", "--dest-tls-verify=false", src, dest}));
  EXPECT_NE(anonymous.exit_code, 0);
  RunResult as_pull = RunCommand(
      Skopeo({"copy", "--dest-tls-verify=false", "--dest-creds", "env:" + prod_, src, dest}));
  EXPECT_NE(as_pull.exit_code, 0) << "a pull token cannot push";
  RunResult as_ci = RunCommand(
      Skopeo({"copy", "--dest-tls-verify=false", "--dest-creds", "ci:" + ci_, src, dest}));
  ASSERT_EQ(as_ci.exit_code, 0) << as_ci.Describe();
  RunResult inspect =
      RunCommand(Skopeo({"inspect", "--tls-verify=false", "--creds", "prod:" + prod_, dest}));
  EXPECT_EQ(inspect.exit_code, 0) << inspect.Describe();
  RunResult wrong_repo =
      RunCommand(Skopeo({"inspect", "--tls-verify=false", "--creds", "o:" + other_, dest}));
  EXPECT_NE(wrong_repo.exit_code, 0);
}

}  // namespace
}  // namespace lockstep::testing

namespace lockstep::testing {
namespace {

TEST(DevMode, IsRefusedOnAnAddressOtherMachinesReach) {
  ScratchDir scratch;
  std::filesystem::path data = scratch.path() / "data";
  for (const char* listen : {"0.0.0.0:0", "[::]:0"}) {
    RunResult r = Lockstep({"serve", "--dev", "--listen", listen, "--data", data.string()});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find("--dev makes every caller an admin"), std::string::npos) << r.Describe();
    EXPECT_NE(r.err.find("--dev-anywhere"), std::string::npos) << r.Describe();
  }
  EXPECT_FALSE(std::filesystem::exists(data)) << "refused before anything was made";
}

}  // namespace
}  // namespace lockstep::testing
