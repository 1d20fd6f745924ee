#include "runtime/local/runc_version.h"

#include <gtest/gtest.h>

namespace lockstep::runtime::local {
namespace {

RuncVersion Parsed(std::string_view version, std::string_view commit = "") {
  std::string out = "runc version " + std::string(version) + "\n";
  if (!commit.empty()) out += "commit: " + std::string(commit) + "\n";
  out += "spec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n";
  Result<RuncVersion> v = ParseRuncVersion(out);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : RuncVersion{};
}

TEST(RuncVersion, ReadsReleasesPreReleasesAndPackages) {
  RuncVersion debian = Parsed("1.1.5+ds1", "1.1.5+ds1-1+deb12u1");
  EXPECT_EQ(debian.major * 10000 + debian.minor * 100 + debian.patch, 10105);
  EXPECT_EQ(debian.package, "1.1.5+ds1-1+deb12u1");
  EXPECT_TRUE(OlderThan(Parsed("1.0.0-rc7"), Parsed("1.0.0-rc95")));
  EXPECT_TRUE(OlderThan(Parsed("1.0.0-rc95"), Parsed("1.0.0")));
  EXPECT_TRUE(OlderThan(Parsed("1.4.0-rc.2"), Parsed("1.4.0-rc.3")));
  EXPECT_FALSE(OlderThan(Parsed("1.2.8"), Parsed("1.1.12")));
  EXPECT_FALSE(OlderThan(Parsed("1.1.12-0ubuntu2~22.04.1"), Parsed("1.1.12")))
      << "a distribution's revision is that release, not a pre-release of it";
  EXPECT_FALSE(ParseRuncVersion("crun version 1.8\n").ok());
  EXPECT_FALSE(ParseRuncVersion("runc version 1.x.5\n").ok());
}

TEST(RuncVersion, KnownEscapesAreRefusedUnlessFixedOrBackported) {
  // Debian 12's runc: upstream 1.1.5 with the CVE-2024-21626 fix backported.
  EXPECT_TRUE(CheckRuncVersion(Parsed("1.1.5+ds1", "1.1.5+ds1-1+deb12u1")).ok());
  EXPECT_TRUE(CheckRuncVersion(Parsed("1.1.12", "51d5e946")).ok());
  EXPECT_TRUE(CheckRuncVersion(Parsed("1.2.8")).ok());

  Status unpatched = CheckRuncVersion(Parsed("1.1.5+ds1", "1.1.5+ds1-1"));
  EXPECT_EQ(unpatched.code(), Code::kFailedPrecondition);
  EXPECT_NE(unpatched.message().find("CVE-2024-21626"), std::string::npos) << unpatched.message();
  EXPECT_NE(unpatched.reason().find("runc 1.1.12"), std::string::npos) << unpatched.reason();
  Status upstream = CheckRuncVersion(Parsed("1.1.11"));
  EXPECT_NE(upstream.message().find("CVE-2024-21626"), std::string::npos);
  Status ancient = CheckRuncVersion(Parsed("1.0.0-rc6"));
  EXPECT_NE(ancient.message().find("CVE-2019-5736"), std::string::npos);
  EXPECT_NE(ancient.message().find("CVE-2024-21626"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::runtime::local
