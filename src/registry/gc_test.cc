#include "registry/gc.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "os/testing/temp_dir.h"
#include "registry/testing_images.h"

namespace lockstep::registry {
namespace {

using testing::PushBlob;
using testing::PushImageBlobs;

// Moves every file's mtime under `root` two hours back, so the grace period has passed.
void AgeEverything(const fs::path& root) {
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    fs::last_write_time(e.path(), fs::last_write_time(e.path()) - std::chrono::hours(2));
  }
}

class GcTest : public ::testing::Test {
 protected:
  os::testing::TempDir dir_;
  os::SystemClock clock_;
  Registry r_{dir_.path(), RegistryOptions{}, &clock_};
};

TEST_F(GcTest, KeepsTaggedImagesAndIndexChildrenRemovesTheRest) {
  std::string tagged = PushImageBlobs(r_, "app", "tagged");
  ASSERT_TRUE(r_.PutManifest("app", Reference{std::string("1")}, tagged, "", {}).ok());
  std::string child = PushImageBlobs(r_, "app", "child");
  Digest child_d = r_.PutManifest("app", Reference{DigestOf(child)}, child, "", {}).value().digest;
  std::string index = R"({"schemaVersion":2,"mediaType":")" + std::string(image::media::kOciIndex) +
                      R"(","manifests":[)" +
                      testing::DescriptorFor(image::media::kOciManifest, child) + "]}";
  ASSERT_TRUE(r_.PutManifest("app", Reference{std::string("multi")}, index, "", {}).ok());
  std::string orphan = PushImageBlobs(r_, "app", "orphan");
  Digest orphan_d =
      r_.PutManifest("app", Reference{DigestOf(orphan)}, orphan, "", {}).value().digest;
  Digest loose = PushBlob(r_, "app", "loose blob");

  // Within the grace period nothing is collected.
  GcReport fresh = CollectGarbage(r_, clock_, GcOptions{}).value();
  EXPECT_TRUE(fresh.blobs_removed.empty());
  EXPECT_TRUE(fresh.manifests_removed.empty());

  AgeEverything(dir_.path());
  GcReport dry = CollectGarbage(r_, clock_, GcOptions{.dry_run = true}).value();
  EXPECT_EQ(dry.manifests_removed.size(), 1u);
  EXPECT_TRUE(r_.blobs().Has(loose)) << "a dry run deletes nothing";

  GcReport report = CollectGarbage(r_, clock_, GcOptions{}).value();
  EXPECT_EQ(report.manifests_removed, std::vector<std::string>{"app@" + orphan_d.str()});
  // orphan manifest + its config + its layer + the loose blob
  EXPECT_EQ(report.blobs_removed.size(), 4u);
  EXPECT_FALSE(r_.blobs().Has(loose));
  EXPECT_TRUE(r_.GetManifest("app", Reference{std::string("1")}).ok());
  EXPECT_TRUE(r_.GetManifest("app", Reference{child_d}).ok());
  EXPECT_TRUE(r_.StatBlob("app", DigestOf("layer-child")).ok());
  EXPECT_TRUE(r_.StatBlob("app", DigestOf("layer-tagged")).ok());
}

TEST_F(GcTest, KeepsTheChildrenOfAnIndexWhosePlatformsAreOfOddTypes) {
  // Stored while platforms went unread: GC must still see the children.
  std::string child = PushImageBlobs(r_, "app", "child");
  Digest child_d = r_.PutManifest("app", Reference{DigestOf(child)}, child, "", {}).value().digest;
  std::string entry = testing::DescriptorFor(image::media::kOciManifest, child);
  entry.pop_back();
  entry += R"(,"platform":{"os":"linux","architecture":["amd64"],"variant":1}})";
  std::string index = R"({"schemaVersion":2,"mediaType":")" + std::string(image::media::kOciIndex) +
                      R"(","manifests":[)" + entry + "]}";
  ASSERT_TRUE(r_.PutManifest("app", Reference{std::string("odd")}, index, "", {}).ok());
  AgeEverything(dir_.path());
  GcReport report = CollectGarbage(r_, clock_, GcOptions{}).value();
  EXPECT_TRUE(report.manifests_removed.empty());
  EXPECT_TRUE(r_.GetManifest("app", Reference{child_d}).ok());
  EXPECT_TRUE(r_.StatBlob("app", DigestOf("layer-child")).ok());
}

