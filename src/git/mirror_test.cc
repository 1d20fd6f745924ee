// The mirror against real repositories: bare remotes made and pushed to with the git CLI.
#include "git/mirror.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "base/strings.h"
#include "os/file.h"
#include "os/process.h"
#include "os/testing/temp_dir.h"

namespace lockstep::git {
namespace {

namespace fs = std::filesystem;

std::string Git(const fs::path& dir, const std::string& args) {
  Result<os::Captured> r = os::RunCapture({"sh", "-c", "cd '" + dir.string() + "' && git " + args});
  EXPECT_TRUE(r.ok() && r->exit_code == 0) << args << ": " << (r.ok() ? r->err : "");
  std::string out = r.ok() ? r->out : "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A bare remote and a work clone that pushes to it.
struct Remote {
  os::testing::TempDir dir;
  fs::path bare = dir.path() / "remote.git";
  fs::path work = dir.path() / "work";

  Remote() {
    fs::create_directories(bare);
    Git(bare, "init -q --bare -b main");
    fs::create_directories(work);
    Git(work,
        "init -q -b main && git config user.email t@e && git config user.name t && "
        "git remote add origin '" +
            bare.string() + "'");
  }
  std::string Commit(const std::string& message) {
    Git(work, "add -A && git commit -qm '" + message + "' && git push -q origin main");
    return Git(work, "rev-parse HEAD");
  }
};

// A mirror of `remote` in `data`, fetched; null (with the failure reported) if it cannot be.
std::unique_ptr<Mirror> Fetched(const Remote& remote, const os::testing::TempDir& data) {
  auto mirror = Mirror::Open(data.path() / "m", {.url = remote.bare.string()});
  EXPECT_TRUE(mirror.ok()) << mirror.status().ToString();
  if (!mirror.ok()) return nullptr;
  Result<std::string> fetched = (*mirror)->Fetch();
  EXPECT_TRUE(fetched.ok()) << fetched.status().ToString();
  return fetched.ok() ? std::move(mirror).value() : nullptr;
}

const std::vector<std::string> kTop = {"lockstep.toml"};
const std::vector<std::string> kDirs = {"services", "environments"};

TEST(Mirror, FetchesTheBranchAndReadsTreesAtExactCommits) {
  Remote remote;
  Write(remote.work / "lockstep.toml", "[[environment]]\nname = \"dev\"\n");
  Write(remote.work / "services" / "web.toml", "kind = \"service\"\n");
  Write(remote.work / "environments" / "dev" / "web.toml", "version = \"1\"\n");
  Write(remote.work / "README.md", "not read: outside the format's directories\n");
  Write(remote.work / "ci" / "build.sh", "not read either\n");
  std::string first = remote.Commit("one");

  os::testing::TempDir data;
  Result<std::unique_ptr<Mirror>> mirror =
      Mirror::Open(data.path() / "mirror", {.url = remote.bare.string()});
  ASSERT_TRUE(mirror.ok()) << mirror.status().ToString();
  Result<std::string> fetched = (*mirror)->Fetch();
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(*fetched, first);
  EXPECT_FALSE(fs::exists(data.path() / "mirror" / "lockstep.toml"))
      << "a bare mirror, no work tree";

  Write(remote.work / "environments" / "dev" / "web.toml", "version = \"2\"\n");
  std::string second = remote.Commit("two");
  Result<std::string> again = (*mirror)->Fetch();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, second);

  Result<TreeFiles> old = (*mirror)->ReadTree(first, kTop, kDirs);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->files.size(), 3u);
  EXPECT_EQ(old->files.at("environments/dev/web.toml"), "version = \"1\"\n");
  EXPECT_FALSE(old->files.contains("README.md"));
  EXPECT_FALSE(old->files.contains("ci/build.sh"));
  Result<TreeFiles> now = (*mirror)->ReadTree(second, kTop, kDirs);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->files.at("environments/dev/web.toml"), "version = \"2\"\n");

  // A mirror opened again keeps what it fetched.
  mirror->reset();
  Result<std::unique_ptr<Mirror>> reopened =
      Mirror::Open(data.path() / "mirror", {.url = remote.bare.string()});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->Resolve("main").value(), second);
}

