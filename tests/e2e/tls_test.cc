// `lockstep serve --tls-cert --tls-key`: HTTPS with certificates made by openssl here,
// checked by real clients (skopeo, curl) that verify them; a certificate replaced on disk is
// served after SIGHUP, and a broken one leaves the old in use.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/http.h"
#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

// A self-signed certificate for 127.0.0.1, named `name`, in dir/NAME.{crt,key}.
void MakeCertificate(const fs::path& dir, const std::string& name) {
  RunResult made = RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1",
       "-keyout", (dir / (name + ".key")).string(), "-out", (dir / (name + ".crt")).string()});
  ASSERT_EQ(made.exit_code, 0) << made.Describe();
}

class Tls : public ::testing::Test {
 protected:
  Tls() {
    MakeCertificate(certs_.path(), "first");
    MakeCertificate(certs_.path(), "second");
    fs::copy_file(certs_.path() / "first.crt", cert_);
    fs::copy_file(certs_.path() / "first.key", key_);
  }

  // curl, trusting only `ca`; "" when the TLS handshake or verification fails.
  std::string Curl(const std::string& ca, const std::string& path,
                   std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {"curl", "-sS", "--fail-with-body", "--cacert",
                                     (certs_.path() / (ca + ".crt")).string()};
    argv.insert(argv.end(), more.begin(), more.end());
    argv.push_back("https://" + server_->host() + path);
    RunResult r = RunCommand(argv);
    return r.exit_code == 0 ? r.out : "";
  }

  void Serve(bool dev = true, std::string config = "") {
    server_ = std::make_unique<LockstepServer>(
        ServerOptions{.dev = dev,
                      .config_toml = std::move(config),
                      .args = {"--tls-cert", cert_.string(), "--tls-key", key_.string()}});
  }

  ScratchDir certs_;
  fs::path cert_ = certs_.path() / "served.crt";
  fs::path key_ = certs_.path() / "served.key";
  std::unique_ptr<LockstepServer> server_;
};

TEST_F(Tls, SkopeoPushesAndPullsOverVerifiedHttps) {
  Serve();
  EXPECT_EQ(Curl("first", "/healthz"), "ok\n");
  fs::path layout = server_->scratch() / "image";
  // A layer larger than one copy block, so the file path through TLS is exercised.
  MakeImage(layout, "1.0.0", {{"data/blob.bin", RandomBytes(3 << 20, 11)}});
  // skopeo trusts the certificates of a --cert-dir's *.crt files.
  fs::path trust = server_->scratch() / "trust";
  fs::create_directories(trust);
  fs::copy_file(certs_.path() / "first.crt", trust / "ca.crt");
  std::string ref = "docker://" + server_->host() + "/apps/web:1.0.0";
  RunResult pushed = RunCommand(Skopeo(
      {"copy", "--dest-cert-dir", trust.string(), "oci:" + layout.string() + ":1.0.0", ref}));
  ASSERT_EQ(pushed.exit_code, 0) << pushed.Describe();
  fs::path pulled = server_->scratch() / "pulled";
  RunResult got = RunCommand(
      Skopeo({"copy", "--src-cert-dir", trust.string(), ref, "oci:" + pulled.string() + ":1.0.0"}));
  ASSERT_EQ(got.exit_code, 0) << got.Describe();
  std::string digest = LayoutDigest(layout, "1.0.0");
  EXPECT_EQ(LayoutDigest(pulled, "1.0.0"), digest);
  for (const std::string& blob : ReachableBlobs(layout, digest)) {
    EXPECT_EQ(ReadBlob(pulled, blob), ReadBlob(layout, blob)) << blob;
  }
  // A client that trusts another certificate refuses the server.
  RunResult untrusted = RunCommand(Skopeo({"inspect", "--raw", ref}));
  EXPECT_NE(untrusted.exit_code, 0) << untrusted.Describe();

  // lockstep's own client: verified with --ca-file, refused without it.
  std::string image = server_->host() + "/apps/web:1.0.0";
  RunResult inspected = RunCommand({LockstepBinary(), "inspect", image, "--ca-file",
                                    (certs_.path() / "first.crt").string(), "-o", "json"});
  EXPECT_EQ(inspected.exit_code, 0) << inspected.Describe();
  EXPECT_NE(inspected.out.find(digest), std::string::npos) << inspected.out;
  RunResult refused = RunCommand({LockstepBinary(), "inspect", image});
  EXPECT_NE(refused.exit_code, 0) << refused.Describe();
  EXPECT_NE(refused.err.find("certificate"), std::string::npos) << refused.err;
}

