#include "runtime/local/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "artifact/compressor.h"
#include "os/file.h"
#include "os/testing/temp_dir.h"

namespace lockstep::runtime::local {
namespace {

namespace fs = std::filesystem;

struct Member {
  std::string name;
  std::string content;  // regular file content
  int type = AE_IFREG;
  std::string link;      // symlink target
  int perm = 0;          // 0: 0755 for directories, 0644 otherwise
  std::string hardlink;  // a hard link to this member name
};

// A tar stream of `members`, exactly as listed (no sanitising: tests need hostile ones).
std::string Tar(const std::vector<Member>& members) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open2(
      a, &out, nullptr,
      [](struct archive*, void* data, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(data)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr, nullptr);
  struct archive_entry* e = archive_entry_new();
  for (const Member& m : members) {
    archive_entry_clear(e);
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_filetype(e, static_cast<unsigned>(m.type));
    archive_entry_set_perm(
        e, m.perm != 0 ? static_cast<mode_t>(m.perm) : (m.type == AE_IFDIR ? 0755 : 0644));
    if (m.type == AE_IFCHR || m.type == AE_IFBLK) archive_entry_set_rdev(e, makedev(1, 3));
    if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.link.c_str());
    if (!m.hardlink.empty()) archive_entry_set_hardlink(e, m.hardlink.c_str());
    if (m.type == AE_IFREG) archive_entry_set_size(e, static_cast<la_int64_t>(m.content.size()));
    archive_write_header(a, e);
    if (m.type == AE_IFREG) archive_write_data(a, m.content.data(), m.content.size());
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string Compress(const std::string& tar, artifact::Compression c) {
  std::string out;
  auto z = artifact::Compressor::Create(c, [&](std::string_view b) {
    out.append(b);
    return Status::Ok();
  });
  EXPECT_TRUE(z->Write(tar).ok());
  EXPECT_TRUE(z->Finish().ok());
  return out;
}

class LayerUnpackTest : public ::testing::Test {
 protected:
  Status Unpack(const std::string& tar, const std::string& media_type,
                const std::string& blob_bytes, const std::string& dest = "root") {
    EXPECT_TRUE(os::WriteFileAtomic(dir_.path() / "blob", blob_bytes).ok());
    return UnpackLayer(dir_.path() / "blob", media_type, DigestOf(tar), dir_.path() / dest);
  }
  os::testing::TempDir dir_;
};

TEST_F(LayerUnpackTest, GzipZstdAndPlainTarsUnpackAndCheckTheDiffId) {
  std::string tar =
      Tar({{"app", "", AE_IFDIR}, {"app/run", "echo hi\n"}, {"app/link", "", AE_IFLNK, "run"}});
  struct Case {
    std::string media_type, bytes;
  } cases[] = {
      {"application/vnd.oci.image.layer.v1.tar", tar},
      {"application/vnd.oci.image.layer.v1.tar+gzip", Compress(tar, artifact::Compression::kGzip)},
      {"application/vnd.oci.image.layer.v1.tar+zstd", Compress(tar, artifact::Compression::kZstd)}};
  int n = 0;
  for (const Case& c : cases) {
    std::string dest = "root" + std::to_string(n++);
    Status s = Unpack(tar, c.media_type, c.bytes, dest);
    ASSERT_TRUE(s.ok()) << c.media_type << ": " << s.ToString();
    EXPECT_EQ(os::ReadFile(dir_.path() / dest / "app/run").value(), "echo hi\n");
    EXPECT_EQ(fs::read_symlink(dir_.path() / dest / "app/link"), "run");
  }
  // The wrong diff_id: refused, and nothing is left.
  Status wrong = UnpackLayer(dir_.path() / "blob", cases[2].media_type, DigestOf("other"),
                             dir_.path() / "wrong");
  EXPECT_EQ(wrong.code(), Code::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(dir_.path() / "wrong"));
}

TEST_F(LayerUnpackTest, RefusesEscapes) {
  // Each layer unpacks into dir_/hN, so what escapes lands in dir_ (`..`), at an absolute
  // path the test may write to (as root, so the refusal is lockstep's and not the
  // kernel's), or below a directory outside.
  const fs::path absolute = dir_.path() / "absolute-evil";
  const fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside);
  std::vector<std::vector<Member>> hostile = {
      {{"../evil", "x"}},
      {{"a/../../evil", "x"}},
      {{absolute.string(), "x"}},
      // A symlink out of the tree, then a write through it.
      {{"out", "", AE_IFLNK, outside.string()}, {"out/evil", "x"}},
  };
  int n = 0;
  for (const auto& members : hostile) {
    std::string tar = Tar(members);
    std::string dest = "h" + std::to_string(n++);
    Status s = Unpack(tar, "application/vnd.oci.image.layer.v1.tar", tar, dest);
    EXPECT_FALSE(s.ok()) << members.back().name;
    EXPECT_FALSE(fs::exists(dir_.path() / dest)) << "nothing is left behind";
  }
  EXPECT_FALSE(fs::exists(dir_.path() / "evil"));
  EXPECT_FALSE(fs::exists(absolute));
  EXPECT_FALSE(fs::exists(outside / "evil"));
}

TEST_F(LayerUnpackTest, WhiteoutsBecomeOverlayWhiteouts) {
  std::string tar = Tar({{"etc", "", AE_IFDIR},
                         {"etc/.wh.old.conf", ""},
                         {"var", "", AE_IFDIR},
                         {"var/cache", "", AE_IFDIR},
                         {"var/cache/.wh..wh..opq", ""}});
  ASSERT_TRUE(Unpack(tar, "application/vnd.oci.image.layer.v1.tar", tar).ok());
  struct stat st;
  ASSERT_EQ(::lstat((dir_.path() / "root/etc/old.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::exists(dir_.path() / "root/etc/.wh.old.conf"));
  char value[4] = {};
  ASSERT_EQ(::lgetxattr((dir_.path() / "root/var/cache").c_str(), "trusted.overlay.opaque", value,
                        sizeof value),
            1);
  EXPECT_EQ(value[0], 'y');
}

// Every name, type, size and overlay xattr under `dir`: what a hostile layer must not change.
std::string Snapshot(const fs::path& dir) {
  std::string out;
  std::vector<fs::path> all = {dir};
  for (const auto& e : fs::recursive_directory_iterator(dir)) all.push_back(e.path());
  std::sort(all.begin(), all.end());
  for (const fs::path& p : all) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    char xattr[8] = {};
    ssize_t n = ::lgetxattr(p.c_str(), "trusted.overlay.opaque", xattr, sizeof xattr);
    out += p.string() + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
           (n > 0 ? std::string(xattr, static_cast<size_t>(n)) : "-") + "\n";
  }
  return out;
}

TEST_F(LayerUnpackTest, WhiteoutsAndOpaqueMarkersNeverFollowASymlinkOut) {
  fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside / "etc");
  ASSERT_TRUE(os::WriteFileAtomic(outside / "etc" / "passwd", "root:x:0:0\n").ok());
  const std::string before = Snapshot(outside);
  const std::string out = outside.string();
  std::vector<std::vector<Member>> hostile = {
      // symlink, then a whiteout through it
      {{"evil", "", AE_IFLNK, out + "/etc"}, {"evil/.wh.nologin", ""}},
      // symlink, then an opaque marker through it
      {{"evil", "", AE_IFLNK, out}, {"evil/.wh..wh..opq", ""}},
      // a chain of symlinks
      {{"a", "", AE_IFLNK, "b"}, {"b", "", AE_IFLNK, out}, {"a/.wh.x", ""}},
      // a symlink deeper down, below a real directory
      {{"usr", "", AE_IFDIR}, {"usr/lib", "", AE_IFLNK, out}, {"usr/lib/etc/.wh..wh..opq", ""}},
      // a relative symlink climbing out
      {{"up", "", AE_IFLNK, "../outside"}, {"up/.wh.etc", ""}},
      // a whiteout whose name is no name
      {{"d", "", AE_IFDIR}, {"d/.wh..", ""}},
  };
  // A hard link whose target passes through a symlink to a file outside.
  {
    std::string tar =
        Tar({{"evil", "", AE_IFLNK, out + "/etc"}, {"copy", "", AE_IFREG, "", 0, "evil/passwd"}});
    Status s = Unpack(tar, "application/vnd.oci.image.layer.v1.tar", tar, "hardlink");
    EXPECT_FALSE(s.ok()) << "a hard link through a symlink";
    EXPECT_FALSE(fs::exists(dir_.path() / "hardlink"));
    struct stat st;
    ASSERT_EQ(::stat((outside / "etc" / "passwd").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u) << "the file outside gained no link";
  }
  int n = 0;
  for (const auto& members : hostile) {
    std::string tar = Tar(members);
    std::string dest = "w" + std::to_string(n++);
    Status s = Unpack(tar, "application/vnd.oci.image.layer.v1.tar", tar, dest);
    EXPECT_FALSE(s.ok()) << members.back().name;
    EXPECT_FALSE(fs::exists(dir_.path() / dest)) << "nothing is left behind";
    EXPECT_EQ(Snapshot(outside), before) << "nothing outside changed: " << members.back().name;
  }
}

TEST_F(LayerUnpackTest, DeviceNodesAreRefused) {
  for (int type : {AE_IFCHR, AE_IFBLK}) {
    std::string tar = Tar({{"dev", "", AE_IFDIR}, {"dev/null", "", type}});
    std::string dest = "dev" + std::to_string(type);
    Status s = Unpack(tar, "application/vnd.oci.image.layer.v1.tar", tar, dest);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("device node"), std::string::npos) << s.message();
    EXPECT_FALSE(fs::exists(dir_.path() / dest));
  }
}

TEST_F(LayerUnpackTest, SetuidAndSetgidBitsAreNotKeptOnTheHost) {
  std::string tar = Tar({{"bin", "", AE_IFDIR, "", 02775},
                         {"bin/su", "#!/bin/sh\n", AE_IFREG, "", 04755},
                         {"bin/wall", "#!/bin/sh\n", AE_IFREG, "", 02755}});
  ASSERT_TRUE(Unpack(tar, "application/vnd.oci.image.layer.v1.tar", tar).ok());
  struct stat st;
  ASSERT_EQ(::lstat((dir_.path() / "root/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat((dir_.path() / "root/bin/wall").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat((dir_.path() / "root/bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07000, 0u);
}

TEST_F(LayerUnpackTest, WhiteoutsMayCreateTheirParentDirectories) {
  std::string tar = Tar({{"a/b/.wh.c", ""}, {"x/y/.wh..wh..opq", ""}});
  ASSERT_TRUE(Unpack(tar, "application/vnd.oci.image.layer.v1.tar", tar).ok());
  struct stat st;
  ASSERT_EQ(::lstat((dir_.path() / "root/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  char value[4] = {};
  EXPECT_EQ(::lgetxattr((dir_.path() / "root/x/y").c_str(), "trusted.overlay.opaque", value,
                        sizeof value),
            1);
}

TEST_F(LayerUnpackTest, TruncatedBlobsAndUnknownTypes) {
  std::string tar = Tar({{"f", std::string(100000, 'f')}});
  std::string gz = Compress(tar, artifact::Compression::kGzip);
  Status cut = Unpack(tar, "application/vnd.oci.image.layer.v1.tar+gzip",
                      gz.substr(0, gz.size() / 2), "cut");
  EXPECT_FALSE(cut.ok());
  EXPECT_FALSE(fs::exists(dir_.path() / "cut"));
  std::string zst = Compress(tar, artifact::Compression::kZstd);
  EXPECT_FALSE(Unpack(tar, "application/vnd.oci.image.layer.v1.tar+zstd",
                      zst.substr(0, zst.size() - 9), "cutz")
                   .ok());
  EXPECT_FALSE(fs::exists(dir_.path() / "cutz"));
  Status odd = Unpack(tar, "application/x-something", tar, "odd");
  EXPECT_EQ(odd.code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace lockstep::runtime::local
