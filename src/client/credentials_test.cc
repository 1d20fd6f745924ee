#include "client/credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/strings.h"
#include "os/testing/temp_dir.h"

namespace lockstep::client {
namespace {

// Every variable the store reads, pointed into a scratch directory (or unset) for the test
// and restored after it.
class CredentialsTest : public ::testing::Test {
 protected:
  static constexpr const char* kVariables[] = {"HOME",
                                               "DOCKER_CONFIG",
                                               "REGISTRY_AUTH_FILE",
                                               "XDG_RUNTIME_DIR",
                                               "XDG_CONFIG_HOME",
                                               "LOCKSTEP_REGISTRY",
                                               "LOCKSTEP_REGISTRY_USERNAME",
                                               "LOCKSTEP_REGISTRY_PASSWORD"};

  void SetUp() override {
    for (const char* v : kVariables) {
      const char* old = std::getenv(v);
      saved_.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
      ::unsetenv(v);
    }
    ::setenv("HOME", home().c_str(), 1);
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

  std::filesystem::path home() const { return dir_.path() / "home"; }
  // Writes {"auths": {registry: {"auth": base64(user:password)}}} (more entries joined).
  static std::string Auths(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string body;
    for (const auto& [registry, user_password] : entries) {
      body += (body.empty() ? "" : ",") + std::string("\"") + registry + R"(":{"auth":")" +
              Base64Encode(user_password) + "\"}";
    }
    return R"({"auths":{)" + body + "}}";
  }
  void Write(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    ASSERT_TRUE(os::WriteFileAtomic(path, text).ok());
  }
  static std::string PasswordFor(const std::string& registry) {
    Result<CredentialStore> store = CredentialStore::FromEnvironment();
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return "<error>";
    std::optional<Credentials> c = store->For(registry);
    return c ? c->password : "<none>";
  }

  os::testing::TempDir dir_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(CredentialsTest, DockerConfigAuths) {
  ::setenv("DOCKER_CONFIG", dir_.path().c_str(), 1);
  Write(dir_.path() / "config.json",
        Auths({{"127.0.0.1:5000", "ci:s3cret"}, {"https://reg.example/v1/", "u:p:with:colons"}}));
  CredentialStore store = CredentialStore::FromEnvironment().value();
  ASSERT_TRUE(store.For("127.0.0.1:5000").has_value());
  EXPECT_EQ(store.For("127.0.0.1:5000")->username, "ci");
  EXPECT_EQ(store.For("127.0.0.1:5000")->password, "s3cret");
  EXPECT_EQ(store.For("reg.example")->password, "p:with:colons");
  EXPECT_EQ(store.For("REG.example")->password, "p:with:colons") << "host names ignore case";
  EXPECT_FALSE(store.For("other:1").has_value());
  EXPECT_FALSE(store.For("127.0.0.1:5001").has_value()) << "the port is part of the name";
}

TEST_F(CredentialsTest, EnvironmentCredentialsBelongToTheRegistryLockstepRegistryNames) {
  ::setenv("LOCKSTEP_REGISTRY_USERNAME", "ci", 1);
  ::setenv("LOCKSTEP_REGISTRY_PASSWORD", "tok", 1);
  EXPECT_EQ(PasswordFor("127.0.0.1:5000"), "<none>") << "no LOCKSTEP_REGISTRY: no registry";
  EXPECT_EQ(PasswordFor("evil.example"), "<none>");

  ::setenv("LOCKSTEP_REGISTRY", "127.0.0.1:5000", 1);
  CredentialStore store = CredentialStore::FromEnvironment().value();
  ASSERT_TRUE(store.For("127.0.0.1:5000").has_value());
  EXPECT_EQ(store.For("127.0.0.1:5000")->username, "ci");
  EXPECT_EQ(store.For("127.0.0.1:5000")->password, "tok");
  EXPECT_FALSE(store.For("127.0.0.1:6000").has_value()) << "another port is another registry";
  EXPECT_FALSE(store.For("127.0.0.1").has_value());
  EXPECT_FALSE(store.For("evil.example").has_value());
}

TEST_F(CredentialsTest, EnvironmentWinsForItsRegistryAndFilesServeTheOthers) {
  ::setenv("LOCKSTEP_REGISTRY", "reg.example", 1);
  ::setenv("LOCKSTEP_REGISTRY_PASSWORD", "from-env", 1);
  Write(home() / ".docker" / "config.json",
        Auths({{"reg.example", "u:from-file"}, {"other.example", "u:other"}}));
  EXPECT_EQ(PasswordFor("reg.example"), "from-env");
  EXPECT_EQ(PasswordFor("other.example"), "other");
  EXPECT_EQ(CredentialStore::FromEnvironment().value().For("reg.example")->username, "lockstep")
      << "the default user name";
}

TEST_F(CredentialsTest, AuthFilesAreSearchedInTheOrderOfContainersAuthJson) {
  std::filesystem::path runtime = dir_.path() / "run";
  std::filesystem::path override_file = dir_.path() / "override.json";
  ::setenv("XDG_RUNTIME_DIR", runtime.c_str(), 1);
  Write(runtime / "containers" / "auth.json",
        Auths({{"all", "u:runtime"}, {"runtime-only", "u:runtime"}}));
  Write(home() / ".config" / "containers" / "auth.json",
        Auths({{"all", "u:config"}, {"config-only", "u:config"}}));
  Write(home() / ".docker" / "config.json",
        Auths({{"all", "u:docker"}, {"docker-only", "u:docker"}}));
  Write(home() / ".dockercfg", R"({"all":{"auth":")" + Base64Encode("u:legacy") +
                                   R"("},"legacy-only":{"auth":")" + Base64Encode("u:legacy") +
                                   "\"}}");
  EXPECT_EQ(PasswordFor("all"), "runtime") << "podman login's file comes first";
  EXPECT_EQ(PasswordFor("config-only"), "config") << "later files fill in what it lacks";
  EXPECT_EQ(PasswordFor("docker-only"), "docker");
  EXPECT_EQ(PasswordFor("legacy-only"), "legacy");

  ::setenv("REGISTRY_AUTH_FILE", override_file.c_str(), 1);
  Write(override_file, Auths({{"all", "u:override"}}));
  EXPECT_EQ(PasswordFor("all"), "override");
  EXPECT_EQ(PasswordFor("runtime-only"), "<none>")
      << "REGISTRY_AUTH_FILE takes the place of the runtime file";
  EXPECT_EQ(PasswordFor("config-only"), "config");

  ::unsetenv("REGISTRY_AUTH_FILE");
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(PasswordFor("all"), "config");
  ::setenv("XDG_CONFIG_HOME", (dir_.path() / "xdg").c_str(), 1);
  EXPECT_EQ(PasswordFor("all"), "docker") << "XDG_CONFIG_HOME moves ~/.config";
  Write(dir_.path() / "xdg" / "containers" / "auth.json", Auths({{"all", "u:xdg"}}));
  EXPECT_EQ(PasswordFor("all"), "xdg");
  ::setenv("DOCKER_CONFIG", (dir_.path() / "dc").c_str(), 1);
  EXPECT_EQ(PasswordFor("docker-only"), "<none>") << "DOCKER_CONFIG moves ~/.docker";
}

TEST_F(CredentialsTest, NamespaceAndHelperEntriesAreNotUsed) {
  Write(home() / ".docker" / "config.json",
        R"({"credsStore":"desktop","auths":{"helped.example":{},)"
        R"("quay.io/team":{"auth":")" +
            Base64Encode("team:secret") + R"("},"id.example":{"identitytoken":"x"}}})");
  CredentialStore store = CredentialStore::FromEnvironment().value();
  EXPECT_FALSE(store.For("helped.example").has_value());
  EXPECT_FALSE(store.For("quay.io").has_value())
      << "credentials for one namespace are not the registry's";
  EXPECT_FALSE(store.For("id.example").has_value());
}