TEST_F(Tls, ChallengesNameTheHttpsTokenEndpoint) {
  Serve(/*dev=*/false);
  // --fail-with-body makes a 401 an error: ask without it.
  RunResult r =
      RunCommand({"curl", "-sS", "-D", "-", "-o", "/dev/null", "--cacert",
                  (certs_.path() / "first.crt").string(), "https://" + server_->host() + "/v2/"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("HTTP/1.1 401"), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("realm=\"https://127.0.0.1:" + std::to_string(server_->port()) + "/auth/token\""),
      std::string::npos)
      << r.out;
}

TEST_F(Tls, PlainHttpOnTheTlsPortIsClosedAndServingGoesOn) {
  Serve();
  std::string answer = SendRaw(server_->port(), "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_TRUE(server_->Running());
  EXPECT_EQ(Curl("first", "/healthz"), "ok\n");
}

const char* const kTightTls =
    "[runtime]\nenabled = false\n[server]\nheader_timeout = \"1s\"\nsend_timeout = \"2s\"\n"
    "body_min_rate = \"64KiB\"\n";

TEST_F(Tls, AClientThatNeverHandshakesIsCutOff) {
  Serve(true, kTightTls);
  int fd = ConnectLoopback(server_->port(), 4096);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(ClosedByServerWithin(fd, std::chrono::seconds(15)));
  ::close(fd);
  EXPECT_EQ(Curl("first", "/healthz"), "ok\n");
}

TEST_F(Tls, AReaderThatStopsTakingABlobOverTlsIsCutOff) {
  Serve(true, kTightTls);
  std::string blob = RandomBytes(16 << 20, 5);
  RunResult pushed = RunCommand(
      {"curl", "-sS", "--fail-with-body", "--cacert", (certs_.path() / "first.crt").string(),
       "--data-binary", "@-", "-H", "Content-Type: application/octet-stream",
       "https://" + server_->host() + "/v2/apps/web/blobs/uploads/?digest=" + Sha(blob)},
      std::chrono::seconds(60), blob);
  ASSERT_EQ(pushed.exit_code, 0) << pushed.Describe();

  // A TLS client that asks for the blob and then reads nothing.
  int fd = ConnectLoopback(server_->port(), 4096);
  ASSERT_GE(fd, 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* tls = SSL_new(ctx);
  SSL_set_fd(tls, fd);
  ASSERT_EQ(SSL_connect(tls), 1);
  std::string get = "GET /v2/apps/web/blobs/" + Sha(blob) + " HTTP/1.1\r\nHost: slow\r\n\r\n";
  ASSERT_EQ(SSL_write(tls, get.data(), static_cast<int>(get.size())), static_cast<int>(get.size()));
  auto asked = std::chrono::steady_clock::now();
  std::optional<unsigned long> inode;
  ASSERT_TRUE(WaitFor([&] {
    inode = ServerEndInode(server_->port(), LocalPort(fd));
    return inode.has_value() && *inode != 0;
  })) << "no server end of the connection";
  EXPECT_TRUE(
      WaitFor([&] { return !HoldsSocket(server_->pid(), *inode); }, std::chrono::seconds(30)))
      << "the server still holds the connection of a reader that stopped";
  EXPECT_GE(std::chrono::steady_clock::now() - asked, std::chrono::seconds(2));
  // What the server had queued still arrives, then the stream ends: not the whole blob.
  char buf[16384];
  size_t got = 0;
  for (int n; (n = SSL_read(tls, buf, sizeof buf)) > 0;) got += static_cast<size_t>(n);
  EXPECT_LT(got, blob.size()) << "the whole blob went to a reader that stopped";
  SSL_free(tls);
  SSL_CTX_free(ctx);
  ::close(fd);
  EXPECT_EQ(Curl("first", "/healthz"), "ok\n");
}

TEST_F(Tls, SighupServesARenewedCertificateAndKeepsItThroughABrokenOne) {
  Serve();
  EXPECT_EQ(Curl("first", "/healthz"), "ok\n");
  EXPECT_EQ(Curl("second", "/healthz"), "") << "a client trusting only 'second' is refused";

  fs::copy_file(certs_.path() / "second.crt", cert_, fs::copy_options::overwrite_existing);
  fs::copy_file(certs_.path() / "second.key", key_, fs::copy_options::overwrite_existing);
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] { return Curl("second", "/healthz") == "ok\n"; })) << server_->Logs();
  EXPECT_EQ(Curl("first", "/healthz"), "");

  // A half-written renewal: the key no longer matches. The certificate in use stays.
  fs::copy_file(certs_.path() / "first.crt", cert_, fs::copy_options::overwrite_existing);
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] {
    return server_->Logs().find("keeping the TLS certificate in use") != std::string::npos;
  })) << server_->Logs();
  EXPECT_NE(server_->Logs().find("is not the key of certificate"), std::string::npos)
      << server_->Logs();
  EXPECT_EQ(Curl("second", "/healthz"), "ok\n");
  EXPECT_TRUE(server_->Running());
}