TEST(Mirror, AFileUrlAndRevisionsPeopleType) {
  Remote remote;
  Write(remote.work / "lockstep.toml", "\n");
  std::string commit = remote.Commit("one");
  os::testing::TempDir data;
  auto mirror = Mirror::Open(data.path() / "m", {.url = "file://" + remote.bare.string()});
  ASSERT_TRUE(mirror.ok()) << mirror.status().ToString();
  ASSERT_TRUE((*mirror)->Fetch().ok());
  EXPECT_EQ((*mirror)->Resolve(commit).value(), commit);
  EXPECT_EQ((*mirror)->Resolve(commit.substr(0, 8)).value(), commit);
  EXPECT_EQ((*mirror)->Resolve("main").value(), commit);
  EXPECT_EQ((*mirror)->Resolve("nope").status().code(), Code::kNotFound);
  EXPECT_EQ((*mirror)->Resolve("main~1").status().code(), Code::kInvalidArgument);
  std::string tree = Git(remote.work, "rev-parse HEAD^{tree}");
  EXPECT_EQ((*mirror)->Resolve(tree).status().code(), Code::kInvalidArgument)
      << "a tree, no commit";
  EXPECT_EQ((*mirror)->ReadTree("abc", kTop, kDirs).status().code(), Code::kInvalidArgument);
  EXPECT_EQ((*mirror)->ReadTree(std::string(40, 'e'), kTop, kDirs).status().code(),
            Code::kNotFound);
}

TEST(Mirror, LinksSubmodulesAndOversizedFilesAreLeftOutAndSaidSo) {
  Remote remote;
  Write(remote.work / "lockstep.toml", "\n");
  fs::create_directories(remote.work / "services");
  fs::create_symlink("/etc/passwd", remote.work / "services" / "web.toml");
  Write(remote.work / "environments" / "dev" / "big.toml", std::string(2 << 20, '#'));
  Write(remote.work / "environments" / "dev" / "ok.toml", "ok = true\n");
  // A submodule's gitlink: staged as git does, then committed without `add -A` (which would
  // drop it, there being no directory).
  Git(remote.work, "add -A && git update-index --add --cacheinfo 160000," + std::string(40, 'a') +
                       ",environments/sub && git commit -qm hostile && git push -q origin main");
  std::string commit = Git(remote.work, "rev-parse HEAD");
  os::testing::TempDir data;
  std::unique_ptr<Mirror> mirror = Fetched(remote, data);
  ASSERT_NE(mirror, nullptr);
  Result<TreeFiles> tree = mirror->ReadTree(commit, kTop, kDirs);
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  EXPECT_TRUE(tree->files.contains("environments/dev/ok.toml"));
  EXPECT_FALSE(tree->files.contains("services/web.toml"));
  EXPECT_FALSE(tree->files.contains("environments/dev/big.toml"));
  ASSERT_EQ(tree->skipped.size(), 3u);
  std::map<std::string, std::string> why;
  for (const auto& s : tree->skipped) why[s.path] = s.why;
  EXPECT_EQ(why["services/web.toml"], "is a symbolic link");
  EXPECT_EQ(why["environments/dev/big.toml"], "is larger than 1.0 MiB");
  EXPECT_EQ(why["environments/sub"], "is a submodule");

  TreeLimits two{.max_files = 2};
  Result<TreeFiles> many = mirror->ReadTree(commit, kTop, kDirs, two);
  ASSERT_FALSE(many.ok()) << "a commit past the limits is refused whole, not read in part";
  EXPECT_EQ(many.status().code(), Code::kOutOfRange);
  TreeLimits small{.max_total_bytes = 4};
  EXPECT_EQ(mirror->ReadTree(commit, kTop, kDirs, small).status().code(), Code::kOutOfRange);
}

TEST(Mirror, ADeepNestIsNotWalked) {
  Remote remote;
  Write(remote.work / "lockstep.toml", "\n");
  fs::path deep = remote.work / "environments" / "dev";
  for (int i = 0; i < 200; ++i) deep /= "d";
  Write(deep / "x.toml", "deep = true\n");
  Write(remote.work / "environments" / "dev" / "web.toml", "ok = true\n");
  std::string commit = remote.Commit("deep");
  os::testing::TempDir data;
  std::unique_ptr<Mirror> mirror = Fetched(remote, data);
  ASSERT_NE(mirror, nullptr);
  Result<TreeFiles> tree = mirror->ReadTree(commit, kTop, kDirs);
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  EXPECT_EQ(tree->files.size(), 2u);
  ASSERT_EQ(tree->skipped.size(), 1u);
  EXPECT_EQ(tree->skipped[0].path, "environments/dev/d");
  EXPECT_EQ(tree->skipped[0].why, "is a directory deeper than the format has a place for");
}

