// `lockstep registry gc` runs while skopeo pushes: nothing referenced is lost, garbage
// older than the grace period goes, and an upload in flight survives a sweep.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/images.h"
#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

void Age(const fs::path& root) {
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file())
      fs::last_write_time(e.path(), fs::last_write_time(e.path()) - std::chrono::hours(2));
  }
}

TEST(GcConcurrent, PushesDuringCollectionLoseNothing) {
  LockstepServer server;
  RegistryClient client(server);
  // Old garbage: an untagged manifest and a loose blob, two hours old.
  std::string orphan = client.PushImageParts("junk/app", "orphan");
  ASSERT_EQ(client.PutManifest("junk/app", Sha(orphan), orphan).status, 201);
  std::string loose = client.PushBlob("junk/app", "loose");
  // An old tagged image that must survive.
  std::string kept = client.PushImageParts("keep/app", "kept");
  ASSERT_EQ(client.PutManifest("keep/app", "1.0.0", kept).status, 201);
  Age(server.data_dir() / "registry");

  fs::path layout = server.scratch() / "layout";
  constexpr int kWriters = 3, kImagesEach = 4;
  for (int i = 0; i < kWriters * kImagesEach; ++i) {
    MakeImage(layout, "t" + std::to_string(i),
              {{"n", std::to_string(i)}, {"data", RandomBytes(200000, i)}});
  }

  std::atomic<int> failures{0};
  std::atomic<int> running{kWriters};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kImagesEach; ++i) {
        std::string tag = "t" + std::to_string(w * kImagesEach + i);
        RunResult r = RunCommand(
            Skopeo({"copy", "--dest-tls-verify=false", "oci:" + layout.string() + ":" + tag,
                    "docker://" + server.host() + "/pushed/w" + std::to_string(w) + ":" + tag}));
        if (r.exit_code != 0) {
          ++failures;
          ADD_FAILURE() << r.Describe();
        }
      }
      --running;
    });
  }
  int sweeps = 0;
  while (running > 0 || sweeps == 0) {
    RunResult gc = server.Cli({"registry", "gc", "--output", "json"});
    ASSERT_EQ(gc.exit_code, 0) << gc.Describe();
    ++sweeps;
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GE(sweeps, 2);
  RunResult final_gc = server.Cli({"registry", "gc"});
  ASSERT_EQ(final_gc.exit_code, 0) << final_gc.Describe();

  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kImagesEach; ++i) {
      std::string tag = "t" + std::to_string(w * kImagesEach + i);
      fs::path pulled = server.scratch() / ("pulled-" + tag);
      RunResult r = RunCommand(
          Skopeo({"copy", "--src-tls-verify=false",
                  "docker://" + server.host() + "/pushed/w" + std::to_string(w) + ":" + tag,
                  "oci:" + pulled.string() + ":" + tag}));
      ASSERT_EQ(r.exit_code, 0) << r.Describe();
      std::string digest = LayoutDigest(layout, tag);
      for (const std::string& blob : ReachableBlobs(layout, digest)) {
        EXPECT_EQ(ReadBlob(pulled, blob), ReadBlob(layout, blob));
      }
    }
  }
  EXPECT_EQ(client.Do("GET", "/v2/keep/app/manifests/1.0.0").status, 200);
  EXPECT_EQ(client.Do("GET", "/v2/keep/app/blobs/" + Sha("layer-kept")).status, 200);
  EXPECT_EQ(client.Do("GET", "/v2/junk/app/manifests/" + Sha(orphan)).status, 404);
  EXPECT_EQ(client.Do("HEAD", "/v2/junk/app/blobs/" + loose).status, 404);
  EXPECT_FALSE(fs::exists(server.data_dir() / "registry" / "blobs" / "sha256" / loose.substr(7, 2) /
                          loose.substr(7)));
}

TEST(GcConcurrent, UploadInFlightSurvivesASweepAndDryRunRemovesNothing) {
  LockstepServer server;
  RegistryClient client(server);
  std::string location = client.StartUpload("app");
  ASSERT_EQ(client.Do("PATCH", location, "half of ").status, 202);
  std::string garbage = client.PushBlob("app", "garbage");
  Age(server.data_dir() / "registry" / "blobs");
  Age(server.data_dir() / "registry" / "repos");

  RunResult dry = server.Cli({"registry", "gc", "--dry-run", "--grace", "0s"});
  ASSERT_EQ(dry.exit_code, 0) << dry.Describe();
  EXPECT_NE(dry.out.find("would remove 1 blobs"), std::string::npos) << dry.out;
  EXPECT_EQ(client.Do("HEAD", "/v2/app/blobs/" + garbage).status, 200);

  RunResult gc = server.Cli({"registry", "gc", "--grace", "0s"});
  ASSERT_EQ(gc.exit_code, 0) << gc.Describe();
  EXPECT_EQ(client.Do("HEAD", "/v2/app/blobs/" + garbage).status, 404);
  HttpResponse done = client.Do("PUT", location + "?digest=" + Sha("half of the blob"), "the blob");
  EXPECT_EQ(done.status, 201) << done.Describe();
  EXPECT_EQ(client.Do("GET", "/v2/app/blobs/" + Sha("half of the blob")).body, "half of the blob");

  RunResult bad = server.Cli({"registry", "gc", "--grace", "soon"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--grace"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::testing
