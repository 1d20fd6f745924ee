#include "image/oci_layout.h"

#include <gtest/gtest.h>

#include "image/media_types.h"
#include "os/file.h"
#include "os/testing/temp_dir.h"

namespace lockstep::image {
namespace {

TEST(OciLayout, EntriesItCannotReadAreSkippedNotFatal) {
  os::testing::TempDir dir;
  std::string good = R"({"mediaType":")" + std::string(media::kOciManifest) + R"(","digest":")" +
                     DigestOf("m").str() +
                     R"(","size":1,"annotations":{"org.opencontainers.image.ref.name":"v1"}})";
  // Another tool's entries: no schemaVersion, a broken digest, a non-object.
  ASSERT_TRUE(
      os::WriteFileAtomic(dir.path() / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})").ok());
  ASSERT_TRUE(
      os::WriteFileAtomic(
          dir.path() / "index.json",
          R"({"manifests":[{"mediaType":"x","digest":"sha256:1","size":1},7,)" + good + "]}")
          .ok());
  Result<OciLayout> layout = OciLayout::Open(dir.path());
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  Result<LayoutEntry> v1 = layout->Resolve("v1");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->digest, DigestOf("m"));
  EXPECT_EQ(layout->Entries()->size(), 1u);
}

TEST(OciLayout, AnIndexWithoutAManifestListIsRefusedNamingTheFile) {
  os::testing::TempDir dir;
  ASSERT_TRUE(
      os::WriteFileAtomic(dir.path() / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})").ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir.path() / "index.json", R"({"schemaVersion":2})").ok());
  Result<OciLayout> layout = OciLayout::Open(dir.path());
  ASSERT_TRUE(layout.ok());
  Status refused = layout->Entries().status();
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("index.json is not an image index"), std::string::npos)
      << refused.message();
}

}  // namespace
}  // namespace lockstep::image
