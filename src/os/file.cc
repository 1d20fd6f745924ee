#include "os/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "os/random.h"

namespace lockstep::os {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Status ErrnoStatus(std::string_view what, const fs::path& path) {
  int err = errno;
  std::string msg = std::string(what) + " " + path.string() + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(msg));
  if (err == EEXIST) return AlreadyExists(std::move(msg));
  if (err == ENOSPC || err == EDQUOT)
    return Status(Code::kIo, std::move(msg), std::string(kNoSpace));
  return IoError(std::move(msg));
}

Result<UniqueFd> OpenRead(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path);
  return UniqueFd(fd);
}

Result<UniqueFd> OpenAppend(const fs::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", path);
  return UniqueFd(fd);
}

Result<UniqueFd> CreateTruncated(const fs::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create", path);
  return UniqueFd(fd);
}

Status Truncate(int fd, uint64_t size, const fs::path& path_for_errors) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0)
    return ErrnoStatus("truncate", path_for_errors);
  if (::lseek(fd, static_cast<off_t>(size), SEEK_SET) < 0) {
    return ErrnoStatus("seek", path_for_errors);
  }
  return Status::Ok();
}

Result<uint64_t> FileSize(int fd, const fs::path& path_for_errors) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", path_for_errors);
  return static_cast<uint64_t>(st.st_size);
}

Status HardLink(const fs::path& existing, const fs::path& link) {
  if (::link(existing.c_str(), link.c_str()) == 0) return Status::Ok();
  if (errno == EEXIST) return AlreadyExists(link.string() + " exists");
  return ErrnoStatus("link", link);
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", "fd " + std::to_string(fd));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status Fsync(int fd, const fs::path& path_for_errors) {
  if (::fsync(fd) != 0) return ErrnoStatus("fsync", path_for_errors);
  return Status::Ok();
}

Status FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open directory", dir);
  UniqueFd owned(fd);
  return Fsync(fd, dir);
}

