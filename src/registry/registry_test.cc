#include "registry/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

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

TEST_F(RegistryTest, RacingMultiTagPushesLeaveOneWinnerWhole) {
  // Two pushes naming the same two tags in opposite order: exactly one may win, and the
  // tags then both name the winner. (Checked one tag at a time, both were refused and
  // left x -> A and y -> B.)
  Registry r = MakeRegistry();
  for (int round = 0; round < 30; ++round) {
    std::string a = PushImageBlobs(r, "app", "a" + std::to_string(round));
    std::string b = PushImageBlobs(r, "app", "b" + std::to_string(round));
    std::string x = "x" + std::to_string(round), y = "y" + std::to_string(round);
    std::atomic<int> ready{0};
    Result<PutManifestResult> put_a = Internal("not run"), put_b = Internal("not run");
    auto push = [&](const std::string& body, std::vector<std::string> tags,
                    Result<PutManifestResult>* out) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      *out = r.PutManifest("app", At(DigestOf(body)), body, "", tags);
    };
    std::thread ta(push, a, std::vector<std::string>{x, y}, &put_a);
    std::thread tb(push, b, std::vector<std::string>{y, x}, &put_b);
    ta.join();
    tb.join();
    ASSERT_NE(put_a.ok(), put_b.ok()) << "round " << round << ": " << put_a.status().ToString()
                                      << " / " << put_b.status().ToString();
    const std::string& winner = put_a.ok() ? a : b;
    const std::string& loser = put_a.ok() ? b : a;
    EXPECT_EQ(r.GetManifest("app", Tag(x)).value().digest, DigestOf(winner)) << round;
    EXPECT_EQ(r.GetManifest("app", Tag(y)).value().digest, DigestOf(winner)) << round;
    EXPECT_FALSE(r.GetManifest("app", At(DigestOf(loser))).ok()) << "the loser stored nothing";
  }
}

TEST_F(RegistryTest, RacingPushesToOneNewTagLeaveTheLoserNothing) {
  Registry r = MakeRegistry();
  for (int round = 0; round < 30; ++round) {
    std::string a = PushImageBlobs(r, "app", "a" + std::to_string(round));
    std::string b = PushImageBlobs(r, "app", "b" + std::to_string(round));
    std::string tag = "v" + std::to_string(round);
    Result<PutManifestResult> put_a = Internal("not run"), put_b = Internal("not run");
    std::thread ta([&] { put_a = r.PutManifest("app", Tag(tag), a, "", {}); });
    std::thread tb([&] { put_b = r.PutManifest("app", Tag(tag), b, "", {}); });
    ta.join();
    tb.join();
    ASSERT_NE(put_a.ok(), put_b.ok()) << round;
    const std::string& loser = put_a.ok() ? b : a;
    EXPECT_EQ((put_a.ok() ? put_b : put_a).status().code(), Code::kAlreadyExists);
    EXPECT_FALSE(r.GetManifest("app", At(DigestOf(loser))).ok()) << "the loser stored nothing";
  }
}

TEST_F(RegistryTest, ARefusedMultiTagPushMovesNoTag) {
  Registry r = MakeRegistry();
  std::string a = PushImageBlobs(r, "app", "a");
  std::string b = PushImageBlobs(r, "app", "b");
  ASSERT_TRUE(r.PutManifest("app", Tag("taken"), a, "", {}).ok());
  Result<PutManifestResult> put = r.PutManifest("app", At(DigestOf(b)), b, "", {"new", "taken"});
  EXPECT_EQ(put.status().code(), Code::kAlreadyExists);
  EXPECT_FALSE(r.GetManifest("app", Tag("new")).ok()) << "refused on 'taken' after creating 'new'";
  EXPECT_EQ(r.ListTags("app", {}, "").value().tags, std::vector<std::string>{"taken"});
}

TEST_F(RegistryTest, AnInterruptedMultiTagMoveIsFinished) {
  // A push killed among its renames leaves the journal and some tags unmoved; the next
  // start (or the next writer of the repository) moves the rest.
  Registry r = MakeRegistry(TagPolicy(std::vector<MutableTagRule>{{"app", "*"}}));
  std::string a = PushImageBlobs(r, "app", "a");
  std::string b = PushImageBlobs(r, "app", "b");
  ASSERT_TRUE(r.PutManifest("app", At(DigestOf(a)), a, "", {"x", "y", "z"}).ok());
  ASSERT_TRUE(r.PutManifest("app", At(DigestOf(b)), b, "", {}).ok());
  // The state a crash after the journal and the first rename leaves.
  ASSERT_TRUE(os::WriteFileAtomic(r.layout().Tag("app", "x"), DigestOf(b).str()).ok());
  ASSERT_TRUE(
      os::WriteFileAtomic(r.layout().PendingTags("app"),
                          R"({"digest":")" + DigestOf(b).str() + R"(","tags":["x","y","z"]})")
          .ok());
  ASSERT_TRUE(os::WriteTemp(r.layout().Tag("app", "y"), DigestOf(b).str()).ok());

  ASSERT_TRUE(r.Recover().ok());
  for (const char* tag : {"x", "y", "z"}) {
    EXPECT_EQ(r.GetManifest("app", Tag(tag)).value().digest, DigestOf(b)) << tag;
  }
  EXPECT_FALSE(os::Exists(r.layout().PendingTags("app")));
  EXPECT_EQ(os::ListDir(r.layout().Tags("app")).value(), (std::vector<std::string>{"x", "y", "z"}))
      << "the temporary is gone";

  // A damaged journal stops writes to its repository with a message, and nothing else.
  ASSERT_TRUE(os::WriteFileAtomic(r.layout().PendingTags("app"), "{\"digest\":").ok());
  Status refused = r.PutManifest("app", Tag("w"), a, "", {}).status();
  EXPECT_EQ(refused.code(), Code::kInternal);
  EXPECT_NE(refused.message().find("_pending-tags is corrupt"), std::string::npos)
      << refused.ToString();
  EXPECT_TRUE(r.GetManifest("app", Tag("x")).ok()) << "reads go on";
}

