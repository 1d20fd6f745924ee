#include "runtime/local/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "image/media_types.h"
#include "os/file.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 256 * 1024;
constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

enum class Codec { kNone, kGzip, kZstd };

// Feeds libarchive the decompressed tar stream and hashes it on the way.
struct Source {
  os::UniqueFd fd;
  Codec codec = Codec::kNone;
  z_stream z{};
  ZSTD_DStream* zstd = nullptr;
  std::vector<char> in = std::vector<char>(kChunk);
  std::vector<char> out = std::vector<char>(kChunk);
  size_t in_len = 0, in_pos = 0;
  bool input_done = false;
  bool stream_done = false;
  bool frame_complete = false;  // zstd: the last frame seen has ended
  Hasher diff_id;
  Status failure;

  ~Source() {
    if (codec == Codec::kGzip) inflateEnd(&z);
    if (zstd != nullptr) ZSTD_freeDStream(zstd);
  }

  bool Refill() {
    if (in_pos < in_len || input_done) return in_pos < in_len;
    ssize_t n;
    do {
      n = ::read(fd.get(), in.data(), in.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      failure = IoError("reading the layer blob failed");
      input_done = true;
      return false;
    }
    in_len = static_cast<size_t>(n);
    in_pos = 0;
    if (n == 0) input_done = true;
    return n > 0;
  }

  // Produces up to out.size() bytes of tar; 0 at the end; -1 on error. The decoder is
  // called even when the input is used up, since it may still hold output.
  ssize_t Produce() {
    while (!stream_done) {
      bool have_input = Refill();
      if (!failure.ok()) return -1;
      if (codec == Codec::kNone) {
        if (!have_input) return 0;
        size_t n = in_len - in_pos;
        std::copy_n(in.data() + in_pos, n, out.data());
        in_pos = in_len;
        return static_cast<ssize_t>(n);
      }
      size_t produced = 0;
      if (codec == Codec::kGzip) {
        z.next_in = reinterpret_cast<Bytef*>(in.data() + in_pos);
        z.avail_in = static_cast<uInt>(in_len - in_pos);
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        int rc = inflate(&z, Z_NO_FLUSH);
        in_pos = in_len - z.avail_in;
        if (rc == Z_STREAM_END) {
          stream_done = true;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
          failure = InvalidArgument("the layer blob is not valid gzip");
          return -1;
        }
        produced = out.size() - z.avail_out;
      } else {
        ZSTD_inBuffer ib{in.data() + in_pos, in_len - in_pos, 0};
        ZSTD_outBuffer ob{out.data(), out.size(), 0};
        size_t rc = ZSTD_decompressStream(zstd, &ob, &ib);
        in_pos += ib.pos;
        if (ZSTD_isError(rc)) {
          failure = InvalidArgument(std::string("the layer blob is not valid zstd: ") +
                                    ZSTD_getErrorName(rc));
          return -1;
        }
        if (ib.pos > 0 || ob.pos > 0) frame_complete = rc == 0;  // 0: a frame ended here
        if (!have_input && ob.pos == 0 && frame_complete) stream_done = true;
        produced = ob.pos;
      }
      if (produced > 0) return static_cast<ssize_t>(produced);
      if (!have_input && !stream_done) {
        failure = InvalidArgument("the layer blob ends in the middle of its compressed stream");
        return -1;
      }
    }
    return 0;
  }
};

la_ssize_t OnRead(struct archive*, void* data, const void** buffer) {
  auto* src = static_cast<Source*>(data);
  ssize_t n = src->Produce();
  if (n < 0) return -1;
  src->diff_id.Update(std::string_view(src->out.data(), static_cast<size_t>(n)));
  *buffer = src->out.data();
  return n;
}

// A member name as a safe relative path: no absolute paths, no "..".
Result<std::string> SafeName(std::string_view name) {
  while (name.substr(0, 2) == "./") name.remove_prefix(2);
  while (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (!name.empty() && name.front() == '/') {
    return InvalidArgument("layer entry '" + std::string(name) + "' has an absolute path");
  }
  for (const auto& part : fs::path(name)) {
    if (part == "..")
      return InvalidArgument("layer entry '" + std::string(name) + "' climbs out with '..'");
  }
  return std::string(name);
}

// The directory `rel` beneath `root`, opened without following a symlink at any step, so
// a layer that made `evil -> /etc` cannot have a whiteout or an opaque marker written
// through it. Missing directories are created (0755), as the tar would have.
Result<os::UniqueFd> OpenDirBeneath(int root, const fs::path& rel, const std::string& entry) {
  int dup = ::fcntl(root, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return IoError("duplicate the layer root descriptor");
  os::UniqueFd dir(dup);
  for (const fs::path& part : rel) {
    std::string name = part.string();
    if (name.empty() || name == "." || name == "/") continue;
    int fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return os::ErrnoStatus("create directory for layer entry", entry);
      }
      fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return InvalidArgument("layer entry '" + entry + "' passes through '" + name +
                               "', which is not a directory (a symlink or a file)");
      }
      return os::ErrnoStatus("open directory for layer entry", entry);
    }
    dir = os::UniqueFd(fd);
  }
  return dir;
}

// An OCI opaque marker: the directory it sits in hides the layers below.
Status MarkOpaque(int root, const fs::path& rel) {
  LS_ASSIGN_OR_RETURN(os::UniqueFd dir, OpenDirBeneath(root, rel.parent_path(), rel.string()));
  if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
    return os::ErrnoStatus("mark opaque", rel.parent_path());
  }
  return Status::Ok();
}

