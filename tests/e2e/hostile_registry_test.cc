// A hostile registry cannot collect the credentials lockstep holds for it. Its 401 names a
// bearer realm on another loopback port, whose listener records every byte, and neither
// LOCKSTEP_REGISTRY_* credentials nor a docker or podman login reach it; the control beside
// each is the same challenge naming a realm on the registry's own host and port, which does
// receive them. Environment credentials go only to the registry LOCKSTEP_REGISTRY names, and
// a redirect to a protocol other than http(s) is not followed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "base/strings.h"
#include "tests/support/client_env.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/recording_server.h"

namespace lockstep::testing {
namespace {

const std::string kUser = "ci";
const std::string kPassword = "pw-hostile-0123456789";

std::string TokenAnswer(const RecordedRequest&) {
  return RecordingServer::Answer(200, {"Content-Type: application/json"},
                                 R"({"token":"anonymous-token"})");
}

// 401 with a bearer challenge naming `realm`.
std::string Challenge(const std::string& realm) {
  return RecordingServer::Answer(
      401,
      {"WWW-Authenticate: Bearer realm=\"" + realm + "\",service=\"hostile\"",
       "Content-Type: application/json"},
      R"({"errors":[{"code":"UNAUTHORIZED","message":"log in"}]})");
}

class HostileRegistry : public ::testing::Test {
 protected:
  std::vector<std::string> Env(const std::vector<std::string>& extra = {}) const {
    return ClientEnvironment(home(), runtime_dir(), extra);
  }
  std::vector<std::string> EnvCredentialsFor(const std::string& registry) const {
    return Env({"LOCKSTEP_REGISTRY=" + registry, "LOCKSTEP_REGISTRY_USERNAME=" + kUser,
                "LOCKSTEP_REGISTRY_PASSWORD=" + kPassword});
  }
  RunResult Tags(const std::string& registry, const std::vector<std::string>& env) const {
    return Lockstep({"tags", registry + "/apps/web", "--insecure", "--quiet"}, env);
  }

