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

namespace lockstep::image {
namespace {

TEST(ParseManifest, ChildrenAreTheConfigThenTheLayers) {
  std::string body = R"({"schemaVersion":2,"config":)" + Desc(media::kOciConfig, "c") +
                     R"(,"layers":[)" + Desc(media::kOciLayerGzip, "a") + "," +
                     Desc(media::kOciLayerZstd, "b") + "]}";
  Result<Manifest> m = ParseManifest(body, "");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::vector<Descriptor> children = m->Children();
  ASSERT_EQ(children.size(), 3u);
  EXPECT_EQ(children[0].digest, DigestOf("c"));
  EXPECT_EQ(children[2].media_type, media::kOciLayerZstd);
}

TEST(ParseManifest, IndexEntriesKeepPlatformsAndAnnotations) {
  std::string entry = Desc(media::kOciManifest, "arm");
  entry.pop_back();
  entry += R"(,"platform":{"os":"linux","architecture":"arm64","variant":"v8"},)"
           R"("annotations":{"org.opencontainers.image.ref.name":"v1","n":3}})";
  std::string body = R"({"schemaVersion":2,"manifests":[)" + entry + "]}";
  Result<Manifest> m = ParseManifest(body, "");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->is_index);
  const Descriptor& d = m->references.at(0);
  ASSERT_TRUE(d.platform.has_value());
  EXPECT_EQ(d.platform->architecture, "arm64");
  EXPECT_EQ(d.platform->variant, "v8");
  EXPECT_EQ(d.annotations.at("org.opencontainers.image.ref.name"), "v1");
  EXPECT_FALSE(d.annotations.contains("n")) << "only string values are annotations";
  EXPECT_NE(d.annotations_json.find("\"n\":3"), std::string::npos) << "kept whole as text";

  // A platform of odd types is read as far as it goes, never refused: a registry stored
  // such indexes before it read platforms, and GC must still see their children.
  std::string odd = R"({"schemaVersion":2,"manifests":[)" + Desc(media::kOciManifest, "x");
  odd.pop_back();
  odd += R"(,"platform":{"os":"linux","variant":1}},)" + Desc(media::kOciManifest, "y");
  odd.pop_back();
  odd += R"(,"platform":"amd64"}]})";
  Result<Manifest> read = ParseManifest(odd, "");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->references.at(0).platform->os, "linux");
  EXPECT_EQ(read->references.at(0).platform->variant, "");
  EXPECT_FALSE(read->references.at(1).platform.has_value());
}

TEST(ParseManifest, NullIsNotAbsent) {
  std::string config = Desc(media::kOciConfig, "c");
  for (std::string body : {R"({"schemaVersion":2,"mediaType":null,"config":)" + config + "}",
                           R"({"schemaVersion":2,"config":)" + config + R"(,"layers":null})",
                           R"({"schemaVersion":2,"config":)" + config + R"(,"subject":null})",
                           R"({"schemaVersion":2,"config":)" + config + R"(,"artifactType":null})",
                           std::string(R"({"schemaVersion":2,"manifests":null})")}) {
    Result<Manifest> m = ParseManifest(body, "");
    ASSERT_FALSE(m.ok()) << body;
    EXPECT_EQ(m.status().reason(), "MANIFEST_INVALID");
    EXPECT_NE(m.status().message().find("must be"), std::string::npos) << m.status().message();
  }
}

}  // namespace
}  // namespace lockstep::image
