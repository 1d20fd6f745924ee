#include "core/semver.h"

#include <gtest/gtest.h>

#include "core/image_ref.h"

namespace lockstep {
namespace {

TEST(SemVer, ParsesTheSpecExamples) {
  SemVer v = SemVer::Parse("2.0.0-rc.1+build.7").value();
  EXPECT_EQ(v.major, 2u);
  EXPECT_EQ(v.prerelease, (std::vector<std::string>{"rc", "1"}));
  EXPECT_EQ(v.build, (std::vector<std::string>{"build", "7"}));
  EXPECT_EQ(v.str(), "2.0.0-rc.1+build.7");
  EXPECT_TRUE(SemVer::Parse("1.5.4").ok());
}

TEST(SemVer, RejectsWithAReason) {
  struct Case {
    const char* text;
    const char* why;
  } cases[] = {{"1.5", "three numbers"},      {"01.2.3", "leading zero"},
               {"1.2.3-01", "leading zero"},  {"1.2.3-", "empty identifier"},
               {"1.2.x", "not a number"},     {"v1.2.3", "not a number"},
               {"1.2.3+b_1", "[0-9A-Za-z-]"}, {"latest", "three numbers"}};
  for (const Case& c : cases) {
    Result<SemVer> v = SemVer::Parse(c.text);
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_NE(v.status().message().find(c.why), std::string::npos) << v.status().message();
  }
}

TEST(SemVer, PrecedenceFollowsTheSpec) {
  const char* ordered[] = {"1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                           "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
                           "1.0.1",        "1.10.0"};
  for (size_t i = 0; i + 1 < std::size(ordered); ++i) {
    EXPECT_EQ(SemVer::Parse(ordered[i])->Compare(*SemVer::Parse(ordered[i + 1])),
              std::strong_ordering::less)
        << ordered[i] << " < " << ordered[i + 1];
  }
  EXPECT_EQ(SemVer::Parse("1.0.0+a")->Compare(*SemVer::Parse("1.0.0+b")),
            std::strong_ordering::equal);
}

TEST(ImageRef, RegistryRepositoryTagDigest) {
  ImageRef r = ImageRef::Parse("127.0.0.1:5000/apps/api:1.2.3", "").value();
  EXPECT_EQ(r.registry, "127.0.0.1:5000");
  EXPECT_EQ(r.repository, "apps/api");
  EXPECT_EQ(r.tag, "1.2.3");
  EXPECT_EQ(r.reference(), "1.2.3");

  ImageRef d = ImageRef::Parse("apps/api@" + DigestOf("m").str(), "reg.example:443").value();
  EXPECT_EQ(d.registry, "reg.example:443");
  EXPECT_EQ(d.reference(), DigestOf("m").str());
  EXPECT_FALSE(d.tag.has_value());

  EXPECT_EQ(ImageRef::Parse("localhost/x", "").value().tag, "latest");
  EXPECT_EQ(ImageRef::Parse("embedded/shop/web", "other.example").value().registry, "embedded")
      << "lockstep's own registry, by name";
  EXPECT_FALSE(ImageRef::Parse("apps/api:1", "").ok()) << "no registry anywhere";
  EXPECT_FALSE(ImageRef::Parse("r.io/Apps:1", "").ok());
  EXPECT_FALSE(ImageRef::Parse("r.io/a:-bad", "").ok());
  EXPECT_FALSE(ImageRef::Parse("r.io/a@sha256:12", "").ok());
}

}  // namespace
}  // namespace lockstep
