#include "artifact/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "os/file.h"

namespace lockstep::artifact {

namespace fs = std::filesystem;

namespace {

struct Entry {
  std::string name;  // relative, '/'-separated, no leading "./"
  fs::path path;
  struct stat st;
};

Result<std::vector<Entry>> Collect(const fs::path& dir) {
  std::vector<Entry> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return InvalidArgument("cannot read directory " + dir.string() + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return IoError("walking " + dir.string() + ": " + ec.message());
    Entry e;
    e.path = it->path();
    // lexically_relative, not relative(): the latter resolves symlinks.
    e.name = e.path.lexically_relative(dir).generic_string();
    if (::lstat(e.path.c_str(), &e.st) != 0) return os::ErrnoStatus("stat", e.path);
    if (!S_ISREG(e.st.st_mode) && !S_ISDIR(e.st.st_mode) && !S_ISLNK(e.st.st_mode)) {
      return InvalidArgument(e.path.string() +
                             " is not a file, directory or symlink; layers cannot hold it");
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

struct Sinks {
  Hasher diff_id;
  Compressor* compressor = nullptr;
  Status failure;
};

la_ssize_t OnWrite(struct archive*, void* data, const void* buffer, size_t length) {
  auto* sinks = static_cast<Sinks*>(data);
  std::string_view bytes(static_cast<const char*>(buffer), length);
  sinks->diff_id.Update(bytes);
  Status s = sinks->compressor->Write(bytes);
  if (!s.ok()) {
    sinks->failure = s;
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

Status ArchiveError(struct archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return IoError(what + ": " + (msg ? msg : "libarchive error"));
}

Status WriteEntry(struct archive* a, struct archive_entry* entry, const Entry& e, int64_t mtime) {
  archive_entry_clear(entry);
  archive_entry_set_pathname(entry, e.name.c_str());
  archive_entry_set_uid(entry, 0);
  archive_entry_set_gid(entry, 0);
  archive_entry_set_mtime(entry, mtime, 0);
  if (S_ISDIR(e.st.st_mode)) {
    archive_entry_set_filetype(entry, AE_IFDIR);
    archive_entry_set_perm(entry, 0755);
  } else if (S_ISLNK(e.st.st_mode)) {
    std::error_code ec;
    fs::path target = fs::read_symlink(e.path, ec);
    if (ec) return IoError("read link " + e.path.string() + ": " + ec.message());
    archive_entry_set_filetype(entry, AE_IFLNK);
    archive_entry_set_perm(entry, 0777);
    archive_entry_set_symlink(entry, target.c_str());
  } else {
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, (e.st.st_mode & 0111) ? 0755 : 0644);
    archive_entry_set_size(entry, e.st.st_size);
  }
  if (archive_write_header(a, entry) != ARCHIVE_OK)
    return ArchiveError(a, "tar header for " + e.name);
  if (!S_ISREG(e.st.st_mode)) return Status::Ok();

  LS_ASSIGN_OR_RETURN(os::UniqueFd fd, os::OpenRead(e.path));
  std::vector<char> buf(1 << 20);
  int64_t left = e.st.st_size;
  // A file that grew is cut at the size it had when listed.
  auto write = [&](std::string_view chunk) -> Status {
    auto n = static_cast<ssize_t>(chunk.size());
    if (archive_write_data(a, chunk.data(), chunk.size()) != n) {
      return ArchiveError(a, "tar data for " + e.name);
    }
    left -= n;
    return Status::Ok();
  };
  LS_RETURN_IF_ERROR(
      os::ReadChunks(fd.get(), e.path, buf, write, static_cast<uint64_t>(e.st.st_size)));
  if (left > 0) return FailedPrecondition(e.path.string() + " shrank while it was being packed");
  return Status::Ok();
}

}  // namespace

Result<LayerInfo> WriteLayer(const fs::path& dir, const fs::path& out_path,
                             const LayerOptions& options) {
  LS_ASSIGN_OR_RETURN(std::vector<Entry> entries, Collect(dir));

  LS_ASSIGN_OR_RETURN(os::UniqueFd out, os::CreateTruncated(out_path));
  Hasher digest;
  uint64_t size = 0;
  std::unique_ptr<Compressor> compressor =
      Compressor::Create(options.compression, [&](std::string_view bytes) -> Status {
        digest.Update(bytes);
        size += bytes.size();
        return os::WriteAll(out.get(), bytes);
      });
  Sinks sinks;
  sinks.compressor = compressor.get();

  struct archive* a = archive_write_new();
  struct archive_entry* entry = archive_entry_new();
  Status s = Status::Ok();
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_open2(a, &sinks, nullptr, OnWrite, nullptr, nullptr) != ARCHIVE_OK) {
    s = ArchiveError(a, "open tar stream");
  }
  for (const Entry& e : entries) {
    if (!s.ok()) break;
    s = WriteEntry(a, entry, e, options.mtime);
  }
  if (s.ok() && archive_write_close(a) != ARCHIVE_OK) s = ArchiveError(a, "close tar stream");
  archive_entry_free(entry);
  archive_write_free(a);
  if (!sinks.failure.ok()) s = sinks.failure;
  if (s.ok()) s = compressor->Finish();
  if (s.ok()) s = os::Fsync(out.get(), out_path);
  if (!s.ok()) {
    (void)os::RemoveFile(out_path);
    return s;
  }
  return LayerInfo{digest.Finish(), sinks.diff_id.Finish(), size,
                   std::string(MediaTypeFor(options.compression))};
}

}  // namespace lockstep::artifact
