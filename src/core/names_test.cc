#include "core/names.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(RepositoryName, AcceptsTheSpecGrammar) {
  for (const char* ok : {"a", "library/busybox", "team-a/svc__x/y.z", "a--b", "0/1/2"}) {
    EXPECT_TRUE(ValidateRepositoryName(ok).ok()) << ok;
  }
}

TEST(RepositoryName, RejectsTraversalAndReservedNames) {
  for (const char* bad : {"", "..", "a/..", "../etc", "/abs", "a//b", "a/", "A", "a/_tags", "a___b",
                          "a..b", "-a", "a-", "a/.hidden", "a b"}) {
    Status s = ValidateRepositoryName(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.reason(), "NAME_INVALID") << bad;
  }
  EXPECT_FALSE(ValidateRepositoryName(std::string(256, 'a')).ok());
}

TEST(Tag, Grammar) {
  EXPECT_TRUE(ValidateTag("1.5.4").ok());
  EXPECT_TRUE(ValidateTag("_x-Y.z").ok());
  EXPECT_FALSE(ValidateTag(".hidden").ok());
  EXPECT_FALSE(ValidateTag("-x").ok());
  EXPECT_FALSE(ValidateTag("a/b").ok());
  EXPECT_FALSE(ValidateTag("..").ok());
  EXPECT_FALSE(ValidateTag(std::string(129, 'a')).ok());
}

TEST(Reference, TagOrDigest) {
  EXPECT_FALSE(Reference::Parse("v1").value().is_digest());
  EXPECT_TRUE(Reference::Parse(DigestOf("m").str()).value().is_digest());
  EXPECT_FALSE(Reference::Parse("sha256:zz").ok());
}

}  // namespace
}  // namespace lockstep
