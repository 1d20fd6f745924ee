#include "registry/registry.h"

#include <gtest/gtest.h>

#include "os/testing/temp_dir.h"
#include "registry/testing_images.h"

namespace lockstep::registry {
namespace {

using testing::DescriptorFor;
using testing::PushBlob;
using testing::PushImageBlobs;

Reference Tag(std::string t) { return Reference{std::move(t)}; }
Reference At(const Digest& d) { return Reference{d}; }

class RegistryTest : public ::testing::Test {
 protected:
  Registry MakeRegistry(TagPolicy policy = {}) {
    return Registry(dir_.path(), RegistryOptions{std::move(policy)}, &clock_);
  }
  os::testing::TempDir dir_;
  os::SystemClock clock_;
};

TEST_F(RegistryTest, PutThenGetByTagAndDigest) {
  Registry r = MakeRegistry();
  std::string m = PushImageBlobs(r, "app", "1");
  Result<PutManifestResult> put =
      r.PutManifest("app", Tag("1.0.0"), m, image::media::kOciManifest, {});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->digest, DigestOf(m));
  EXPECT_EQ(r.GetManifest("app", Tag("1.0.0")).value().body, m);
  EXPECT_EQ(r.GetManifest("app", At(put->digest)).value().media_type, image::media::kOciManifest);
  EXPECT_EQ(r.GetManifest("other", Tag("1.0.0")).status().reason(), "MANIFEST_UNKNOWN");
}

TEST_F(RegistryTest, ManifestNeedsItsBlobsInTheSameRepository) {
  Registry r = MakeRegistry();
  std::string m = PushImageBlobs(r, "app", "1");
  Result<PutManifestResult> put = r.PutManifest("elsewhere", Tag("1"), m, "", {});
  EXPECT_EQ(put.status().reason(), "MANIFEST_BLOB_UNKNOWN");
  EXPECT_FALSE(r.GetManifest("elsewhere", Tag("1")).ok());
}

TEST_F(RegistryTest, TagsNeverMoveOnAnyPath) {
  Registry r = MakeRegistry();
  std::string a = PushImageBlobs(r, "app", "a");
  std::string b = PushImageBlobs(r, "app", "b");
  Digest da = r.PutManifest("app", Tag("1.0"), a, "", {}).value().digest;

  // Identical re-push is accepted.
  EXPECT_TRUE(r.PutManifest("app", Tag("1.0"), a, "", {}).ok());
  // PUT by tag with other content.
  Result<PutManifestResult> moved = r.PutManifest("app", Tag("1.0"), b, "", {});
  EXPECT_EQ(moved.status().code(), Code::kAlreadyExists);
  EXPECT_NE(moved.status().message().find("immutable"), std::string::npos);
  // PUT by digest naming the tag.
  EXPECT_EQ(r.PutManifest("app", At(DigestOf(b)), b, "", {"1.0"}).status().code(),
            Code::kAlreadyExists);
  EXPECT_FALSE(r.GetManifest("app", At(DigestOf(b))).ok()) << "a refused push stores nothing";
  // Delete of the tag, and of the manifest it points at.
  EXPECT_EQ(r.DeleteManifest("app", Tag("1.0")).code(), Code::kAlreadyExists);
  EXPECT_EQ(r.DeleteManifest("app", At(da)).code(), Code::kAlreadyExists);
  EXPECT_EQ(r.GetManifest("app", Tag("1.0")).value().digest, da);
}

TEST_F(RegistryTest, MutableTagPatternsMoveAndDelete) {
  Registry r = MakeRegistry(TagPolicy(std::vector<MutableTagRule>{{"app", "latest"}}));
  std::string a = PushImageBlobs(r, "app", "a");
  std::string b = PushImageBlobs(r, "app", "b");
  ASSERT_TRUE(r.PutManifest("app", Tag("latest"), a, "", {}).ok());
  ASSERT_TRUE(r.PutManifest("app", Tag("latest"), b, "", {}).ok());
  EXPECT_EQ(r.GetManifest("app", Tag("latest")).value().digest, DigestOf(b));
  EXPECT_TRUE(r.DeleteManifest("app", Tag("latest")).ok());
  EXPECT_FALSE(r.GetManifest("app", Tag("latest")).ok());
  EXPECT_TRUE(r.GetManifest("app", At(DigestOf(b))).ok()) << "deleting a tag keeps the manifest";
  EXPECT_TRUE(r.DeleteManifest("app", At(DigestOf(b))).ok());
  EXPECT_FALSE(r.GetManifest("app", At(DigestOf(b))).ok());
}

TEST_F(RegistryTest, TagPagination) {
  Registry r = MakeRegistry();
  std::string m = PushImageBlobs(r, "app", "1");
  for (const char* t : {"c", "a", "b", "d"})
    ASSERT_TRUE(r.PutManifest("app", Tag(t), m, "", {}).ok());
  TagPage p1 = r.ListTags("app", 2, "").value();
  EXPECT_EQ(p1.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p1.more);
  TagPage p2 = r.ListTags("app", 2, "b").value();
  EXPECT_EQ(p2.tags, (std::vector<std::string>{"c", "d"}));
  EXPECT_FALSE(p2.more);
  EXPECT_EQ(r.ListTags("nope", {}, "").status().reason(), "NAME_UNKNOWN");
}

TEST_F(RegistryTest, ReferrersWithArtifactTypeFilter) {
  Registry r = MakeRegistry();
  std::string subject = PushImageBlobs(r, "app", "s");
  Digest sd = r.PutManifest("app", Tag("1"), subject, "", {}).value().digest;
  std::string subj = R"(,"subject":)" + DescriptorFor(image::media::kOciManifest, subject);
  std::string sig =
      PushImageBlobs(r, "app", "sig", R"(,"artifactType":"application/x-sig")" + subj);
  std::string sbom =
      PushImageBlobs(r, "app", "sbom", R"(,"artifactType":"application/x-sbom")" + subj);
  Result<PutManifestResult> put = r.PutManifest("app", At(DigestOf(sig)), sig, "", {});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->subject, sd);
  ASSERT_TRUE(r.PutManifest("app", At(DigestOf(sbom)), sbom, "", {}).ok());