TEST_F(Tls, BadFilesAreRefusedAtStartNamingThem) {
  ScratchDir data;
  auto serve = [&](std::vector<std::string> tls) {
    std::vector<std::string> argv = {LockstepBinary(),
                                     "serve",
                                     "--dev",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--data",
                                     (data.path() / "d").string()};
    argv.insert(argv.end(), tls.begin(), tls.end());
    return RunCommand(argv, std::chrono::seconds(30));
  };
  RunResult mismatched = serve({"--tls-cert", (certs_.path() / "first.crt").string(), "--tls-key",
                                (certs_.path() / "second.key").string()});
  EXPECT_EQ(mismatched.exit_code, 1) << mismatched.Describe();
  EXPECT_NE(mismatched.err.find("second.key is not the key of certificate"), std::string::npos)
      << mismatched.err;
  std::ofstream(certs_.path() / "junk.crt") << "not a certificate\n";
  RunResult junk = serve({"--tls-cert", (certs_.path() / "junk.crt").string(), "--tls-key",
                          (certs_.path() / "first.key").string()});
  EXPECT_EQ(junk.exit_code, 1) << junk.Describe();
  EXPECT_NE(junk.err.find("TLS certificate " + (certs_.path() / "junk.crt").string()),
            std::string::npos)
      << junk.err;
  // An encrypted key is refused at once, never a prompt for its pass phrase.
  fs::path locked = certs_.path() / "locked.key";
  RunResult encrypt = RunCommand({"openssl", "pkey", "-in", (certs_.path() / "first.key").string(),
                                  "-aes256", "-passout", "pass:secret", "-out", locked.string()});
  ASSERT_EQ(encrypt.exit_code, 0) << encrypt.Describe();
  RunResult encrypted =
      serve({"--tls-cert", (certs_.path() / "first.crt").string(), "--tls-key", locked.string()});
  EXPECT_EQ(encrypted.exit_code, 1) << encrypted.Describe();
  EXPECT_NE(encrypted.err.find("TLS key " + locked.string()), std::string::npos) << encrypted.err;
  RunResult half = serve({"--tls-cert", (certs_.path() / "first.crt").string()});
  EXPECT_EQ(half.exit_code, 1) << half.Describe();
  EXPECT_NE(half.err.find("--tls-cert and --tls-key go together"), std::string::npos) << half.err;
}

}  // namespace
}  // namespace lockstep::testing
