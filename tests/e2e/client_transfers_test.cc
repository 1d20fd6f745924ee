// The registry client: copy between registries keeps the digest (and mounts within one
// registry), a corrupted blob is detected and refused, interrupted downloads and uploads
// resume instead of starting over, and chunked uploads work.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/flaky_proxy.h"
#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/peer_registry.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

class ClientTransfers : public ::testing::Test {
 protected:
  // Packs a directory holding `bytes` of incompressible data and pushes it to `registry`.
  std::string PushData(const std::string& registry, const std::string& repo, size_t bytes,
                       std::vector<std::string> extra = {}) {
    fs::path dir = server_.scratch() / ("data-" + repo.substr(repo.rfind('/') + 1));
    fs::create_directories(dir);
    std::ofstream(dir / "blob.bin", std::ios::binary)
        << RandomBytes(bytes, static_cast<unsigned>(bytes));
    std::vector<std::string> args = {"pack",      dir.string(), "--repo", registry + "/" + repo,
                                     "--version", "1.0.0",      "--push", "--insecure"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Lockstep(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.OutLine();
  }
  LockstepServer server_;
};

TEST_F(ClientTransfers, CopyKeepsTheDigestAcrossRegistriesAndMountsWithinOne) {
  std::string digest = PushData(server_.host(), "apps/data", 300000);
  PeerRegistry peer("ci", "pw");
  std::vector<std::string> env = {"LOCKSTEP_REGISTRY=" + peer.host(),
                                  "LOCKSTEP_REGISTRY_USERNAME=ci", "LOCKSTEP_REGISTRY_PASSWORD=pw"};
  // The lockstep registry here runs in --dev mode and ignores the credentials.
  RunResult copy = Lockstep(
      {"copy", server_.host() + "/apps/data:1.0.0", peer.host() + "/mirror/data", "--insecure"},
      env);
  ASSERT_EQ(copy.exit_code, 0) << copy.Describe();
  EXPECT_EQ(copy.OutLine(), digest);
  RunResult on_peer =
      Lockstep({"inspect", peer.host() + "/mirror/data:1.0.0", "--insecure", "-o", "json"}, env);
  EXPECT_NE(on_peer.out.find(digest), std::string::npos) << on_peer.Describe();

  RunResult within = Lockstep({"copy", server_.host() + "/apps/data@" + digest,
                               server_.host() + "/prod/data:1.0.0", "--insecure"});
  ASSERT_EQ(within.exit_code, 0) << within.Describe();
  EXPECT_NE(within.err.find("0 blobs sent"), std::string::npos)
      << "mounted, not re-sent: " << within.err;
}

TEST_F(ClientTransfers, CorruptedBlobIsRefused) {
  PushData(server_.host(), "apps/data", 100000);
  // Corrupt the stored layer in place (same size), as a broken disk or registry would.
  fs::path biggest;
  for (const auto& e :
       fs::recursive_directory_iterator(server_.data_dir() / "registry" / "blobs")) {
    if (e.is_regular_file() && (biggest.empty() || e.file_size() > fs::file_size(biggest)))
      biggest = e.path();
  }
  {
    std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);
    f.write("CORRUPT", 7);
  }
  fs::path layout = server_.scratch() / "pulled";
  RunResult pull =
      Lockstep({"pull", server_.host() + "/apps/data:1.0.0", layout.string(), "--insecure"});
  EXPECT_EQ(pull.exit_code, 1);
  EXPECT_NE(pull.err.find("does not match its digest"), std::string::npos) << pull.Describe();
  EXPECT_FALSE(fs::exists(layout / "blobs" / "sha256" / biggest.filename()))
      << "nothing corrupt is kept";
}

TEST_F(ClientTransfers, InterruptedDownloadResumes) {
  constexpr size_t kSize = 6 << 20;
  std::string digest = PushData(server_.host(), "apps/big", kSize);
  FlakyProxy proxy(server_.port(), 2 << 20);
  fs::path layout = server_.scratch() / "pulled";
  RunResult pull =
      Lockstep({"pull", "127.0.0.1:" + std::to_string(proxy.port()) + "/apps/big:1.0.0",
                layout.string(), "--insecure"});
  ASSERT_EQ(pull.exit_code, 0) << pull.Describe();
  EXPECT_EQ(pull.OutLine(), digest);
  EXPECT_EQ(proxy.cuts(), 1);
  EXPECT_LT(proxy.bytes_down(), kSize + (1 << 20)) << "resumed with Range, not started over";
}

TEST_F(ClientTransfers, InterruptedUploadResumes) {
  constexpr size_t kSize = 6 << 20;
  FlakyProxy proxy(server_.port(), 2 << 20);
  std::string registry = "127.0.0.1:" + std::to_string(proxy.port());
  std::string digest = PushData(registry, "apps/up", kSize);
  EXPECT_EQ(proxy.cuts(), 1);
  EXPECT_LT(proxy.bytes_up(), kSize + (1 << 20)) << "resumed from the registry's offset";
  RunResult check =
      Lockstep({"inspect", server_.host() + "/apps/up:1.0.0", "--insecure", "-o", "json"});
  EXPECT_NE(check.out.find(digest), std::string::npos) << check.Describe();
}

TEST_F(ClientTransfers, ChunkedUploads) {
  std::string digest = PushData(server_.host(), "apps/chunked", 3 << 20, {"--chunk-size", "1MiB"});
  fs::path layout = server_.scratch() / "pulled";
  RunResult pull =
      Lockstep({"pull", server_.host() + "/apps/chunked:1.0.0", layout.string(), "--insecure"});
  ASSERT_EQ(pull.exit_code, 0) << pull.Describe();
  EXPECT_EQ(pull.OutLine(), digest);
  RunResult bad = Lockstep({"push", layout.string() + ":1.0.0", server_.host() + "/apps/other",
                            "--insecure", "--chunk-size", "lots"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--chunk-size"), std::string::npos);
}

TEST(ClientAuth, BearerTokenFlowAgainstLockstepWithRoles) {
  LockstepServer server{ServerOptions{.dev = false}};
  std::string ci = server.CreateToken("ci:apps/*", "ci");
  std::string prod = server.CreateToken("pull:apps/*", "prod");
  fs::path dir = server.scratch() / "app";
  fs::create_directories(dir);
  std::ofstream(dir / "f") << "x\n";
  std::string repo = server.host() + "/apps/web";
  std::vector<std::string> pack = {"pack",      dir.string(), "--repo", repo,
                                   "--version", "1.0.0",      "--push", "--insecure"};
  RunResult as_ci =
      Lockstep(pack, {"LOCKSTEP_REGISTRY=" + server.host(), "LOCKSTEP_REGISTRY_PASSWORD=" + ci});
  ASSERT_EQ(as_ci.exit_code, 0) << as_ci.Describe();
  RunResult as_prod =
      Lockstep({"pull", repo + ":1.0.0", (server.scratch() / "pulled").string(), "--insecure"},
               {"LOCKSTEP_REGISTRY=" + server.host(), "LOCKSTEP_REGISTRY_PASSWORD=" + prod});
  EXPECT_EQ(as_prod.exit_code, 0) << as_prod.Describe();
  EXPECT_EQ(as_prod.out, as_ci.out) << "the same digest";
  pack[5] = "1.0.1";
  RunResult prod_push =
      Lockstep(pack, {"LOCKSTEP_REGISTRY=" + server.host(), "LOCKSTEP_REGISTRY_PASSWORD=" + prod});
  EXPECT_EQ(prod_push.exit_code, 1);
  EXPECT_NE(prod_push.err.find("403"), std::string::npos) << prod_push.Describe();
  RunResult anonymous = Lockstep({"tags", repo, "--insecure"}, {"DOCKER_CONFIG=/nonexistent"});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("401"), std::string::npos) << anonymous.Describe();
}

TEST(ClientTls, VerifiedByDefaultTrustedWithCaFile) {
  ScratchDir dir;
  fs::path key = dir.path() / "key.pem", cert = dir.path() / "cert.pem";
  RunResult made =
      RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                  "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                  key.string(), "-out", cert.string()});
  ASSERT_EQ(made.exit_code, 0) << made.Describe();
  PeerRegistry peer("ci", "pw", cert.string(), key.string());
  std::vector<std::string> env = {"LOCKSTEP_REGISTRY=" + peer.host(),
                                  "LOCKSTEP_REGISTRY_USERNAME=ci", "LOCKSTEP_REGISTRY_PASSWORD=pw"};
  RunResult untrusted = Lockstep({"tags", peer.host() + "/apps/x"}, env);
  EXPECT_EQ(untrusted.exit_code, 1);
  EXPECT_NE(untrusted.err.find("--ca-file"), std::string::npos) << untrusted.Describe();

  fs::path app = dir.path() / "app";
  fs::create_directories(app);
  std::ofstream(app / "f") << "tls\n";
  RunResult pushed = Lockstep({"pack", app.string(), "--repo", peer.host() + "/apps/x", "--version",
                               "1.0.0", "--push", "--ca-file", cert.string()},
                              env);
  ASSERT_EQ(pushed.exit_code, 0) << pushed.Describe();
  RunResult tags = Lockstep({"tags", peer.host() + "/apps/x", "--ca-file", cert.string()}, env);
  EXPECT_EQ(tags.out, "1.0.0\n") << tags.Describe();
}

}  // namespace
}  // namespace lockstep::testing
