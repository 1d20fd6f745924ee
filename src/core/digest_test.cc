#include "core/digest.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(Digest, KnownSha256AndSha512) {
  EXPECT_EQ(DigestOf("").str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(DigestOf("abc", DigestAlgorithm::kSha512).hex().substr(0, 16), "ddaf35a193617aba");
}

TEST(Digest, ParseRejectsMalformedDigests) {
  EXPECT_TRUE(Digest::Parse(DigestOf("x").str()).ok());
  for (const char* bad : {"sha256", "sha256:", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e",
                          "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                          "sha256:../../../../../../../../../../../../../../../../etc/passwd00"}) {
    Result<Digest> d = Digest::Parse(bad);
    EXPECT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().reason(), "DIGEST_INVALID") << bad;
  }
}

TEST(Hasher, CopyThenRollBack) {
  Hasher h;
  h.Update("hello ");
  Hasher saved = h;
  h.Update("garbage");
  h = saved;
  h.Update("world");
  EXPECT_EQ(h.Finish(), DigestOf("hello world"));
}

TEST(ConstantTimeEquals, ComparesBytes) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace lockstep
