#include "artifact/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "os/testing/temp_dir.h"

namespace lockstep::artifact {
namespace {

namespace fs = std::filesystem;

struct TarEntry {
  int type;
  int perm;
  int64_t uid, gid, mtime;
  std::string link;
  std::string content;
};

// Reads a compressed layer back with libarchive.
std::map<std::string, TarEntry> ReadLayer(const fs::path& file) {
  std::map<std::string, TarEntry> out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, file.c_str(), 65536), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    TarEntry t{static_cast<int>(archive_entry_filetype(e)),
               static_cast<int>(archive_entry_perm(e)),
               archive_entry_uid(e),
               archive_entry_gid(e),
               archive_entry_mtime(e),
               archive_entry_symlink(e) ? archive_entry_symlink(e) : "",
               ""};
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
      t.content.append(buf, static_cast<size_t>(n));
    std::string name = archive_entry_pathname(e);
    if (!name.empty() && name.back() == '/') name.pop_back();  // directories carry a slash
    out[name] = t;
  }
  archive_read_free(a);
  return out;
}

void Write(const fs::path& p, const std::string& content, mode_t mode) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  ::chmod(p.c_str(), mode);
}

// The same tree, built in a different order, under a different umask, with other times.
void MakeTree(const fs::path& root, bool reversed, mode_t umask_value, int64_t mtime) {
  mode_t old = ::umask(umask_value);
  std::vector<std::function<void()>> steps = {
      [&] { Write(root / "bin/run", "#!/bin/sh\necho hi\n", 0777 & ~umask_value); },
      [&] { Write(root / "etc/app.conf", "port=8080\n", 0666 & ~umask_value); },
      [&] { fs::create_directories(root / "var/empty"); },
      [&] {
        fs::create_directories(root / "bin");
        fs::create_symlink("../etc/app.conf", root / "bin/conf");
      },
      [&] { Write(root / "data/z", std::string(100000, 'z'), 0644); },
  };
  if (reversed) std::reverse(steps.begin(), steps.end());
  for (auto& s : steps) s();
  ::umask(old);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_symlink())
      fs::last_write_time(e.path(), fs::file_time_type(std::chrono::seconds(mtime)));
  }
}

class LayerTest : public ::testing::TestWithParam<Compression> {
 protected:
  os::testing::TempDir dir_;
};

TEST_P(LayerTest, SameContentSameDigestWhateverTheFilesystemSays) {
  MakeTree(dir_.path() / "a", false, 022, 1000);
  MakeTree(dir_.path() / "b", true, 002, 2000000000);
  LayerOptions options{GetParam(), 0};
  LayerInfo a = WriteLayer(dir_.path() / "a", dir_.path() / "a.layer", options).value();
  LayerInfo b = WriteLayer(dir_.path() / "b", dir_.path() / "b.layer", options).value();
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.diff_id, b.diff_id);
  EXPECT_EQ(a.size, fs::file_size(dir_.path() / "a.layer"));
  EXPECT_EQ(a.digest, DigestOf(os::ReadFile(dir_.path() / "a.layer", 1 << 30).value()));

  // One byte changes the digest.
  Write(dir_.path() / "b/etc/app.conf", "port=8081\n", 0644);
  LayerInfo c = WriteLayer(dir_.path() / "b", dir_.path() / "c.layer", options).value();
  EXPECT_NE(c.digest, a.digest);
}

TEST_P(LayerTest, KeepsModesLinksAndEmptyDirectoriesWithNeutralOwnersAndTimes) {
  MakeTree(dir_.path() / "t", false, 077, 12345);
  LayerInfo info =
      WriteLayer(dir_.path() / "t", dir_.path() / "t.layer", LayerOptions{GetParam(), 42}).value();
  EXPECT_EQ(info.media_type, GetParam() == Compression::kGzip
                                 ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                 : "application/vnd.oci.image.layer.v1.tar+zstd");
  auto entries = ReadLayer(dir_.path() / "t.layer");
  ASSERT_TRUE(entries.count("bin/run"));
  EXPECT_EQ(entries["bin/run"].perm, 0755) << "executable bit kept";
  EXPECT_EQ(entries["etc/app.conf"].perm, 0644) << "umask 077 does not leak in";
  EXPECT_EQ(entries["bin/conf"].type, AE_IFLNK);
  EXPECT_EQ(entries["bin/conf"].link, "../etc/app.conf");
  EXPECT_EQ(entries["var/empty"].type, AE_IFDIR);
  EXPECT_EQ(entries["data/z"].content, std::string(100000, 'z'));
  for (const auto& [name, e] : entries) {
    EXPECT_EQ(e.uid, 0) << name;
    EXPECT_EQ(e.gid, 0) << name;
    EXPECT_EQ(e.mtime, 42) << name;
  }
  // Sorted by path.
  std::vector<std::string> names;
  for (const auto& [name, e] : entries) names.push_back(name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST_P(LayerTest, RefusesSpecialFilesAndMissingDirectories) {
  fs::create_directories(dir_.path() / "s");
  ASSERT_EQ(::mkfifo((dir_.path() / "s/fifo").c_str(), 0644), 0);
  Result<LayerInfo> r =
      WriteLayer(dir_.path() / "s", dir_.path() / "s.layer", LayerOptions{GetParam(), 0});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("fifo"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_.path() / "s.layer"));
  EXPECT_FALSE(
      WriteLayer(dir_.path() / "absent", dir_.path() / "x.layer", LayerOptions{GetParam(), 0})
          .ok());
}

INSTANTIATE_TEST_SUITE_P(Compressions, LayerTest,
                         ::testing::Values(Compression::kGzip, Compression::kZstd));

}  // namespace
}  // namespace lockstep::artifact
