// lockstep's client logs in to a lockstep server (without --dev) through the bearer-token
// flow: with LOCKSTEP_REGISTRY_* credentials when LOCKSTEP_REGISTRY names that server, and
// with what `podman login` saved (REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json).
// The server's challenge names its public URL, never the request's Host header, and a bad
// public URL stops it at start naming the key.
#include <gtest/gtest.h>

#include <fstream>

#include "base/strings.h"
#include "tests/support/client_env.h"
#include "tests/support/http.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

class RegistryLogin : public ::testing::Test {
 protected:
  void SetUp() override {
    token_ = server_.CreateToken("pull:apps/*", "reader");
    RegistryClient admin(server_, server_.CreateToken("admin", "root"));
    ASSERT_EQ(admin.PutManifest("apps/web", "1.0.0", admin.PushImageParts("apps/web", "1")).status,
              201);
  }
  std::vector<std::string> Env(const std::vector<std::string>& extra = {}) const {
    return ClientEnvironment(scratch_.path() / "home", scratch_.path() / "run", extra);
  }
  RunResult Tags(const std::vector<std::string>& env) const {
    return Lockstep({"tags", server_.host() + "/apps/web", "--insecure", "--quiet"}, env);
  }
  void WriteLogin(const std::filesystem::path& file) const {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << R"({"auths":{")" << server_.host() << R"(":{"auth":")"
                        << Base64Encode("reader:" + token_) << R"("}}})";
  }

  LockstepServer server_{ServerOptions{.dev = false}};
  ScratchDir scratch_;
  std::string token_;
};

TEST_F(RegistryLogin, EnvironmentCredentialsForTheRegistryLockstepRegistryNames) {
  RunResult named =
      Tags(Env({"LOCKSTEP_REGISTRY=" + server_.host(), "LOCKSTEP_REGISTRY_PASSWORD=" + token_}));
  EXPECT_EQ(named.exit_code, 0) << named.Describe();
  EXPECT_EQ(named.OutLine(), "1.0.0");

  RunResult unnamed = Tags(Env({"LOCKSTEP_REGISTRY_PASSWORD=" + token_}));
  EXPECT_EQ(unnamed.exit_code, 1) << "with LOCKSTEP_REGISTRY unset they are no registry's";
  EXPECT_NE(unnamed.err.find("HTTP 401"), std::string::npos) << unnamed.Describe();
  EXPECT_NE(unnamed.err.find("podman login " + server_.host()), std::string::npos)
      << "says how to log in: " << unnamed.Describe();
}

TEST_F(RegistryLogin, WhatPodmanLoginSaved) {
  WriteLogin(scratch_.path() / "run" / "containers" / "auth.json");
  RunResult runtime_file = Tags(Env());
  EXPECT_EQ(runtime_file.exit_code, 0) << runtime_file.Describe();
  EXPECT_EQ(runtime_file.OutLine(), "1.0.0");
  std::filesystem::remove(scratch_.path() / "run" / "containers" / "auth.json");

  WriteLogin(scratch_.path() / "elsewhere.json");
  RunResult override_file =
      Tags(Env({"REGISTRY_AUTH_FILE=" + (scratch_.path() / "elsewhere.json").string()}));
  EXPECT_EQ(override_file.exit_code, 0) << override_file.Describe();

  std::ofstream(scratch_.path() / "elsewhere.json") << R"({"auths":[]})";
  RunResult malformed =
      Tags(Env({"REGISTRY_AUTH_FILE=" + (scratch_.path() / "elsewhere.json").string()}));
  EXPECT_EQ(malformed.exit_code, 1);
  EXPECT_NE(malformed.err.find((scratch_.path() / "elsewhere.json").string()), std::string::npos)
      << malformed.Describe();
}

TEST(PublicUrl, TheChallengeNamesThePublicUrlNotTheHostHeader) {
  LockstepServer configured{ServerOptions{
      .dev = false, .config_toml = "[server]\npublic_url = \"https://registry.example\"\n"}};
  LockstepServer plain{ServerOptions{.dev = false}};
  for (const std::string& host : {std::string("evil.example"), std::string("x\",realm=\"y")}) {
    HttpResponse r = Get(configured.url("/v2/"), {"Host: " + host});
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.Header("www-authenticate"),
              "Bearer realm=\"https://registry.example/auth/token\",service=\"lockstep\"")
        << r.Describe();
    HttpResponse d = Get(plain.url("/v2/"), {"Host: " + host});
    EXPECT_EQ(d.Header("www-authenticate"),
              "Bearer realm=\"http://" + plain.host() + "/auth/token\",service=\"lockstep\"")
        << "the default is the listen address: " << d.Describe();
  }
}

TEST(PublicUrl, ABadOneStopsTheServerAtStartNamingTheKey) {
  ScratchDir scratch;
  std::filesystem::path data = scratch.path() / "data";
  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all);
  std::vector<std::string> serve = {LockstepBinary(), "serve",  "--listen",
                                    "127.0.0.1:0",    "--data", data.string()};
  std::vector<std::string> flag = serve;
  flag.insert(flag.end(), {"--public-url", "https://registry.example/v2"});
  RunResult r = RunCommand(flag, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("--public-url 'https://registry.example/v2' may not have a path"),
            std::string::npos)
      << r.Describe();

  std::ofstream(data / "config.toml") << "[server]\npublic_url = \"ftp://registry.example\"\n";
  RunResult config = RunCommand(serve, std::chrono::seconds(60));
  EXPECT_EQ(config.exit_code, 1) << config.Describe();
  EXPECT_NE(config.err.find("config.toml:2:"), std::string::npos) << config.Describe();
  EXPECT_NE(config.err.find("server.public_url 'ftp://registry.example' must be an http or https"),
            std::string::npos)
      << config.Describe();
}

}  // namespace
}  // namespace lockstep::testing
