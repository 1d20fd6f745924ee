// Filesystem access for every layer above: owned descriptors, crash-safe writes and
// directory listing. All functions are thread-safe (they share no state) and report
// failures as Status values naming the path and the OS error.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep::os {

namespace fs = std::filesystem;

// Owns a file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Status for a failed system call: "open /x/y: No such file or directory". Uses errno.
// A full disk or quota (ENOSPC, EDQUOT) is kIo with the reason kNoSpace (what to do), so
// callers can tell it from other failures.
Status ErrnoStatus(std::string_view what, const fs::path& path);
inline constexpr std::string_view kNoSpace = "the disk is full: free space on it and retry";

Result<UniqueFd> OpenRead(const fs::path& path);
// Opens for appending writes, creating with mode 0644 when missing.
Result<UniqueFd> OpenAppend(const fs::path& path);
// Opens for writing from the start, creating (mode 0644) or emptying it.
Result<UniqueFd> CreateTruncated(const fs::path& path);
// Cuts the open file to `size` bytes and moves its offset there.
Status Truncate(int fd, uint64_t size, const fs::path& path_for_errors);
// The size of the open file.
Result<uint64_t> FileSize(int fd, const fs::path& path_for_errors);
// Makes `link` a second name of `existing`; kAlreadyExists when `link` exists.
Status HardLink(const fs::path& existing, const fs::path& link);

// Writes all of data at the descriptor's current position (retries short writes).
Status WriteAll(int fd, std::string_view data);
Status Fsync(int fd, const fs::path& path_for_errors);
Status FsyncDir(const fs::path& dir);

Result<std::string> ReadFile(const fs::path& path, uint64_t max_bytes = 64 << 20);

// The one read loop: reads `fd` to its end, or `limit` bytes, through `buffer`, handing
// each chunk to `each` (whose error stops the read and is returned). `name` is for error
// messages.
Status ReadChunks(int fd, const fs::path& name, std::span<char> buffer,
                  const std::function<Status(std::string_view chunk)>& each,
                  uint64_t limit = UINT64_MAX);

// Writes data to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the directory: after a crash `path` holds either the old or the new content.
Status WriteFileAtomic(const fs::path& path, std::string_view data, mode_t mode = 0644);

// The first half of WriteFileAtomic: a fsynced temporary file beside `path` holding
// `data`, named ".<name>.tmp-<pid>-<random>" (see IsTempName), for a caller that renames
// several into place together.
Result<fs::path> WriteTemp(const fs::path& path, std::string_view data, mode_t mode = 0644);
// Whether a directory entry is one of WriteTemp's temporaries. No registry name (tag,
// digest, repository) starts with '.', so a temporary never reads as one.
bool IsTempName(std::string_view name);

// Creates `path` with `data` only if no file of that name exists, atomically (via
// link(2) of a fsynced temporary file). Returns kAlreadyExists when one does.
Status CreateFileExclusive(const fs::path& path, std::string_view data, mode_t mode = 0644);

Status MakeDirs(const fs::path& dir);
// Creates `dir` (its parents as MakeDirs does) readable only by its owner (0700). An
// existing `dir` must already be private: kFailedPrecondition, saying how to fix it, when
// it is a symlink or no directory, is owned by another user than the one running
// lockstep, or grants other users any access (group or world bits); and for any `dir`
// when a directory above it is owned by another user than root or lockstep's, or is
// writable by others without being sticky (they could swap `dir` for one of theirs). It is never
// loosened or tightened here: a directory someone opened up may already have leaked, and that is
// theirs to decide.
Status MakePrivateDir(const fs::path& dir);
// Creates an empty `path` with `mode` unless it exists (of any mode); never follows a
// symlink at `path`.
Status EnsureFile(const fs::path& path, mode_t mode);
// Removes a file; a missing file is not an error.
Status RemoveFile(const fs::path& path);
Status RemoveTree(const fs::path& path);
bool Exists(const fs::path& path);
Result<uint64_t> FileSize(const fs::path& path);
// Seconds since the epoch of the last modification.
Result<int64_t> ModifiedTime(const fs::path& path);
// Sets the modification time to now.
Status Touch(const fs::path& path);

// Names in `dir`, sorted; an absent directory lists as empty.
Result<std::vector<std::string>> ListDir(const fs::path& dir);

// A unique suffix for temporary files: pid + random.
std::string TempSuffix();

}  // namespace lockstep::os