Status ReadChunks(int fd, const fs::path& name, std::span<char> buffer,
                  const std::function<Status(std::string_view chunk)>& each, uint64_t limit) {
  if (buffer.empty()) return Internal("ReadChunks of " + name.string() + " given no buffer");
  uint64_t done = 0;
  while (done < limit) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), limit - done));
    ssize_t n = ::read(fd, buffer.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", name);
    }
    if (n == 0) return Status::Ok();
    done += static_cast<uint64_t>(n);
    LS_RETURN_IF_ERROR(each(std::string_view(buffer.data(), static_cast<size_t>(n))));
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const fs::path& path, uint64_t max_bytes) {
  LS_ASSIGN_OR_RETURN(UniqueFd fd, OpenRead(path));
  std::string out;
  char buf[64 * 1024];
  LS_RETURN_IF_ERROR(ReadChunks(fd.get(), path, buf, [&](std::string_view chunk) -> Status {
    out.append(chunk);
    if (out.size() > max_bytes) {
      return OutOfRange(path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    return Status::Ok();
  }));
  return out;
}

Result<fs::path> WriteTemp(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp-" + TempSuffix());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("create", tmp);
  UniqueFd owned(fd);
  Status s = WriteAll(fd, data);
  if (s.ok()) s = Fsync(fd, tmp);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return tmp;
}

bool IsTempName(std::string_view name) {
  return name.starts_with('.') && name.find(".tmp-") != std::string_view::npos;
}

Status WriteFileAtomic(const fs::path& path, std::string_view data, mode_t mode) {
  LS_ASSIGN_OR_RETURN(fs::path tmp, WriteTemp(path, data, mode));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = ErrnoStatus("rename", path);
    ::unlink(tmp.c_str());
    return s;
  }
  return FsyncDir(path.parent_path());
}

Status CreateFileExclusive(const fs::path& path, std::string_view data, mode_t mode) {
  LS_ASSIGN_OR_RETURN(fs::path tmp, WriteTemp(path, data, mode));
  int rc = ::link(tmp.c_str(), path.c_str());
  Status s = rc == 0 ? Status::Ok() : ErrnoStatus("link", path);
  ::unlink(tmp.c_str());
  LS_RETURN_IF_ERROR(s);
  return FsyncDir(path.parent_path());
}

Status MakeDirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec == std::errc::no_space_on_device || ec.value() == EDQUOT) {
    return Status(Code::kIo, "create directory " + dir.string() + ": " + ec.message(),
                  std::string(kNoSpace));
  }
  if (ec) return IoError("create directory " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

namespace {

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Nobody but root and the user running lockstep may replace `dir`: each directory above
// it is theirs, and open to others' writes only when sticky (as /tmp is, where nobody may
// rename another user's entries).
Status CheckAncestors(const fs::path& dir) {
  fs::path absolute = fs::absolute(dir).lexically_normal();
  for (fs::path p = absolute.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return ErrnoStatus("stat", p);
    bool trusted_owner = st.st_uid == 0 || st.st_uid == ::geteuid();
    bool others_write = (st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0;
    if (!trusted_owner || others_write) {
      return FailedPrecondition(
          dir.string() + " lies in " + p.string() + ", which " +
              (trusted_owner ? "other users can write to (mode " + ModeText(st.st_mode) + ")"
                             : "uid " + std::to_string(st.st_uid) + " owns") +
              ": they could put another directory in its place",
          "keep lockstep's data where only root (or you) can change the directories above it");
    }
    if (p == p.root_path()) break;
  }
  return Status::Ok();
}

}  // namespace

Status MakePrivateDir(const fs::path& dir) {
  if (dir.has_parent_path()) LS_RETURN_IF_ERROR(MakeDirs(dir.parent_path()));
  LS_RETURN_IF_ERROR(CheckAncestors(dir));
  if (::mkdir(dir.c_str(), 0700) == 0) return Status::Ok();
  if (errno != EEXIST) return ErrnoStatus("create", dir);
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return ErrnoStatus("stat", dir);
  if (S_ISLNK(st.st_mode)) {
    return FailedPrecondition(dir.string() + " is a symbolic link",
                              "give lockstep the directory it points to, not the link");
  }
  if (!S_ISDIR(st.st_mode)) {
    return FailedPrecondition(dir.string() + " is not a directory",
                              "give lockstep a directory of its own");
  }
  if (st.st_uid != ::geteuid()) {
    return FailedPrecondition(dir.string() + " is owned by uid " + std::to_string(st.st_uid) +
                                  ", not by the user running lockstep (uid " +
                                  std::to_string(::geteuid()) + ")",
                              "chown " + std::to_string(::geteuid()) + " " + dir.string() +
                                  ", or use a directory of your own");
  }
  if ((st.st_mode & 077) != 0) {
    return FailedPrecondition(
        dir.string() + " is open to other users (mode " + ModeText(st.st_mode) +
            "); it holds blobs, tokens and keys only lockstep may read",
        "chmod 700 " + dir.string() + " (and check what else may have read it)");
  }
  return Status::Ok();
}

Status EnsureFile(const fs::path& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("create", path);
  ::close(fd);
  return Status::Ok();
}

Status RemoveFile(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("remove", path);
  return Status::Ok();
}

Status RemoveTree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return IoError("remove " + path.string() + ": " + ec.message());
  return Status::Ok();
}

bool Exists(const fs::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<uint64_t> FileSize(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path);
  return static_cast<uint64_t>(st.st_size);
}

Result<int64_t> ModifiedTime(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path);
  return static_cast<int64_t>(st.st_mtim.tv_sec);
}

Status Touch(const fs::path& path) {
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) return ErrnoStatus("touch", path);
  return Status::Ok();
}

Result<std::vector<std::string>> ListDir(const fs::path& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return ErrnoStatus("list", dir);
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string TempSuffix() { return std::to_string(::getpid()) + "-" + RandomHex(8); }

}  // namespace lockstep::os
