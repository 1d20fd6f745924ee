#include "config/config.h"

#include <gtest/gtest.h>

#include "os/testing/temp_dir.h"

namespace lockstep::config {
namespace {

TEST(Config, MissingFileMeansDefaults) {
  os::testing::TempDir dir;
  Result<ServerConfig> c = LoadConfig(dir.path() / "config.toml", false);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->registry.tag_policy.IsMutable("app", "latest"));
  EXPECT_FALSE(LoadConfig(dir.path() / "config.toml", true).ok());
}

TEST(Config, MutableTagRulesAndLimits) {
  os::testing::TempDir dir;
  ASSERT_TRUE(
      os::WriteFileAtomic(dir.path() / "c.toml",
                          "[registry]\nupload_ttl = \"2h\"\nmax_upload_size = \"1MiB\"\n"
                          "[[registry.mutable_tags]]\nrepos = \"dev/*\"\ntags = \"latest\"\n")
          .ok());
  Result<ServerConfig> c = LoadConfig(dir.path() / "c.toml", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->upload_ttl_seconds, 7200);
  EXPECT_EQ(c->registry.max_upload_bytes, 1u << 20);
  EXPECT_TRUE(c->registry.tag_policy.IsMutable("dev/api", "latest"));
  EXPECT_FALSE(c->registry.tag_policy.IsMutable("prod/api", "latest"));
}

TEST(Config, Runtime) {
  os::testing::TempDir dir;
  Result<ServerConfig> defaults = LoadConfig(dir.path() / "none.toml", false);
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->runtime.enabled);
  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "c.toml",
                                  "[runtime]\nenabled = false\nproxy_address = \"0.0.0.0\"\n"
                                  "log_size = \"64KiB\"\n")
                  .ok());
  Result<ServerConfig> c = LoadConfig(dir.path() / "c.toml", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->runtime.enabled);
  EXPECT_EQ(c->runtime.proxy_address, "0.0.0.0");
  EXPECT_EQ(c->runtime.log_bytes, 64u << 10);
  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "bad.toml", "[runtime]\nenabled = \"yes\"\n").ok());
  Result<ServerConfig> bad = LoadConfig(dir.path() / "bad.toml", true);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.toml:2:"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("enabled must be true or false"), std::string::npos);
}

TEST(Config, ErrorsNameFileLineAndKey) {
  os::testing::TempDir dir;
  ASSERT_TRUE(
      os::WriteFileAtomic(dir.path() / "c.toml", "[registry]\n\nupload_tll = \"2h\"\n").ok());
  Result<ServerConfig> c = LoadConfig(dir.path() / "c.toml", true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("c.toml:3:"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("upload_tll"), std::string::npos);

  ASSERT_TRUE(
      os::WriteFileAtomic(dir.path() / "typo.toml", "[registy]\nupload_ttl = \"1h\"\n").ok());
  Result<ServerConfig> typo = LoadConfig(dir.path() / "typo.toml", true);
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown section 'registy'"), std::string::npos);

  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "bad.toml", "[registry\n").ok());
  Result<ServerConfig> bad = LoadConfig(dir.path() / "bad.toml", true);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.toml:1:"), std::string::npos)
      << bad.status().message();
}

TEST(Config, PublicUrl) {
  os::testing::TempDir dir;
  EXPECT_TRUE(LoadConfig(dir.path() / "none.toml", false)->public_url.empty())
      << "the default comes from the listen address";
  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "c.toml",
                                  "[server]\npublic_url = \"HTTPS://Registry.example:8443/\"\n")
                  .ok());
  Result<ServerConfig> c = LoadConfig(dir.path() / "c.toml", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->public_url, "https://Registry.example:8443");

  EXPECT_EQ(ParsePublicUrl("http://10.0.0.5:5000", "--public-url").value(), "http://10.0.0.5:5000");
  EXPECT_EQ(ParsePublicUrl("https://[2001:db8::1]/", "--public-url").value(),
            "https://[2001:db8::1]");
  for (const char* bad :
       {"registry.example", "ftp://registry.example", "https://", "https://u:p@registry.example",
        "https://registry.example/v2", "https://registry.example/?x=1",
        "https://registry.example#f", "https://reg\"istry.example", "https://reg,istry.example",
        "https://registry.example:0", "https://registry.example:/", "https://reg%22.example"}) {
    Result<std::string> url = ParsePublicUrl(bad, "--public-url");
    EXPECT_FALSE(url.ok()) << bad;
    if (!url.ok()) {
      EXPECT_NE(url.status().message().find("--public-url"), std::string::npos)
          << url.status().message();
    }
  }

  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "bad.toml",
                                  "[server]\n\npublic_url = \"https://registry.example/v2\"\n")
                  .ok());
  Result<ServerConfig> bad = LoadConfig(dir.path() / "bad.toml", true);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.toml:3:"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("server.public_url"), std::string::npos);
  ASSERT_TRUE(
      os::WriteFileAtomic(dir.path() / "key.toml", "[server]\npublic_uri = \"http://x\"\n").ok());
  Result<ServerConfig> key = LoadConfig(dir.path() / "key.toml", true);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("unknown key server.public_uri"), std::string::npos);
}

}  // namespace
TEST(Config, TheDeploySectionIsReadAndChecked) {
  os::testing::TempDir dir;
  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "c.toml",
                                  "[deploy]\nrepo = \"/srv/deploy.git\"\nbranch = \"release\"\n"
                                  "fetch_interval = \"5m\"\nhealth_timeout = \"30s\"\n"
                                  "webhook_secret = \"0123456789abcdef\"\n")
                  .ok());
  Result<ServerConfig> c = LoadConfig(dir.path() / "c.toml", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->deploy.repo, "/srv/deploy.git");
  EXPECT_EQ(c->deploy.branch, "release");
  EXPECT_EQ(c->deploy.fetch_interval_seconds, 300);
  EXPECT_EQ(c->deploy.health_timeout_ms, 30'000);

  ASSERT_TRUE(
      os::WriteFileAtomic(dir.path() / "short.toml", "[deploy]\nwebhook_secret = \"abc\"\n").ok());
  Result<ServerConfig> short_secret = LoadConfig(dir.path() / "short.toml", true);
  ASSERT_FALSE(short_secret.ok());
  EXPECT_NE(short_secret.status().message().find("short.toml:2:"), std::string::npos)
      << short_secret.status().message();
  EXPECT_NE(short_secret.status().message().find("at least 16 characters"), std::string::npos);

  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "typo.toml", "[deploy]\nrepository = \"x\"\n").ok());
  Result<ServerConfig> typo = LoadConfig(dir.path() / "typo.toml", true);
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown key deploy.repository"), std::string::npos)
      << typo.status().message();
}

}  // namespace lockstep::config