  std::string all = r.Referrers("app", sd, "").value().index_json;
  EXPECT_NE(all.find(DigestOf(sig).str()), std::string::npos);
  EXPECT_NE(all.find(DigestOf(sbom).str()), std::string::npos);
  ReferrersResult sigs = r.Referrers("app", sd, "application/x-sig").value();
  EXPECT_TRUE(sigs.filtered);
  EXPECT_NE(sigs.index_json.find(DigestOf(sig).str()), std::string::npos);
  EXPECT_EQ(sigs.index_json.find(DigestOf(sbom).str()), std::string::npos);

  ASSERT_TRUE(r.DeleteManifest("app", At(DigestOf(sig))).ok());
  EXPECT_EQ(r.Referrers("app", sd, "").value().index_json.find(DigestOf(sig).str()),
            std::string::npos);
}

TEST_F(RegistryTest, MountAndBlobDelete) {
  Registry r = MakeRegistry();
  Digest d = PushBlob(r, "src", "shared layer");
  EXPECT_FALSE(r.MountBlob("dst", DigestOf("absent"), "src").value());
  EXPECT_TRUE(r.MountBlob("dst", d, "src").value());
  EXPECT_EQ(r.StatBlob("dst", d).value(), 12u);
  EXPECT_TRUE(r.DeleteBlob("dst", d).ok());
  EXPECT_EQ(r.StatBlob("dst", d).status().reason(), "BLOB_UNKNOWN");
  EXPECT_TRUE(r.StatBlob("src", d).ok());

  std::string m = PushImageBlobs(r, "app", "1");
  ASSERT_TRUE(r.PutManifest("app", Tag("1"), m, "", {}).ok());
  Status refused = r.DeleteBlob("app", DigestOf("layer-1"));
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
}

TEST_F(RegistryTest, ListRepositoriesIncludesNestedNames) {
  Registry r = MakeRegistry();
  PushBlob(r, "a", "x");
  PushBlob(r, "a/b", "y");
  PushBlob(r, "c/d/e", "z");
  EXPECT_EQ(r.ListRepositories().value(), (std::vector<std::string>{"a", "a/b", "c/d/e"}));
}

}  // namespace
}  // namespace lockstep::registry