  std::filesystem::path home() const { return scratch_.path() / "home"; }
  std::filesystem::path runtime_dir() const { return scratch_.path() / "run"; }
  std::filesystem::path docker_config() const { return home() / ".docker" / "config.json"; }
  std::filesystem::path podman_auth() const { return runtime_dir() / "containers" / "auth.json"; }
  // Writes {"auths": {...}} with one entry per registry.
  static void WriteAuths(const std::filesystem::path& file,
                         const std::map<std::string, std::string>& user_password) {
    std::string entries;
    for (const auto& [registry, up] : user_password) {
      entries += (entries.empty() ? "" : ",") + std::string("\"") + registry + R"(":{"auth":")" +
                 Base64Encode(up) + "\"}";
    }
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << R"({"auths":{)" << entries << "}}";
  }

  // Nothing `server` received carries an Authorization header or the password, in clear
  // or in Basic form; and it did receive something, so the check is not vacuous.
  static void ExpectAskedWithoutCredentials(const RecordingServer& server) {
    std::vector<RecordedRequest> requests = server.requests();
    ASSERT_FALSE(requests.empty()) << "the client never asked the realm";
    for (const RecordedRequest& r : requests) {
      EXPECT_EQ(r.Header("authorization"), "") << r.raw;
      EXPECT_EQ(r.raw.find(kPassword), std::string::npos) << r.raw;
      EXPECT_EQ(r.raw.find(Base64Encode(kUser + ":" + kPassword)), std::string::npos) << r.raw;
    }
  }
  // Some request to `server` carried exactly `authorization`.
  static void ExpectSent(const RecordingServer& server, const std::string& authorization) {
    bool seen = false;
    std::string all;
    for (const RecordedRequest& r : server.requests()) {
      seen = seen || r.Header("authorization") == authorization;
      all += r.raw + "\n";
    }
    EXPECT_TRUE(seen) << "expected Authorization: " << authorization << " in:\n" << all;
  }

  ScratchDir scratch_;
};

TEST_F(HostileRegistry, ARealmOnAnotherPortGetsNoEnvironmentCredentials) {
  RecordingServer elsewhere(TokenAnswer);
  RecordingServer registry(
      [&](const RecordedRequest&) { return Challenge("http://" + elsewhere.host() + "/token"); });
  RunResult r = Tags(registry.host(), EnvCredentialsFor(registry.host()));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  ExpectAskedWithoutCredentials(elsewhere);
}

TEST_F(HostileRegistry, ARealmOnAnotherPortGetsNoDockerOrPodmanLogin) {
  for (const std::filesystem::path& file : {docker_config(), podman_auth()}) {
    SCOPED_TRACE(file.string());
    // This realm refuses anonymous callers, so the client says why it sent no credentials.
    RecordingServer elsewhere([](const RecordedRequest&) { return Challenge("x"); });
    RecordingServer registry(
        [&](const RecordedRequest&) { return Challenge("http://" + elsewhere.host() + "/token"); });
    WriteAuths(file, {{registry.host(), kUser + ":" + kPassword}});
    RunResult r = Tags(registry.host(), Env());
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    EXPECT_NE(r.err.find("were not sent to its token endpoint http://" + elsewhere.host()),
              std::string::npos)
        << r.Describe();
    ExpectAskedWithoutCredentials(elsewhere);
    std::filesystem::remove(file);
  }
}

TEST_F(HostileRegistry, ARealmOnAHostTheUserLoggedInToGetsNoLoginEither) {
  // The token that login would buy would go to the hostile registry.
  RecordingServer elsewhere(TokenAnswer);
  RecordingServer registry(
      [&](const RecordedRequest&) { return Challenge("http://" + elsewhere.host() + "/token"); });
  WriteAuths(docker_config(), {{registry.host(), kUser + ":" + kPassword},
                               {elsewhere.host(), "realm-user:realm-password"}});
  RunResult r = Tags(registry.host(), Env());
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  ExpectAskedWithoutCredentials(elsewhere);
  for (const RecordedRequest& req : elsewhere.requests()) {
    EXPECT_EQ(req.raw.find(Base64Encode("realm-user:realm-password")), std::string::npos)
        << req.raw;
  }
}

TEST_F(HostileRegistry, ALinkToAnotherHostGetsNoCredentialsAndItsChallengeIsNotAnswered) {
  // The next page of the tag list is named on another loopback port, which asks for Basic
  // credentials as the registry did.
  RecordingServer elsewhere([](const RecordedRequest&) {
    return RecordingServer::Answer(401, {"WWW-Authenticate: Basic realm=\"elsewhere\""});
  });
  RecordingServer registry([&](const RecordedRequest& r) {
    if (r.Header("authorization").empty()) {
      return RecordingServer::Answer(401, {"WWW-Authenticate: Basic realm=\"hostile\""});
    }
    return RecordingServer::Answer(
        200,
        {"Content-Type: application/json",
         "Link: <http://" + elsewhere.host() + "/v2/apps/web/tags/list?n=1&last=a>; rel=\"next\""},
        R"({"name":"apps/web","tags":["a"]})");
  });
  RunResult r = Tags(registry.host(), EnvCredentialsFor(registry.host()));
  ExpectSent(registry, "Basic " + Base64Encode(kUser + ":" + kPassword));
  ExpectAskedWithoutCredentials(elsewhere);
  EXPECT_EQ(elsewhere.requests().size(), 1u) << "its challenge is not answered";
}

// The control: the same challenge, naming a realm on the registry's own host and port.
TEST_F(HostileRegistry, TheRegistrysOwnRealmGetsTheCredentials) {
  auto own_realm = [](const RecordedRequest& r) {
    if (r.target.rfind("/token", 0) == 0) return TokenAnswer(r);
    return Challenge("http://" + r.Header("host") + "/token");
  };
  std::string basic = "Basic " + Base64Encode(kUser + ":" + kPassword);
  {
    RecordingServer registry(own_realm);
    RunResult r = Tags(registry.host(), EnvCredentialsFor(registry.host()));
    EXPECT_NE(r.exit_code, 0) << "the token is never accepted: " << r.Describe();
    ExpectSent(registry, basic);
  }
  for (const std::filesystem::path& file : {docker_config(), podman_auth()}) {
    SCOPED_TRACE(file.string());
    RecordingServer registry(own_realm);
    WriteAuths(file, {{registry.host(), kUser + ":" + kPassword}});
    RunResult r = Tags(registry.host(), Env());
    ExpectSent(registry, basic);
    std::filesystem::remove(file);
  }
}

TEST_F(HostileRegistry, EnvironmentCredentialsGoOnlyToTheRegistryLockstepRegistryNames) {
  // Basic auth: the registry is asked for credentials directly.
  auto basic_registry = [](const RecordedRequest& r) {
    if (r.Header("authorization").empty()) {
      return RecordingServer::Answer(401, {"WWW-Authenticate: Basic realm=\"hostile\""});
    }
    return RecordingServer::Answer(200, {"Content-Type: application/json"},
                                   R"({"name":"apps/web","tags":["1.0.0"]})");
  };
  RecordingServer other(TokenAnswer);  // the registry LOCKSTEP_REGISTRY names
  for (const std::vector<std::string>& env :
       {EnvCredentialsFor(other.host()),
        Env({"LOCKSTEP_REGISTRY_USERNAME=" + kUser, "LOCKSTEP_REGISTRY_PASSWORD=" + kPassword})}) {
    RecordingServer registry(basic_registry);
    RunResult r = Tags(registry.host(), env);
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.Describe();
    ExpectAskedWithoutCredentials(registry);
  }
  RecordingServer registry(basic_registry);
  RunResult named = Tags(registry.host(), EnvCredentialsFor(registry.host()));
  EXPECT_EQ(named.exit_code, 0) << named.Describe();
  EXPECT_EQ(named.OutLine(), "1.0.0");
  ExpectSent(registry, "Basic " + Base64Encode(kUser + ":" + kPassword));
}

TEST_F(HostileRegistry, ARedirectToAnotherProtocolIsNotFollowed) {
  RecordingServer target(TokenAnswer);  // would be reached over ftp:// if redirects were free
  RecordingServer registry([&](const RecordedRequest&) {
    return RecordingServer::Answer(302, {"Location: ftp://" + target.host() + "/tags"});
  });
  RunResult r = Tags(registry.host(), Env());
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("not http or https"), std::string::npos) << r.Describe();
  EXPECT_FALSE(registry.requests().empty());
  EXPECT_EQ(target.connections(), 0) << "the client spoke another protocol to " << target.host();
}

}  // namespace
}  // namespace lockstep::testing
