#include "registry/uploads.h"

#include <gtest/gtest.h>

#include "os/testing/temp_dir.h"

namespace lockstep::registry {
namespace {

class UploadsTest : public ::testing::Test {
 protected:
  os::testing::TempDir dir_;
  Layout layout_{dir_.path()};
  BlobStore blobs_{layout_};
  os::FakeClock clock_{os::SystemClock().NowSeconds()};
  UploadSessions uploads_{layout_, &blobs_, &clock_, 1 << 20};
};

TEST_F(UploadsTest, ChunksThenFinishMakesTheBlob) {
  std::string id = uploads_.Start("app").value();
  {
    UploadWriter w = uploads_.Open("app", id).value();
    ASSERT_TRUE(w.Write("hello ").ok());
    ASSERT_TRUE(w.Keep().ok());
  }
  UploadWriter w = uploads_.Open("app", id).value();
  EXPECT_EQ(w.offset(), 6u);
  ASSERT_TRUE(w.Write("world").ok());
  Result<Digest> d = w.Finish(DigestOf("hello world"));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(blobs_.ReadSmall(*d, 100).value(), "hello world");
  EXPECT_EQ(uploads_.Offset("app", id).status().reason(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(UploadsTest, ARequestThatIsNotKeptLeavesNoTrace) {
  std::string id = uploads_.Start("app").value();
  {
    UploadWriter w = uploads_.Open("app", id).value();
    ASSERT_TRUE(w.Write("abc").ok());
    ASSERT_TRUE(w.Keep().ok());
  }
  {
    UploadWriter w = uploads_.Open("app", id).value();
    ASSERT_TRUE(w.Write("partial garbage").ok());
    // the client went away: no Keep()
  }
  EXPECT_EQ(uploads_.Offset("app", id).value(), 3u);
  UploadWriter w = uploads_.Open("app", id).value();
  ASSERT_TRUE(w.Write("def").ok());
  EXPECT_TRUE(w.Finish(DigestOf("abcdef")).ok());
}

TEST_F(UploadsTest, WrongDigestStoresNothing) {
  std::string id = uploads_.Start("app").value();
  UploadWriter w = uploads_.Open("app", id).value();
  ASSERT_TRUE(w.Write("content").ok());
  Result<Digest> d = w.Finish(DigestOf("other"));
  EXPECT_EQ(d.status().reason(), "DIGEST_INVALID");
  EXPECT_FALSE(blobs_.Has(DigestOf("content")));
  EXPECT_FALSE(blobs_.Has(DigestOf("other")));
}

TEST_F(UploadsTest, Sha512IsVerifiedToo) {
  std::string id = uploads_.Start("app").value();
  UploadWriter w = uploads_.Open("app", id).value();
  ASSERT_TRUE(w.Write("x").ok());
  EXPECT_TRUE(w.Finish(DigestOf("x", DigestAlgorithm::kSha512)).ok());
  EXPECT_TRUE(blobs_.Has(DigestOf("x", DigestAlgorithm::kSha512)));
}

TEST_F(UploadsTest, SessionsAreBoundToTheirRepositoryAndExclusive) {
  std::string id = uploads_.Start("app").value();
  EXPECT_EQ(uploads_.Open("other", id).status().reason(), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(uploads_.Open("app", "../../etc").status().reason(), "BLOB_UPLOAD_UNKNOWN");
  UploadWriter w = uploads_.Open("app", id).value();
  EXPECT_EQ(uploads_.Open("app", id).status().code(), Code::kFailedPrecondition);
}

TEST_F(UploadsTest, SizeLimit) {
  std::string id = uploads_.Start("app").value();
  UploadWriter w = uploads_.Open("app", id).value();
  EXPECT_EQ(w.Write(std::string((1 << 20) + 1, 'x')).reason(), "SIZE_INVALID");
}

TEST_F(UploadsTest, SurvivesARestartAndExpiresWhenIdle) {
  std::string id = uploads_.Start("app").value();
  {
    UploadWriter w = uploads_.Open("app", id).value();
    ASSERT_TRUE(w.Write("abc").ok());
    ASSERT_TRUE(w.Keep().ok());
  }
  UploadSessions restarted(layout_, &blobs_, &clock_, 1 << 20);
  EXPECT_EQ(restarted.Offset("app", id).value(), 3u);
  {
    UploadWriter w = restarted.Open("app", id).value();
    EXPECT_TRUE(w.Finish(DigestOf("abc")).ok());  // re-hashed from disk
  }
  std::string idle = restarted.Start("app").value();
  EXPECT_EQ(restarted.ExpireIdle(3600), 0u);
  clock_.Advance(7200);
  EXPECT_EQ(restarted.ExpireIdle(3600), 1u);
  EXPECT_FALSE(restarted.Offset("app", idle).ok());
}

// A process killed in the middle of a request leaves that request's bytes in the data
// file: the session after a restart holds only what requests kept.
TEST_F(UploadsTest, BytesOfARequestACrashInterruptedAreNotTheSessions) {
  std::string id = uploads_.Start("app").value();
  {
    UploadWriter w = uploads_.Open("app", id).value();
    ASSERT_TRUE(w.Write("abc").ok());
    ASSERT_TRUE(w.Keep().ok());
  }
  std::string other = uploads_.Start("app").value();  // its first request dies too
  for (const std::string& s : {id, other}) {
    os::UniqueFd data = os::OpenAppend(layout_.UploadDir(s) / "data").value();
    ASSERT_TRUE(os::WriteAll(data.get(), "half a request").ok());
  }
  UploadSessions restarted(layout_, &blobs_, &clock_, 1 << 20);
  EXPECT_EQ(restarted.Offset("app", id).value(), 3u);
  EXPECT_EQ(restarted.Offset("app", other).value(), 0u);
  {
    UploadWriter w = restarted.Open("app", id).value();
    ASSERT_TRUE(w.Write("def").ok());
    EXPECT_TRUE(w.Finish(DigestOf("abcdef")).ok());
  }
  EXPECT_EQ(os::ReadFile(layout_.BlobPath(DigestOf("abcdef"))).value(), "abcdef");
}

TEST_F(UploadsTest, ASessionBeingCreatedIsNotExpired) {
  // `registry gc` in another process can list a session after its directory exists and
  // before its data file does; that session is fresh, not abandoned.
  fs::path half_made = layout_.UploadDir("0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(os::MakeDirs(half_made).ok());
  EXPECT_EQ(uploads_.ExpireIdle(3600), 0u);
  EXPECT_TRUE(os::Exists(half_made));
}

}  // namespace
}  // namespace lockstep::registry
