#include "image/manifest.h"

#include <gtest/gtest.h>

#include "image/media_types.h"

namespace lockstep::image {
namespace {

std::string Desc(std::string_view media_type, std::string_view content) {
  return R"({"mediaType":")" + std::string(media_type) + R"(","digest":")" +
         DigestOf(content).str() + R"(","size":)" + std::to_string(content.size()) + "}";
}

TEST(ParseManifest, ImageManifestWithSubject) {
  std::string body = R"({"schemaVersion":2,"mediaType":")" + std::string(media::kOciManifest) +
                     R"(","artifactType":"application/x-sig","config":)" +
                     Desc(media::kOciEmpty, "{}") + R"(,"layers":[)" +
                     Desc(media::kOciLayerGzip, "l") + R"(],"subject":)" +
                     Desc(media::kOciManifest, "m") + "}";
  Result<Manifest> m = ParseManifest(body, media::kOciManifest);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE(m->is_index);
  EXPECT_EQ(m->references.size(), 1u);
  ASSERT_TRUE(m->subject.has_value());
  EXPECT_EQ(m->subject->digest, DigestOf("m"));
  EXPECT_EQ(m->artifact_type, "application/x-sig");
}

TEST(ParseManifest, IndexFromContentType) {
  std::string body = R"({"schemaVersion":2,"manifests":[)" + Desc(media::kOciManifest, "a") + "]}";
  Result<Manifest> m = ParseManifest(body, media::kOciIndex);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->is_index);
}

TEST(ParseManifest, RejectsWithAReasonAndTheField) {
  struct Case {
    std::string body, content_type, expect;
  } cases[] = {
      {"{", "", "not valid JSON"},
      {"[]", "", "JSON object"},
      {R"({"schemaVersion":1})", "", "schemaVersion"},
      {R"({"schemaVersion":2,"mediaType":"text/plain"})", "", "not an image manifest"},
      {R"({"schemaVersion":2,"layers":[]})", std::string(media::kOciManifest), "config"},
      {R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:12","size":1}})", "",
       "config.digest"},
      {R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + DigestOf("").str() +
           R"(","size":-1}})",
       "", "config.size"},
      {R"({"schemaVersion":2,"mediaType":")" + std::string(media::kOciIndex) + R"("})",
       std::string(media::kOciManifest), "does not match Content-Type"},
  };
  for (const Case& c : cases) {
    Result<Manifest> m = ParseManifest(c.body, c.content_type);
    ASSERT_FALSE(m.ok()) << c.body;
    EXPECT_EQ(m.status().reason(), "MANIFEST_INVALID") << c.body;
    EXPECT_NE(m.status().message().find(c.expect), std::string::npos) << m.status().message();
  }
}

}  // namespace
}  // namespace lockstep::image