// An OCI whiteout `.wh.NAME`: overlayfs's form is a 0:0 character device named NAME.
Status Whiteout(int root, const fs::path& rel, std::string_view hidden) {
  if (hidden.empty() || hidden == "." || hidden == ".." ||
      hidden.find('/') != std::string_view::npos) {
    return InvalidArgument("layer entry '" + rel.string() + "' whites out no name");
  }
  LS_ASSIGN_OR_RETURN(os::UniqueFd dir, OpenDirBeneath(root, rel.parent_path(), rel.string()));
  std::string name(hidden);
  if (::mknodat(dir.get(), name.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
    return os::ErrnoStatus("whiteout", rel.parent_path() / name);
  }
  return Status::Ok();
}

Status ArchiveError(struct archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return InvalidArgument(what + ": " + (msg ? msg : "libarchive error"));
}

Status Extract(Source& src, const fs::path& root) {
  LS_ASSIGN_OR_RETURN(os::UniqueFd root_fd, os::OpenRead(root));
  struct archive* in = archive_read_new();
  struct archive* out = archive_write_disk_new();
  archive_read_support_format_tar(in);
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                          ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  Status s = Status::Ok();
  if (archive_read_open(in, &src, nullptr, OnRead, nullptr) != ARCHIVE_OK)
    s = ArchiveError(in, "open layer");
  struct archive_entry* e = nullptr;
  while (s.ok()) {
    int rc = archive_read_next_header(in, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) {
      s = src.failure.ok() ? ArchiveError(in, "read layer") : src.failure;
      break;
    }
    Result<std::string> name = SafeName(archive_entry_pathname(e));
    if (!name.ok()) {
      s = name.status();
      break;
    }
    fs::path rel(*name);
    std::string base = rel.filename().string();
    // Whiteouts and opaque markers are made here, not by libarchive, so they get the
    // same protection its SECURE_SYMLINKS gives the other entries.
    if (base == kOpaque) {
      s = MarkOpaque(root_fd.get(), rel);
      continue;
    }
    if (base.rfind(kWhiteout, 0) == 0) {
      s = Whiteout(root_fd.get(), rel, std::string_view(base).substr(kWhiteout.size()));
      continue;
    }
    if (name->empty()) continue;  // the root directory itself
    // Device nodes in an image would be devices on the host too (the layer cache lives
    // there); lockstep's own whiteouts are the only ones it makes.
    if (mode_t type = archive_entry_filetype(e); type == AE_IFCHR || type == AE_IFBLK) {
      s = InvalidArgument("layer entry '" + rel.string() +
                          "' is a device node; images may not carry device nodes");
      break;
    }
    // Set-user-ID and set-group-ID bits would let any local user run the file as its
    // owner from the layer cache; in a container they do nothing (no_new_privs).
    archive_entry_set_perm(e, archive_entry_perm(e) & ~static_cast<mode_t>(S_ISUID | S_ISGID));
    archive_entry_set_pathname(e, (root / rel).c_str());
    if (const char* link = archive_entry_hardlink(e)) {
      Result<std::string> target = SafeName(link);
      if (!target.ok()) {
        s = target.status();
        break;
      }
      archive_entry_set_hardlink(e, (root / *target).c_str());
    }
    if (archive_write_header(out, e) != ARCHIVE_OK) {
      s = ArchiveError(out, "layer entry '" + rel.string() + "'");
      break;
    }
    const void* block;
    size_t size;
    la_int64_t offset;
    while ((rc = archive_read_data_block(in, &block, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out, block, size, offset) != ARCHIVE_OK) {
        s = ArchiveError(out, "layer entry '" + rel.string() + "'");
        break;
      }
    }
    if (s.ok() && rc != ARCHIVE_EOF)
      s = src.failure.ok() ? ArchiveError(in, "read layer") : src.failure;
    if (s.ok() && archive_write_finish_entry(out) != ARCHIVE_OK)
      s = ArchiveError(out, "finish " + rel.string());
  }
  if (s.ok()) {
    // Drain whatever follows the tar end marker, so the diff_id covers the whole stream.
    const void* rest;
    while (OnRead(in, &src, &rest) > 0) {
    }
    if (!src.failure.ok()) s = src.failure;
  }
  if (archive_write_close(out) != ARCHIVE_OK && s.ok()) s = ArchiveError(out, "close layer");
  archive_write_free(out);
  archive_read_free(in);
  return s;
}

}  // namespace

Status UnpackLayer(const fs::path& blob, std::string_view media_type,
                   const Digest& expected_diff_id, const fs::path& dest) {
  Source src;
  LS_ASSIGN_OR_RETURN(src.fd, os::OpenRead(blob));
  if (media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") ||
      media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip") {
    src.codec = Codec::kGzip;
    if (inflateInit2(&src.z, 15 + 32) != Z_OK) return Internal("zlib could not be initialised");
  } else if (media_type.ends_with("+zstd")) {
    src.codec = Codec::kZstd;
    src.zstd = ZSTD_createDStream();
  } else if (!media_type.ends_with(".tar") && media_type != image::media::kOciLayerGzip) {
    return InvalidArgument("layer media type '" + std::string(media_type) + "' is not a tar layer");
  }
  if (os::Exists(dest)) return AlreadyExists(dest.string() + " exists already");
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) return IoError("create " + dest.string() + ": " + ec.message());
  fs::path root = fs::canonical(dest, ec);  // no symlink left in the prefix
  Status s = ec ? IoError("resolve " + dest.string() + ": " + ec.message()) : Extract(src, root);
  if (s.ok()) {
    Digest got = src.diff_id.Finish();
    if (got != expected_diff_id) {
      s = FailedPrecondition("layer " + blob.filename().string() + " unpacks to " + got.str() +
                             ", not the diff_id " + expected_diff_id.str() + " its image names");
    }
  }
  if (!s.ok()) (void)os::RemoveTree(dest);
  return s;
}

}  // namespace lockstep::runtime::local