TEST_F(CredentialsTest, AMalformedFileIsAnErrorNamingIt) {
  std::filesystem::path runtime = dir_.path() / "run";
  ::setenv("XDG_RUNTIME_DIR", runtime.c_str(), 1);
  std::filesystem::path files[] = {dir_.path() / "override.json",
                                   runtime / "containers" / "auth.json",
                                   home() / ".config" / "containers" / "auth.json",
                                   home() / ".docker" / "config.json", home() / ".dockercfg"};
  for (const std::string& bad :
       {std::string("{not json"), std::string("[]"), std::string(R"({"auths":[]})"),
        std::string(R"({"auths":{"x":"y"}})"), std::string(R"({"auths":{"x":{"auth":7}}})"),
        std::string(R"({"auths":{"x":{"auth":"!!"}}})")}) {
    for (const std::filesystem::path& file : files) {
      if (file == files[0]) {
        ::setenv("REGISTRY_AUTH_FILE", file.c_str(), 1);
      } else {
        ::unsetenv("REGISTRY_AUTH_FILE");
      }
      std::string text = bad;
      if (file == files[4] && bad.find("auths") != std::string::npos) {
        text = bad.substr(9, bad.size() - 10);  // the legacy file has no "auths" wrapper
      }
      Write(file, text);
      Result<CredentialStore> store = CredentialStore::FromEnvironment();
      EXPECT_FALSE(store.ok()) << file << ": " << text;
      if (!store.ok()) {
        EXPECT_NE(store.status().message().find(file.string()), std::string::npos)
            << store.status().message();
      }
      std::filesystem::remove(file);
    }
  }
  EXPECT_TRUE(CredentialStore::FromEnvironment().ok()) << "absent files are not errors";
}

}  // namespace
}  // namespace lockstep::client
