// The deploy repository's mirror fetching over ssh from a real sshd (Debian's
// openssh-server, started here on a loopback port with keys made for the test): host
// keys are pinned from known_hosts, ed25519 and ECDSA keys work, and a server whose key is
// not pinned, or that refuses the key, is refused saying why.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "git/mirror.h"
#include "runtime/local/health_probe.h"
#include "tests/support/http.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/process.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

std::string Must(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string Sh(const std::string& command) { return Must(RunCommand({"sh", "-c", command})); }

// A key pair made by ssh-keygen; `type` as its -t takes it.
fs::path KeyPair(const fs::path& dir, const std::string& name, const std::string& type) {
  fs::path key = dir / name;
  Must(RunCommand({"ssh-keygen", "-q", "-t", type, "-N", "", "-C", name, "-f", key.string()}));
  return key;
}

// sshd on 127.0.0.1:port, serving git as root to the holders of `authorized` keys.
class Sshd {
 public:
  Sshd(const fs::path& dir, const fs::path& host_key, const std::vector<fs::path>& authorized)
      : port_(runtime::local::PickFreePort().value()) {
    std::ofstream keys(dir / "authorized_keys");
    for (const fs::path& k : authorized) keys << Slurp(k.string() + ".pub");
    keys.close();
    std::ofstream(dir / "sshd_config")
        << "ListenAddress 127.0.0.1:" << port_ << "\nHostKey " << host_key.string()
        << "\nAuthorizedKeysFile " << (dir / "authorized_keys").string() << "\nPidFile "
        << (dir / "sshd.pid").string()
        << "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
           "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n"
           "UsePAM no\nLogLevel ERROR\n";
    // sshd's privilege separation wants this directory; Debian's service would make it.
    ::mkdir("/run/sshd", 0755);
    server_ =
        std::make_unique<Background>(std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f",
                                                              (dir / "sshd_config").string()},
                                     dir);
    EXPECT_TRUE(WaitFor([&] {
      int fd = ConnectLoopback(port_);
      if (fd >= 0) ::close(fd);
      return fd >= 0;
    })) << server_->Stderr();
  }
  uint16_t port() const { return port_; }
  std::string Log() const { return server_->Stderr(); }

 private:
  uint16_t port_;
  std::unique_ptr<Background> server_;
};

class SshMirror : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "sshd serves git as root here";
    dir_ = scratch_.path();
    bare_ = dir_ / "deploy.git";
    Sh("git init -q --bare -b main '" + bare_.string() + "' && git clone -q '" + bare_.string() +
       "' '" + (dir_ / "work").string() + "' 2>/dev/null && cd '" + (dir_ / "work").string() +
       "' && git config user.email t@e && git config user.name t && echo 'registry = \"embedded\"'"
       " > lockstep.toml && git add -A && git commit -qm one && git push -q origin main");
    head_ = Sh("git -C '" + bare_.string() + "' rev-parse main");
  }

  // known_hosts naming the server at its port with `host_key`'s public half.
  fs::path KnownHosts(const fs::path& host_key, uint16_t port) {
    fs::path file = dir_ / ("known_hosts-" + host_key.filename().string());
    std::ofstream(file) << "[127.0.0.1]:" << port << " " << Slurp(host_key.string() + ".pub");
    return file;
  }

  Result<std::string> Fetch(uint16_t port, const fs::path& key, const fs::path& known_hosts) {
    auto mirror =
        git::Mirror::Open(dir_ / ("mirror-" + std::to_string(++mirrors_)),
                          {.url = "ssh://root@127.0.0.1:" + std::to_string(port) + bare_.string(),
                           .ssh_key = key,
                           .known_hosts = known_hosts});
    if (!mirror.ok()) return mirror.status();
    return (*mirror)->Fetch();
  }

  // The fetch failed, saying `says`.
  static void ExpectRefused(const Result<std::string>& fetched, std::string_view says) {
    ASSERT_FALSE(fetched.ok()) << "fetched " << *fetched << " where it should say: " << says;
    EXPECT_NE(fetched.status().message().find(says), std::string::npos)
        << fetched.status().message();
  }

  ScratchDir scratch_;
  fs::path dir_, bare_;
  std::string head_;
  int mirrors_ = 0;
};

TEST_F(SshMirror, FetchesWithEd25519AndEcdsaKeysFromAPinnedHost) {
  fs::path host = KeyPair(dir_, "host-ecdsa", "ecdsa");
  fs::path ed25519 = KeyPair(dir_, "user-ed25519", "ed25519");
  fs::path ecdsa = KeyPair(dir_, "user-ecdsa", "ecdsa");
  Sshd sshd(dir_, host, {ed25519, ecdsa});
  fs::path known = KnownHosts(host, sshd.port());
  for (const fs::path& key : {ed25519, ecdsa}) {
    Result<std::string> fetched = Fetch(sshd.port(), key, known);
    ASSERT_TRUE(fetched.ok()) << key << ": " << fetched.status().ToString() << "\n" << sshd.Log();
    EXPECT_EQ(*fetched, head_);
  }
}

TEST_F(SshMirror, AHostKeyThatIsNotPinnedIsRefused) {
  fs::path host = KeyPair(dir_, "host-ed25519", "ed25519");
  fs::path other = KeyPair(dir_, "other-host", "ed25519");
  fs::path user = KeyPair(dir_, "user", "ed25519");
  Sshd sshd(dir_, host, {user});
  Result<std::string> wrong = Fetch(sshd.port(), user, KnownHosts(other, sshd.port()));
  ExpectRefused(wrong, "showed a ssh-ed25519 key that");
  ExpectRefused(wrong, "does not pin");
  // The right key pinned for another port is no pin for this one.
  ExpectRefused(Fetch(sshd.port(), user, KnownHosts(host, sshd.port() + 1)), "does not pin");
  Result<std::string> right = Fetch(sshd.port(), user, KnownHosts(host, sshd.port()));
  EXPECT_TRUE(right.ok()) << right.status().ToString() << "\n" << sshd.Log();
}

TEST_F(SshMirror, AKeyTheServerDoesNotTakeIsRefusedOnceNotForever) {
  fs::path host = KeyPair(dir_, "host", "ed25519");
  fs::path allowed = KeyPair(dir_, "allowed", "ed25519");
  fs::path stranger = KeyPair(dir_, "stranger", "ed25519");
  Sshd sshd(dir_, host, {allowed});
  ExpectRefused(Fetch(sshd.port(), stranger, KnownHosts(host, sshd.port())),
                "refused lockstep's credentials");
}

}  // namespace
}  // namespace lockstep::testing