TEST_F(GcTest, KeepsReferrersOfLiveManifests) {
  std::string subject = PushImageBlobs(r_, "app", "s");
  ASSERT_TRUE(r_.PutManifest("app", Reference{std::string("1")}, subject, "", {}).ok());
  std::string sig = PushImageBlobs(
      r_, "app", "sig",
      R"(,"subject":)" + testing::DescriptorFor(image::media::kOciManifest, subject));
  Digest sig_d = r_.PutManifest("app", Reference{DigestOf(sig)}, sig, "", {}).value().digest;
  AgeEverything(dir_.path());
  GcReport report = CollectGarbage(r_, clock_, GcOptions{}).value();
  EXPECT_TRUE(report.manifests_removed.empty());
  EXPECT_TRUE(r_.GetManifest("app", Reference{sig_d}).ok());
}

TEST_F(GcTest, AManifestItCannotReadKeepsEveryBlobOfItsRepository) {
  // A stored manifest that no longer parses (pushed before its kind was checked) uses
  // blobs GC cannot name: they all stay rather than some of a tagged image going.
  std::string m = PushImageBlobs(r_, "app", "a");
  ASSERT_TRUE(r_.PutManifest("app", Reference{std::string("1")}, m, "", {}).ok());
  Digest d = DigestOf(m);
  std::string ambiguous = m.substr(0, m.size() - 1) + R"(,"manifests":[]})";
  ASSERT_TRUE(r_.blobs().Put(ambiguous).ok());
  // The tag now names a stored body that reads as an image and as an index.
  ASSERT_TRUE(os::WriteFileAtomic(r_.layout().Tag("app", "1"), DigestOf(ambiguous).str()).ok());
  ASSERT_TRUE(os::WriteFileAtomic(r_.layout().ManifestLink("app", DigestOf(ambiguous)),
                                  image::media::kOciManifest)
                  .ok());
  ASSERT_TRUE(os::RemoveFile(r_.layout().ManifestLink("app", d)).ok());
  AgeEverything(dir_.path());
  GcReport report = CollectGarbage(r_, clock_, GcOptions{}).value();
  EXPECT_EQ(report.blob_links_removed, 0u);
  EXPECT_TRUE(r_.StatBlob("app", DigestOf("layer-a")).ok());
  EXPECT_TRUE(r_.StatBlob("app", DigestOf(R"({"seed":"a"})")).ok());
}

TEST_F(GcTest, KeepsTheManifestATagJournalNames) {
  // A push killed after journaling its tags, before moving them: its manifest is untagged
  // until the next start finishes the move, and GC must not take it meanwhile.
  std::string m = PushImageBlobs(r_, "app", "journaled");
  Digest d = r_.PutManifest("app", Reference{DigestOf(m)}, m, "", {}).value().digest;
  ASSERT_TRUE(os::WriteFileAtomic(r_.layout().PendingTags("app"),
                                  R"({"digest":")" + d.str() + R"(","tags":["a","b"]})")
                  .ok());
  AgeEverything(dir_.path());
  GcReport report = CollectGarbage(r_, clock_, GcOptions{}).value();
  EXPECT_TRUE(report.manifests_removed.empty());
  EXPECT_TRUE(report.blobs_removed.empty());
  Status recovered = r_.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.ToString();
  EXPECT_EQ(r_.GetManifest("app", Reference{std::string("b")}).value().digest, d);
}

}  // namespace
}  // namespace lockstep::registry
