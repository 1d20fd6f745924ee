#include "auth/auth.h"

#include <gtest/gtest.h>

#include "base/strings.h"
#include "os/testing/temp_dir.h"

namespace lockstep::auth {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  std::string Basic(const std::string& token) { return "Basic " + Base64Encode("u:" + token); }
  // A bearer as the token endpoint mints it after Basic credentials.
  std::string BearerFor(const std::string& token) {
    Result<Identity> who = auth_.IdentifyBasic(Basic(token));
    EXPECT_TRUE(who.ok()) << who.status().ToString();
    return "Bearer " + auth_.MintBearer(*who).token;
  }

  os::testing::TempDir dir_;
  os::FakeClock clock_{1700000000};
  std::unique_ptr<state::TokenStore> tokens_ =
      state::TokenStore::Open((dir_.path() / "state.db").string(), &clock_).value();
  Authenticator auth_{tokens_.get(), std::string(32, 'k'), &clock_, /*dev_mode=*/false};
};

TEST_F(AuthenticatorTest, ABearerActsAsItsToken) {
  std::string token = tokens_->Create("ci", ParseGrants("ci:apps/*").value()).value();
  Result<Identity> who = auth_.Identify(BearerFor(token));
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->name, "ci");
  EXPECT_EQ(GrantsString(who->grants), "ci:apps/*");
  EXPECT_TRUE(who->Allows(Action::kPush, "apps/x"));
  EXPECT_FALSE(who->Allows(Action::kPush, "other"));
}

TEST_F(AuthenticatorTest, ABearerEndsWithItsTokenAndNeverComesBack) {
  std::string old_token = tokens_->Create("reuse", ParseGrants("pull:**").value()).value();
  std::string bearer = BearerFor(old_token);
  ASSERT_TRUE(auth_.Identify(bearer).ok());
  ASSERT_TRUE(tokens_->Revoke("reuse").ok());
  EXPECT_EQ(auth_.Identify(bearer).status().code(), Code::kUnauthenticated);

  // A new token under the old name is another token: the old bearer stays dead, and
  // never gains the new token's rights.
  ASSERT_TRUE(tokens_->Create("reuse", ParseGrants("admin").value()).ok());
  Result<Identity> revived = auth_.Identify(bearer);
  EXPECT_EQ(revived.status().code(), Code::kUnauthenticated)
      << "revived as " << (revived.ok() ? GrantsString(revived->grants) : "");
}

TEST_F(AuthenticatorTest, BearersExpireAndForgeriesAreRefused) {
  std::string token = tokens_->Create("ci", ParseGrants("ci:**").value()).value();
  std::string bearer = BearerFor(token);
  std::string forged = bearer;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(auth_.Identify(forged).status().code(), Code::kUnauthenticated);
  clock_.Advance(std::chrono::seconds(301));
  EXPECT_EQ(auth_.Identify(bearer).status().code(), Code::kUnauthenticated);
}

TEST_F(AuthenticatorTest, TheDevAnonymousBearerIsNothingOutsideDevMode) {
  Authenticator dev(tokens_.get(), std::string(32, 'k'), &clock_, /*dev_mode=*/true);
  Result<Identity> anonymous = dev.IdentifyBasic("");
  ASSERT_TRUE(anonymous.ok());
  std::string bearer = "Bearer " + dev.MintBearer(*anonymous).token;
  EXPECT_TRUE(dev.Identify(bearer).value().IsAdmin());
  EXPECT_EQ(auth_.Identify(bearer).status().code(), Code::kUnauthenticated);
}

}  // namespace
}  // namespace lockstep::auth
