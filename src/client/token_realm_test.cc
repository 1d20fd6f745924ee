#include "client/token_realm.h"

#include <gtest/gtest.h>

namespace lockstep::client {
namespace {

TEST(HttpOrigin, IsNormalisedForComparison) {
  Result<HttpOrigin> o = ParseHttpOrigin("HTTPS://Reg.Example/token?x=1");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->host, "reg.example");
  EXPECT_EQ(o->port, 443);
  EXPECT_EQ(o->Authority(), "reg.example");
  EXPECT_EQ(ParseHttpOrigin("https://reg.example:443/")->Authority(), "reg.example");
  EXPECT_EQ(ParseHttpOrigin("http://127.0.0.1:5000/auth/token")->Authority(), "127.0.0.1:5000");
  EXPECT_EQ(ParseHttpOrigin("http://[::1]:5000/")->host, "[::1]");
}

TEST(HttpOrigin, OnlyHttpUrlsWithAHostAndNoUserInformation) {
  for (const char* bad : {"ftp://127.0.0.1/token", "file:///etc/passwd", "/auth/token",
                          "gopher://x/", "https://user:pw@reg.example/token", "https:///token",
                          "https://reg\"x.example/", "https://reg%22.example/"}) {
    EXPECT_FALSE(ParseHttpOrigin(bad).ok()) << bad;
  }
}

TEST(HttpOrigin, Loopback) {
  for (const char* r :
       {"127.0.0.1:5000", "127.4.5.6", "localhost:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"}) {
    EXPECT_TRUE(IsLoopbackRegistry(r)) << r;
  }
  for (const char* r : {"10.0.0.1:5000", "reg.example", "0.0.0.0:5000", "[::]:5000",
                        "localhost.example", "128.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackRegistry(r)) << r;
  }
}

class RealmCredentials : public ::testing::Test {
 protected:
  std::optional<Credentials> For(std::string_view realm, std::string_view registry, bool insecure) {
    Result<std::optional<Credentials>> c = CredentialsForRealm(realm, registry, insecure, &store_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : std::nullopt;
  }
  std::string PasswordFor(std::string_view realm, std::string_view registry, bool insecure) {
    std::optional<Credentials> c = For(realm, registry, insecure);
    return c ? c->password : "<anonymous>";
  }

  CredentialStore store_ = CredentialStore::Fixed({
      {"reg.example", {"u", "registry-password"}},
      {"auth.example", {"a", "auth-password"}},
      {"127.0.0.1:5000", {"u", "loopback-password"}},
      {"10.0.0.5:5000", {"u", "lan-password"}},
  });
};

TEST_F(RealmCredentials, TheRegistrysOwnHostOverHttpsGetsItsCredentials) {
  EXPECT_EQ(PasswordFor("https://reg.example/token", "reg.example", false), "registry-password");
  EXPECT_EQ(PasswordFor("https://REG.example:443/v2/token", "reg.example", false),
            "registry-password");
}

TEST_F(RealmCredentials, AnotherHostGetsNothingEvenWhenTheUserLoggedInThere) {
  EXPECT_EQ(PasswordFor("https://evil.example/token", "reg.example", false), "<anonymous>");
  EXPECT_EQ(PasswordFor("https://reg.example:8443/token", "reg.example", false), "<anonymous>")
      << "another port is another host";
  EXPECT_EQ(PasswordFor("https://auth.example/token", "reg.example", false), "<anonymous>")
      << "the token a login there would buy goes to reg.example";
}

TEST_F(RealmCredentials, LoopbackNamesOfOnePortAreOneHostAndInsecureHttpsIsNotPrivate) {
  EXPECT_EQ(PasswordFor("http://localhost:5000/auth/token", "127.0.0.1:5000", true),
            "loopback-password");
  EXPECT_EQ(PasswordFor("https://reg.example/token", "reg.example", true), "<anonymous>")
      << "--insecure does not check certificates";
}

TEST_F(RealmCredentials, PlainHttpOnlyToLoopbackAndOnlyWhenInsecure) {
  EXPECT_EQ(PasswordFor("http://reg.example/token", "reg.example", false), "<anonymous>");
  EXPECT_EQ(PasswordFor("http://127.0.0.1:5000/auth/token", "127.0.0.1:5000", true),
            "loopback-password");
  EXPECT_EQ(PasswordFor("http://127.0.0.1:5000/auth/token", "127.0.0.1:5000", false), "<anonymous>")
      << "without --insecure the registry is https, so plain http is not its own channel";
  EXPECT_EQ(PasswordFor("http://127.0.0.1:6000/token", "127.0.0.1:5000", true), "<anonymous>")
      << "another loopback port is another host";
  EXPECT_EQ(PasswordFor("http://10.0.0.5:5000/token", "10.0.0.5:5000", true), "<anonymous>")
      << "plain http off loopback";
  EXPECT_EQ(PasswordFor("https://10.0.0.5:5000/token", "10.0.0.5:5000", false), "lan-password");
}

TEST_F(RealmCredentials, ARealmThatIsNoHttpUrlIsRefused) {
  for (const char* realm : {"ftp://127.0.0.1:5000/token", "file:///etc/passwd", "/auth/token",
                            "https://u:p@reg.example/token"}) {
    Result<std::optional<Credentials>> c =
        CredentialsForRealm(realm, "reg.example", false, &store_);
    ASSERT_FALSE(c.ok()) << realm;
    EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(c.status().message().find("token endpoint"), std::string::npos);
  }
  EXPECT_FALSE(CredentialsForRealm("https://reg.example/token", "reg.example", false, nullptr)
                   .value()
                   .has_value())
      << "no store, no credentials";
}

}  // namespace
}  // namespace lockstep::client
