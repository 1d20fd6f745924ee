// Appends a stream of bytes to a file without copying it through the page cache.
//
// Registry uploads are written once and read back later (if ever) by sendfile, so
// caching their pages on the way in only costs CPU: measured here, the buffered write of
// a 256 MiB layer cost more CPU than hashing it. The appender therefore writes with
// O_DIRECT: bytes are staged in an aligned buffer and written in whole aligned blocks;
// the final partial block (and everything when the starting offset is unaligned or the
// filesystem refuses O_DIRECT) goes through ordinary buffered writes. Not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "base/status.h"
#include "os/file.h"

namespace lockstep::os {

class FileAppender {
 public:
  // Opens `path` (created if missing) to append from byte `offset` on.
  static Result<FileAppender> Open(const std::filesystem::path& path, uint64_t offset);

  FileAppender(FileAppender&&) noexcept;
  FileAppender& operator=(FileAppender&&) noexcept;
  ~FileAppender();

  Status Append(std::string_view data);
  // Zero-copy form of Append: the caller writes up to Space().size() bytes at
  // Space().data() and then calls Commit with how many it wrote.
  Result<std::span<char>> Space();
  Status Commit(size_t n);
  // Writes everything staged; afterwards the file holds exactly offset + appended bytes.
  Status Flush();
  // Drops what is staged and not yet written (the caller truncates the file itself).
  void Discard() { staged_ = 0; }
  int fd() const { return fd_.get(); }
  bool direct() const { return direct_; }

 private:
  struct AlignedFree {
    void operator()(char* p) const;
  };
  FileAppender(UniqueFd fd, std::filesystem::path path, uint64_t offset, bool direct);
  Status WriteAt(const char* data, size_t n, uint64_t at);
  Status LeaveDirectMode();
  Status AllocateStaging();

  UniqueFd fd_;
  std::filesystem::path path_;
  uint64_t written_;  // bytes of the file that hold data
  bool direct_;
  std::unique_ptr<char[], AlignedFree> staging_;
  size_t staged_ = 0;
};

}  // namespace lockstep::os
