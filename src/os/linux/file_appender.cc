#include "os/file_appender.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lockstep::os {

namespace {

constexpr size_t kBlock = 4096;               // covers every logical block size in use
constexpr size_t kStagingBytes = 256 * 1024;  // a multiple of kBlock

}  // namespace

void FileAppender::AlignedFree::operator()(char* p) const { std::free(p); }

FileAppender::FileAppender(UniqueFd fd, std::filesystem::path path, uint64_t offset, bool direct)
    : fd_(std::move(fd)), path_(std::move(path)), written_(offset), direct_(direct) {}

FileAppender::FileAppender(FileAppender&&) noexcept = default;
FileAppender& FileAppender::operator=(FileAppender&&) noexcept = default;
FileAppender::~FileAppender() = default;

Result<FileAppender> FileAppender::Open(const std::filesystem::path& path, uint64_t offset) {
  bool direct = offset % kBlock == 0;
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  int fd = direct ? ::open(path.c_str(), flags | O_DIRECT, 0644) : -1;
  if (fd < 0) {  // unaligned start, or a filesystem without O_DIRECT (tmpfs)
    direct = false;
    fd = ::open(path.c_str(), flags, 0644);
  }
  if (fd < 0) return ErrnoStatus("open", path);
  return FileAppender(UniqueFd(fd), path, offset, direct);
}

Status FileAppender::WriteAt(const char* data, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd_.get(), data, n, static_cast<off_t>(at));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path_);
    }
    data += w;
    n -= static_cast<size_t>(w);
    at += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

Status FileAppender::LeaveDirectMode() {
  int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, flags & ~O_DIRECT) != 0) {
    return ErrnoStatus("fcntl", path_);
  }
  direct_ = false;
  return Status::Ok();
}

Status FileAppender::AllocateStaging() {
  if (staging_) return Status::Ok();
  void* p = std::aligned_alloc(kBlock, kStagingBytes);
  if (p == nullptr) return IoError("out of memory for an upload buffer");
  staging_.reset(static_cast<char*>(p));
  return Status::Ok();
}

Status FileAppender::Append(std::string_view data) {
  if (!direct_) {
    LS_RETURN_IF_ERROR(WriteAt(data.data(), data.size(), written_));
    written_ += data.size();
    return Status::Ok();
  }
  while (!data.empty()) {
    LS_ASSIGN_OR_RETURN(std::span<char> space, Space());
    size_t take = std::min(data.size(), space.size());
    std::memcpy(space.data(), data.data(), take);
    data.remove_prefix(take);
    LS_RETURN_IF_ERROR(Commit(take));
  }
  return Status::Ok();
}

Result<std::span<char>> FileAppender::Space() {
  LS_RETURN_IF_ERROR(AllocateStaging());
  return std::span<char>(staging_.get() + staged_, kStagingBytes - staged_);
}

Status FileAppender::Commit(size_t n) {
  if (!direct_) {  // staging is a plain buffer here: write it out at once
    LS_RETURN_IF_ERROR(WriteAt(staging_.get(), n, written_));
    written_ += n;
    return Status::Ok();
  }
  staged_ += n;
  if (staged_ == kStagingBytes) {
    LS_RETURN_IF_ERROR(WriteAt(staging_.get(), staged_, written_));
    written_ += staged_;
    staged_ = 0;
  }
  return Status::Ok();
}

Status FileAppender::Flush() {
  if (staged_ == 0) return Status::Ok();
  size_t aligned = staged_ - staged_ % kBlock;
  if (aligned > 0) {
    LS_RETURN_IF_ERROR(WriteAt(staging_.get(), aligned, written_));
    written_ += aligned;
  }
  size_t tail = staged_ - aligned;
  staged_ = 0;
  if (tail == 0) return Status::Ok();
  // The file now ends off a block boundary: the rest of its life is buffered.
  LS_RETURN_IF_ERROR(LeaveDirectMode());
  LS_RETURN_IF_ERROR(WriteAt(staging_.get() + aligned, tail, written_));
  written_ += tail;
  return Status::Ok();
}

}  // namespace lockstep::os
