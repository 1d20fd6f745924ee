#include "attest/attestation.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "os/file.h"
#include "os/testing/temp_dir.h"

namespace lockstep::attest {
namespace {

Attestation Soak() {
  return {.kind = "soak",
          .service = "web",
          .repository = "apps/web",
          .digest = "sha256:" + std::string(64, 'a'),
          .release = "r1",
          .environment = "staging",
          .live_since = 100,
          .soak_seconds = 1800,
          .health = "healthy",
          .by = "lockstep",
          .at = 1900};
}

class SignerTest : public ::testing::Test {
 protected:
  os::testing::TempDir dir_;
  std::filesystem::path key_ = dir_.path() / "secrets" / "attestation.key";
};

TEST_F(SignerTest, ASignedStatementVerifiesWithThePublicKeyOnly) {
  auto signer = Signer::LoadOrCreate(key_).value();
  Signed s = signer->Sign(Soak());
  Result<Attestation> read = Verify(s, signer->public_key_pem());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->digest, Soak().digest);
  EXPECT_EQ(read->soak_seconds, 1800);
  EXPECT_EQ(read->environment, "staging");
  EXPECT_EQ(signer->public_key_pem().find("PRIVATE"), std::string::npos);
  EXPECT_EQ(KeyIdOf(signer->public_key_pem()).value(), signer->key_id());
}

TEST_F(SignerTest, AChangedStatementOrSignatureOrAnotherKeyIsRefused) {
  auto signer = Signer::LoadOrCreate(key_).value();
  Signed s = signer->Sign(Soak());
  Signed changed = s;
  size_t at = changed.payload.find("staging");
  ASSERT_NE(at, std::string::npos);
  changed.payload.replace(at, 7, "prod\",\"x\":\"");
  EXPECT_EQ(Verify(changed, signer->public_key_pem()).status().code(), Code::kPermissionDenied);
  Signed forged = s;
  forged.signature[3] = forged.signature[3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Verify(forged, signer->public_key_pem()).status().code(), Code::kPermissionDenied);

  os::testing::TempDir other_dir;
  auto other = Signer::LoadOrCreate(other_dir.path() / "secrets" / "k").value();
  EXPECT_NE(other->key_id(), signer->key_id());
  Signed by_other = other->Sign(Soak());
  Result<Attestation> wrong = Verify(by_other, signer->public_key_pem());
  EXPECT_EQ(wrong.status().code(), Code::kPermissionDenied);
  EXPECT_NE(wrong.status().message().find("not by this key"), std::string::npos);
  // Another key's signature under this key's id still does not verify.
  by_other.key_id = signer->key_id();
  EXPECT_EQ(Verify(by_other, signer->public_key_pem()).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(Verify(s, "not a key").status().code(), Code::kInvalidArgument);
}

TEST_F(SignerTest, TheKeyIsMadeOncePrivateAndKeptAcrossRestarts) {
  std::string id = Signer::LoadOrCreate(key_).value()->key_id();
  struct stat st {};
  ASSERT_EQ(::stat(key_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(key_.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "the key's directory is private";
  EXPECT_EQ(Signer::LoadOrCreate(key_).value()->key_id(), id);
  ASSERT_TRUE(os::WriteFileAtomic(key_, "-----BEGIN PRIVATE KEY-----\nnope\n", 0600).ok());
  Result<std::unique_ptr<Signer>> broken = Signer::LoadOrCreate(key_);
  EXPECT_EQ(broken.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(broken.status().message().find("is not an ed25519 private key"), std::string::npos);
}

TEST(Payload, OnlyWhatPayloadOfWroteReads) {
  EXPECT_TRUE(ParsePayload(PayloadOf(Soak())).ok());
  EXPECT_FALSE(ParsePayload("{}").ok());
  EXPECT_FALSE(ParsePayload(R"({"type":"other"})").ok());
  Attestation odd = Soak();
  odd.kind = "vibes";
  EXPECT_FALSE(ParsePayload(PayloadOf(odd)).ok());
  EXPECT_FALSE(ParsePayload(std::string(70 << 10, ' ')).ok());
}

}  // namespace
}  // namespace lockstep::attest
