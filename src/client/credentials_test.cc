#include "client/credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/strings.h"
#include "os/testing/temp_dir.h"

namespace lockstep::client {
namespace {

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("DOCKER_CONFIG", dir_.path().c_str(), 1);
    ::unsetenv("LOCKSTEP_REGISTRY_USERNAME");
    ::unsetenv("LOCKSTEP_REGISTRY_PASSWORD");
  }
  void TearDown() override { ::unsetenv("DOCKER_CONFIG"); }
  os::testing::TempDir dir_;
};

TEST_F(CredentialsTest, DockerConfigAuths) {
  ASSERT_TRUE(os::WriteFileAtomic(dir_.path() / "config.json",
                                  R"({"auths":{"127.0.0.1:5000":{"auth":")" +
                                      Base64Encode("ci:s3cret") +
                                      R"("},"https://reg.example/v1/":{"auth":")" +
                                      Base64Encode("u:p:with:colons") + R"("}}})")
                  .ok());
  CredentialStore store = CredentialStore::FromEnvironment().value();
  ASSERT_TRUE(store.For("127.0.0.1:5000").has_value());
  EXPECT_EQ(store.For("127.0.0.1:5000")->username, "ci");
  EXPECT_EQ(store.For("127.0.0.1:5000")->password, "s3cret");
  EXPECT_EQ(store.For("reg.example")->password, "p:with:colons");
  EXPECT_FALSE(store.For("other:1").has_value());
}

TEST_F(CredentialsTest, EnvironmentWinsAndBadConfigIsNamed) {
  ::setenv("LOCKSTEP_REGISTRY_PASSWORD", "tok", 1);
  ASSERT_TRUE(os::WriteFileAtomic(dir_.path() / "config.json", "{}").ok());
  EXPECT_EQ(CredentialStore::FromEnvironment().value().For("any:1")->password, "tok");
  ::unsetenv("LOCKSTEP_REGISTRY_PASSWORD");
  ASSERT_TRUE(
      os::WriteFileAtomic(dir_.path() / "config.json", R"({"auths":{"x":{"auth":"!!"}}})").ok());
  Result<CredentialStore> bad = CredentialStore::FromEnvironment();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("config.json"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::client
