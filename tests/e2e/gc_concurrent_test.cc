// `lockstep registry gc` beside a live server. Under load (skopeo pushing while it runs)
// nothing referenced is lost, garbage older than the grace period goes, and an upload in
// flight survives a sweep: that guards the grace period, which keeps whatever the pushes
// write. The commit lock itself is proven at the points /proc/locks shows: a sweep waits
// for a commit in progress, and commits waiting out a sweep stop no pull.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <fstream>
#include <thread>
#include <utility>

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

TEST(GcConcurrent, PullsAndHealthAnswerWhileASweepHoldsTheCommitLock) {
  // Two connection threads, whatever the machine: eight waiting commits are more than it
  // has, so had they waited there, nothing would answer.
  LockstepServer server(ServerOptions{.args = {"--threads", "2"}});
  RegistryClient client(server);
  std::string served = client.PushImageParts("app", "served");
  ASSERT_EQ(client.PutManifest("app", "1.0.0", served).status, 201);
  constexpr int kCommits = 8;  // more than the server has threads serving connections
  std::vector<std::string> waiting;
  for (int i = 0; i < kCommits; ++i)
    waiting.push_back(client.PushImageParts("app", std::to_string(i)));

  // What `lockstep registry gc` holds while it marks and sweeps.
  int lock = ::open((server.data_dir() / "registry" / "gc.lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX), 0);
  std::array<std::atomic<long>, kCommits> statuses{};
  std::vector<std::thread> commits;
  // However the test ends, the sweep's lock goes and the commits are joined.
  struct Release {
    int& lock;
    std::vector<std::thread>& threads;
    ~Release() {
      if (lock >= 0) ::close(lock);
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } release{lock, commits};
  for (int i = 0; i < kCommits; ++i) {
    commits.emplace_back([&, i] {
      statuses[i] = client.PutManifest("app", "w" + std::to_string(i), waiting[i]).status;
    });
  }
  // Commits wait on the lock inside the server (at least as many as it has connection
  // threads, which is all it takes to stop every answer if they wait there).
  ASSERT_TRUE(WaitFor([&] { return Flocks(server.pid()).waiting >= 2; }, std::chrono::seconds(60)))
      << "the commits never reached the lock";

  auto get = [&](const std::string& path) {
    return Send(HttpRequest{.url = server.url(path), .timeout_seconds = 10});
  };
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/v2/").status, 200);
  HttpResponse manifest = get("/v2/app/manifests/1.0.0");
  EXPECT_EQ(manifest.status, 200) << manifest.Describe();
  EXPECT_EQ(get("/v2/app/blobs/" + Sha("layer-served")).status, 200);
  for (const std::atomic<long>& status : statuses) {
    EXPECT_EQ(status.load(), 0) << "a commit finished under the lock";
  }

  ::close(std::exchange(lock, -1));  // the sweep ends; the commits go through
  for (std::thread& t : commits) t.join();
  for (int i = 0; i < kCommits; ++i) EXPECT_EQ(statuses[i].load(), 201) << i;
}

// The sweep's half of the commit lock: while a commit holds gc.lock shared (as
// Registry::CommitLock does), `lockstep registry gc` waits and removes nothing; once the
// commit is done, it sweeps. (The first test cannot show this: the grace period keeps
// everything it pushes.)
TEST(GcConcurrent, ASweepWaitsForACommitInProgress) {
  LockstepServer server;
  RegistryClient client(server);
  std::string garbage = client.PushBlob("app", "garbage");
  Age(server.data_dir() / "registry");
  int commit = ::open((server.data_dir() / "registry" / "gc.lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(commit, 0);
  ASSERT_EQ(::flock(commit, LOCK_SH), 0);
  Background gc({LockstepBinary(), "registry", "gc", "--grace", "0s", "--output", "json", "--data",
                 server.data_dir().string()},
                server.scratch() / "gc-logs");
  ASSERT_TRUE(WaitFor([&] { return Flocks(gc.pid()).waiting == 1 || !gc.Running(); }));
  ASSERT_TRUE(gc.Running()) << "gc swept during a commit: " << gc.Stdout() << gc.Stderr();
  // (A GET: a HEAD would mark the blob wanted, and the grace period would keep it.)
  EXPECT_EQ(client.Do("GET", "/v2/app/blobs/" + garbage).status, 200);
  ::close(commit);
  ASSERT_TRUE(WaitFor([&] { return !gc.Running(); }));
  EXPECT_NE(gc.Stdout().find(garbage), std::string::npos) << gc.Stdout() << gc.Stderr();
  EXPECT_EQ(client.Do("HEAD", "/v2/app/blobs/" + garbage).status, 404);
}

}  // namespace
}  // namespace lockstep::testing
