// kill -9 of the server at awkward moments leaves the old state or the new, never a
// mix, and no lock stuck: after a restart on the same data directory, committed images
// pull intact, half-received blobs are not visible, an interrupted upload session can
// still be finished, and `registry gc` runs.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

TEST(CrashRecovery, KillDuringUploadsThenRestart) {
  LockstepServer server;
  std::string manifest = RegistryClient(server).PushImageParts("app", "committed");
  ASSERT_EQ(RegistryClient(server).PutManifest("app", "1.0.0", manifest).status, 201);

  // A chunked upload with one chunk accepted, then a monolithic push cut off mid-body.
  std::string location = RegistryClient(server).StartUpload("app");
  ASSERT_EQ(RegistryClient(server).Do("PATCH", location, "first half|").status, 202);
  std::string big(4 << 20, 'q');
  std::thread writer([&] {
    SendRawAndHangUp(server.port(),
                     "POST /v2/app/blobs/uploads/?digest=" + Sha(big) +
                         " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(big.size()) +
                         "\r\n\r\n" + big.substr(0, 1 << 20));
  });
  writer.join();
  server.Kill9();
  server.Restart();

  RegistryClient client(server);
  HttpResponse tag = client.Do("GET", "/v2/app/manifests/1.0.0");
  EXPECT_EQ(tag.status, 200);
  EXPECT_EQ(tag.body, manifest);
  EXPECT_EQ(client.Do("GET", "/v2/app/blobs/" + Sha("layer-committed")).body, "layer-committed");
  EXPECT_EQ(client.Do("HEAD", "/v2/app/blobs/" + Sha(big)).status, 404) << "no half-received blob";

  HttpResponse status = client.Do("GET", location);
  ASSERT_EQ(status.status, 204) << "the session survives the crash";
  EXPECT_EQ(status.Header("range"), "0-10");
  HttpResponse done =
      client.Do("PUT", location + "?digest=" + Sha("first half|second half"), "second half");
  EXPECT_EQ(done.status, 201) << done.Describe();

  RunResult gc = server.Cli({"registry", "gc"});
  EXPECT_EQ(gc.exit_code, 0) << "no lock is left held: " << gc.Describe();
  std::string again = client.PushImageParts("app", "after");
  EXPECT_EQ(client.PutManifest("app", "1.0.1", again).status, 201);
  EXPECT_EQ(client.PutManifest("app", "1.0.0", again).status, 409) << "tags are still immutable";
}

TEST(CrashRecovery, KillDuringGcLeavesNoStuckLock) {
  LockstepServer server;
  RegistryClient client(server);
  for (int i = 0; i < 20; ++i) client.PushBlob("app", "blob " + std::to_string(i));
  // Start a collection and kill it at once; whatever it managed, the lock dies with it.
  Background gc(
      {LockstepBinary(), "registry", "gc", "--grace", "0s", "--data", server.data_dir().string()},
      server.scratch() / "gc-logs");
  gc.Stop(SIGKILL);
  RunResult next = server.Cli({"registry", "gc", "--grace", "0s"});
  EXPECT_EQ(next.exit_code, 0) << next.Describe();
  std::string m = client.PushImageParts("app", "fresh");
  EXPECT_EQ(client.PutManifest("app", "2.0.0", m).status, 201) << "commits are not blocked";
}

}  // namespace
}  // namespace lockstep::testing