TEST_F(RegistryTest, TemporariesNeverReadAsTags) {
  Registry r = MakeRegistry();
  std::string a = PushImageBlobs(r, "app", "a");
  ASSERT_TRUE(r.PutManifest("app", Tag("v1"), a, "", {}).ok());
  // What a tag write in flight (or killed) has beside the tags.
  Result<fs::path> temp = os::WriteTemp(r.layout().Tag("app", "v2"), DigestOf(a).str());
  ASSERT_TRUE(temp.ok());
  EXPECT_FALSE(ValidateTag(temp->filename().string()).ok()) << temp->filename();
  EXPECT_EQ(r.ListTags("app", {}, "").value().tags, std::vector<std::string>{"v1"});
  EXPECT_EQ(r.TagsOf("app", DigestOf(a)).value(), std::vector<std::string>{"v1"});
  ASSERT_TRUE(r.Recover().ok());
  EXPECT_FALSE(os::Exists(*temp)) << "swept at start";
}

TEST_F(RegistryTest, TheSameBytesAsSha512AreAnIdenticalRePush) {
  Registry r = MakeRegistry();
  std::string a = PushImageBlobs(r, "app", "a");
  Digest sha256 = r.PutManifest("app", Tag("1.0"), a, "", {}).value().digest;
  Digest sha512 = DigestOf(a, DigestAlgorithm::kSha512);
  Result<PutManifestResult> again = r.PutManifest("app", At(sha512), a, "", {"1.0"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->digest, sha512);
  EXPECT_EQ(r.GetManifest("app", Tag("1.0")).value().digest, sha256) << "the tag stays";
  EXPECT_EQ(r.GetManifest("app", At(sha512)).value().body, a);
}

TEST_F(RegistryTest, DescriptorSizesMustMatchTheStoredBlobs) {
  Registry r = MakeRegistry();
  std::string config = R"({"seed":"s"})";
  PushBlob(r, "app", config);
  PushBlob(r, "app", "layer");
  std::string m = R"({"schemaVersion":2,"mediaType":")" + std::string(image::media::kOciManifest) +
                  R"(","config":)" + DescriptorFor(image::media::kOciConfig, config) +
                  R"(,"layers":[{"mediaType":")" + std::string(image::media::kOciLayerGzip) +
                  R"(","digest":")" + DigestOf("layer").str() + R"(","size":4}]})";
  Status refused = r.PutManifest("app", Tag("1"), m, "", {}).status();
  EXPECT_EQ(refused.reason(), "SIZE_INVALID") << refused.ToString();
  EXPECT_NE(refused.message().find("is 5 bytes, but the descriptor says 4"), std::string::npos)
      << refused.ToString();
}

TEST_F(RegistryTest, AManifestAnIndexNamesCannotBeDeleted) {
  Registry r = MakeRegistry();
  std::string child = PushImageBlobs(r, "app", "child");
  Digest child_d = r.PutManifest("app", At(DigestOf(child)), child, "", {}).value().digest;
  std::string index = R"({"schemaVersion":2,"mediaType":")" + std::string(image::media::kOciIndex) +
                      R"(","manifests":[)" + DescriptorFor(image::media::kOciManifest, child) +
                      "]}";
  Digest index_d = r.PutManifest("app", Tag("multi"), index, "", {}).value().digest;
  Status refused = r.DeleteManifest("app", At(child_d));
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.message().find("named by index " + index_d.str()), std::string::npos)
      << refused.ToString();
  EXPECT_TRUE(r.GetManifest("app", At(child_d)).ok());
}

TEST_F(RegistryTest, AmbiguousManifestsAreRefused) {
  // Read as an image by one tool and as an (empty) index by another, such a body let GC
  // collect the layers of a tagged image.
  Registry r = MakeRegistry();
  std::string m = PushImageBlobs(r, "app", "a", R"(,"manifests":[])");
  std::string type_field = R"("mediaType":")" + std::string(image::media::kOciManifest) + R"(",)";
  std::string no_type = m;
  no_type.erase(no_type.find(type_field), type_field.size());
  for (const auto& [body, type] :
       {std::pair{m, std::string(image::media::kOciManifest)}, std::pair{no_type, std::string()},
        std::pair{no_type, std::string(image::media::kOciManifest)}}) {
    Status refused = r.PutManifest("app", Tag("1"), body, type, {}).status();
    EXPECT_EQ(refused.reason(), "MANIFEST_INVALID") << body;
    EXPECT_NE(refused.message().find("not both"), std::string::npos) << refused.ToString();
  }
  EXPECT_FALSE(r.GetManifest("app", Tag("1")).ok());
}

}  // namespace
}  // namespace lockstep::registry