TEST(Mirror, RemotesThatCannotBeUsedAreRefusedSayingWhy) {
  os::testing::TempDir data;
  auto ssh = Mirror::Open(data.path() / "a", {.url = "ssh://git@127.0.0.1:1/repo.git"});
  ASSERT_FALSE(ssh.ok());
  EXPECT_NE(ssh.status().message().find("needs a known_hosts file"), std::string::npos);
  auto token = Mirror::Open(data.path() / "t",
                            {.url = "http://git.example/deploy.git", .https_token = "secret"});
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.status().message().find("a token is sent only over https://"), std::string::npos);
  auto branch = Mirror::Open(data.path() / "b", {.url = "/x", .branch = "a..b"});
  EXPECT_EQ(branch.status().code(), Code::kInvalidArgument);
  auto missing = Mirror::Open(data.path() / "c", {.url = (data.path() / "none.git").string()});
  ASSERT_TRUE(missing.ok());
  Result<std::string> fetched = (*missing)->Fetch();
  ASSERT_FALSE(fetched.ok());
  EXPECT_NE(fetched.status().message().find("fetching " + (data.path() / "none.git").string()),
            std::string::npos)
      << fetched.status().message();
}

TEST(KnownHosts, PinsByNamePortTypeAndHashAndHonoursRevocation) {
  std::string key = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, '\x07');
  std::string other = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, '\x08');
  std::string b64 = Base64Encode(key);
  std::string plain = "git.example,10.0.0.1 ssh-ed25519 " + b64 + "\n";
  EXPECT_TRUE(KnownHostKey(plain, "git.example", 22, "ssh-ed25519", key));
  EXPECT_TRUE(KnownHostKey(plain, "10.0.0.1", 22, "ssh-ed25519", key));
  EXPECT_FALSE(KnownHostKey(plain, "git.example", 22, "ssh-ed25519", other));
  EXPECT_FALSE(KnownHostKey(plain, "git.example", 2222, "ssh-ed25519", key)) << "another port";
  EXPECT_FALSE(KnownHostKey(plain, "evil.example", 22, "ssh-ed25519", key));
  EXPECT_FALSE(KnownHostKey(plain, "git.example", 22, "ecdsa-sha2-nistp256", key));
  std::string ported = "# comment\n[127.0.0.1]:2222 ssh-ed25519 " + b64 + " comment\n";
  EXPECT_TRUE(KnownHostKey(ported, "127.0.0.1", 2222, "ssh-ed25519", key));
  EXPECT_FALSE(KnownHostKey(ported, "127.0.0.1", 22, "ssh-ed25519", key));
  // Hashed by OpenSSH's own ssh-keygen -H: |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
  os::testing::TempDir dir;
  fs::path file = dir.path() / "known_hosts";
  Write(file, ported);
  Result<os::Captured> hashed = os::RunCapture({"ssh-keygen", "-q", "-H", "-f", file.string()});
  ASSERT_TRUE(hashed.ok() && hashed->exit_code == 0) << (hashed.ok() ? hashed->err : "");
  Result<std::string> text = os::ReadFile(file);
  ASSERT_TRUE(text.ok());
  ASSERT_NE(text->find("|1|"), std::string::npos) << *text;
  EXPECT_EQ(text->find("127.0.0.1"), std::string::npos) << "the name is hashed";
  EXPECT_TRUE(KnownHostKey(*text, "127.0.0.1", 2222, "ssh-ed25519", key));
  EXPECT_FALSE(KnownHostKey(*text, "127.0.0.2", 2222, "ssh-ed25519", key));
  std::string revoked = "@revoked git.example ssh-ed25519 " + b64 + "\n" + plain;
  EXPECT_FALSE(KnownHostKey(revoked, "git.example", 22, "ssh-ed25519", key));
  std::string revoked_everywhere = plain + "@revoked * ssh-ed25519 " + b64 + "\n";
  EXPECT_FALSE(KnownHostKey(revoked_everywhere, "git.example", 22, "ssh-ed25519", key))
      << "a key revoked for every host is refused for this one";
  EXPECT_TRUE(KnownHostKey(plain + "@revoked * ssh-ed25519 " + Base64Encode(other) + "\n",
                           "git.example", 22, "ssh-ed25519", key))
      << "another key's revocation leaves this one pinned";
  EXPECT_FALSE(KnownHostKey("", "git.example", 22, "ssh-ed25519", key));
}

}  // namespace
}  // namespace lockstep::git
