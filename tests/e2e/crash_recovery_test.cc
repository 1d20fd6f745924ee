// kill -9 of the server, and of `registry gc`, at points the test observes, not guesses:
// while a request's body is half written to disk, and while a sweep holds the collection
// lock with part of its garbage removed. After a restart on the same data directory the
// state is the old or the new, never a mix: committed images pull intact, a half-received
// blob is not visible, an interrupted upload session holds exactly what was acknowledged
// and can be finished, and no lock is left held.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

uint64_t SizeOr0(const fs::path& file) {
  std::error_code ec;
  uint64_t size = fs::file_size(file, ec);
  return ec ? 0 : size;
}

// The upload sessions' data files, by session id.
std::map<std::string, fs::path> UploadData(const LockstepServer& server) {
  std::map<std::string, fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(server.data_dir() / "registry" / "uploads", ec)) {
    out[e.path().filename().string()] = e.path() / "data";
  }
  return out;
}

size_t CountFiles(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) ++n;
  }
  return n;
}

TEST(CrashRecovery, KillWhileRequestBodiesAreHalfOnDisk) {
  LockstepServer server;
  std::string manifest = RegistryClient(server).PushImageParts("app", "committed");
  ASSERT_EQ(RegistryClient(server).PutManifest("app", "1.0.0", manifest).status, 201);

  // A chunked upload with one chunk acknowledged...
  std::string location = RegistryClient(server).StartUpload("app");
  ASSERT_EQ(RegistryClient(server).Do("PATCH", location, "first half|").status, 202);
  std::string session = location.substr(location.rfind('/') + 1);
  ASSERT_EQ(UploadData(server).count(session), 1u) << location;

  // ...then a second chunk and a monolithic push, each 4 MiB announced and 2 MiB sent, on
  // connections kept open: the server is inside both requests when it dies.
  std::string big(4 << 20, 'q');
  std::string path = location.substr(location.find("/v2/"));
  int patch = ConnectLoopback(server.port());
  int post = ConnectLoopback(server.port());
  ASSERT_GE(patch, 0);
  ASSERT_GE(post, 0);
  auto send_half = [&](int fd, const std::string& head) {
    std::string raw = head + "Content-Length: " + std::to_string(big.size()) + "\r\n\r\n" +
                      big.substr(0, 2 << 20);
    ASSERT_EQ(::write(fd, raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
  };
  send_half(patch, "PATCH " + path + " HTTP/1.1\r\nHost: x\r\n");
  send_half(post, "POST /v2/app/blobs/uploads/?digest=" + Sha(big) + " HTTP/1.1\r\nHost: x\r\n");
  // The point: at least 512 KiB of each body is in its session's data file.
  fs::path post_data;
  ASSERT_TRUE(WaitFor([&] {
    bool patch_written = false;
    for (const auto& [id, data] : UploadData(server)) {
      uint64_t size = SizeOr0(data);
      if (id == session) patch_written = size >= 11 + (512 << 10);
      if (id != session && size >= (512 << 10)) post_data = data;
    }
    return patch_written && !post_data.empty();
  })) << "the bodies never reached the disk";
  server.Kill9();
  ::close(patch);
  ::close(post);
  server.Restart();

  RegistryClient client(server);
  HttpResponse tag = client.Do("GET", "/v2/app/manifests/1.0.0");
  EXPECT_EQ(tag.status, 200);
  EXPECT_EQ(tag.body, manifest);
  EXPECT_EQ(client.Do("GET", "/v2/app/blobs/" + Sha("layer-committed")).body, "layer-committed");
  EXPECT_EQ(client.Do("HEAD", "/v2/app/blobs/" + Sha(big)).status, 404) << "no half-received blob";

  // The session holds what was acknowledged, not the bytes of the request that died.
  HttpResponse status = client.Do("GET", location);
  ASSERT_EQ(status.status, 204) << "the session survives the crash";
  EXPECT_EQ(status.Header("range"), "0-10");
  HttpResponse done =
      client.Do("PUT", location + "?digest=" + Sha("first half|second half"), "second half");
  EXPECT_EQ(done.status, 201) << done.Describe();
  EXPECT_EQ(client.Do("GET", "/v2/app/blobs/" + Sha("first half|second half")).body,
            "first half|second half");

  RunResult gc = server.Cli({"registry", "gc"});
  EXPECT_EQ(gc.exit_code, 0) << "no lock is left held: " << gc.Describe();
  std::string again = client.PushImageParts("app", "after");
  EXPECT_EQ(client.PutManifest("app", "1.0.1", again).status, 201);
  EXPECT_EQ(client.PutManifest("app", "1.0.0", again).status, 409) << "tags are still immutable";
}

TEST(CrashRecovery, KillDuringASweepLeavesNoStuckLockAndNoHalfImage) {
  LockstepServer server;
  RegistryClient client(server);
  std::string kept = client.PushImageParts("app", "kept");
  ASSERT_EQ(client.PutManifest("app", "1.0.0", kept).status, 201);
  // Garbage enough for the sweep to be caught half done: blobs no manifest names, written
  // straight into the store (a push of each would take minutes).
  fs::path blobs = server.data_dir() / "registry" / "blobs" / "sha256";
  constexpr int kGarbage = 40000;
  for (int i = 0; i < kGarbage; ++i) {
    std::string content = "garbage " + std::to_string(i);
    std::string hex = Sha(content).substr(7);
    fs::create_directories(blobs / hex.substr(0, 2));
    fs::path file = blobs / hex.substr(0, 2) / hex;
    std::ofstream(file) << content;
    // Older than any grace period: garbage from the first second of the sweep on.
    fs::last_write_time(file, fs::file_time_type::clock::now() - std::chrono::hours(2));
  }
  size_t before = CountFiles(blobs);
  ASSERT_GE(before, static_cast<size_t>(kGarbage));

  Background gc(
      {LockstepBinary(), "registry", "gc", "--grace", "0s", "--data", server.data_dir().string()},
      server.scratch() / "gc-logs");
  // The point: gc holds its lock and has begun removing garbage. It is frozen there
  // (SIGSTOP), so what the test sees is what the kill leaves.
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!gc.Running()) return true;
        if (Flocks(gc.pid()).held_exclusive == 0 || CountFiles(blobs) >= before) return false;
        ::kill(gc.pid(), SIGSTOP);
        return true;
      },
      std::chrono::seconds(60)));
  ASSERT_TRUE(gc.Running()) << "the sweep ended before it could be caught: " << gc.Stderr();
  size_t left = CountFiles(blobs);
  gc.Stop(SIGKILL);
  ASSERT_GT(left, before - kGarbage) << "caught after the sweep";
  ASSERT_LT(left, before) << "caught before the sweep";

  // The tagged image is whole: every part of it pulls.
  HttpResponse manifest = client.Do("GET", "/v2/app/manifests/1.0.0");
  EXPECT_EQ(manifest.status, 200);
  EXPECT_EQ(manifest.body, kept);
  EXPECT_EQ(client.Do("GET", "/v2/app/blobs/" + Sha("layer-kept")).body, "layer-kept");
  EXPECT_EQ(client.Do("GET", "/v2/app/blobs/" + Sha(R"({"seed":"kept"})")).status, 200);
  // Commits are not blocked, and the next collection finishes the job.
  std::string fresh = client.PushImageParts("app", "fresh");
  EXPECT_EQ(client.PutManifest("app", "2.0.0", fresh).status, 201) << "commits are not blocked";
  RunResult next = server.Cli({"registry", "gc", "--grace", "0s"});
  EXPECT_EQ(next.exit_code, 0) << next.Describe();
  EXPECT_LT(CountFiles(blobs), 20u);
  EXPECT_EQ(client.Do("GET", "/v2/app/manifests/1.0.0").body, kept);
  EXPECT_EQ(client.Do("GET", "/v2/app/manifests/2.0.0").body, fresh);
}

}  // namespace
}  // namespace lockstep::testing
