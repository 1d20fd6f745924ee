#include "registry/uploads.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/strings.h"
#include "os/random.h"

namespace lockstep::registry {

struct UploadWriter::Session {
  std::string id;
  std::string repo;
  fs::path dir;
  // Guarded by UploadSessions::mu_.
  bool busy = false;
  // Owned by the writer holding `busy`.
  uint64_t offset = 0;
  std::optional<Hasher> hasher;  // sha256 of data[0, offset); empty after a restart
};

namespace {

Status UnknownUpload(std::string_view id) {
  return NotFound("upload " + std::string(id) + " is unknown or has expired",
                  "BLOB_UPLOAD_UNKNOWN");
}

Result<Digest> HashFile(const fs::path& path, DigestAlgorithm algorithm) {
  LS_ASSIGN_OR_RETURN(os::UniqueFd fd, os::OpenRead(path));
  Hasher h(algorithm);
  std::string buf(1 << 20, '\0');
  LS_RETURN_IF_ERROR(os::ReadChunks(fd.get(), path, buf, [&](std::string_view chunk) {
    h.Update(chunk);
    return Status::Ok();
  }));
  return h.Finish();
}

// How many bytes of `data` requests have kept, in `kept`: twenty digits rewritten in place
// by one pwrite, so a kill at any moment leaves the old count or the new. After a restart
// the data is cut back to it: bytes of a request the crash interrupted are not the
// session's (they were never acknowledged).
constexpr const char* kKept = "kept";

Status WriteKept(const fs::path& dir, uint64_t offset) {
  fs::path path = dir / kKept;
  os::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return os::ErrnoStatus("open", path);
  char digits[21];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(offset));
  ssize_t n = ::pwrite(fd.get(), digits, 20, 0);
  if (n != 20)
    return n < 0 ? os::ErrnoStatus("write", path) : Internal("short write " + path.string());
  return Status::Ok();
}

// nullopt for a session written before `kept` existed.
std::optional<uint64_t> ReadKept(const fs::path& dir) {
  Result<std::string> text = os::ReadFile(dir / kKept, 64);
  if (!text.ok()) return std::nullopt;
  return ParseUint(*text);
}

}  // namespace

UploadWriter::UploadWriter(UploadSessions* owner, std::shared_ptr<Session> s, os::FileAppender out)
    : owner_(owner),
      session_(std::move(s)),
      out_(std::move(out)),
      start_offset_(session_->offset),
      start_hasher_(session_->hasher) {}

UploadWriter::UploadWriter(UploadWriter&& o) noexcept
    : owner_(o.owner_),
      session_(std::move(o.session_)),
      out_(std::move(o.out_)),
      start_offset_(o.start_offset_),
      start_hasher_(std::move(o.start_hasher_)),
      done_(o.done_) {
  o.done_ = true;
}

UploadWriter::~UploadWriter() {
  if (done_ || !session_) return;
  // Not kept: put the session back as it was before this request.
  out_.Discard();
  if (::ftruncate(out_.fd(), static_cast<off_t>(start_offset_)) != 0) {
    session_->hasher.reset();  // re-hash from disk at finish
  } else {
    session_->hasher = std::move(start_hasher_);
  }
  session_->offset = start_offset_;
  Release();
}

void UploadWriter::Release() {
  std::lock_guard lock(owner_->mu_);
  session_->busy = false;
}

uint64_t UploadWriter::offset() const { return session_->offset; }

Status UploadWriter::Write(std::string_view chunk) {
  while (!chunk.empty()) {
    LS_ASSIGN_OR_RETURN(std::span<char> space, Space());
    size_t take = std::min(chunk.size(), space.size());
    std::copy_n(chunk.data(), take, space.data());
    chunk.remove_prefix(take);
    LS_RETURN_IF_ERROR(Commit(take));
  }
  return Status::Ok();
}

Result<std::span<char>> UploadWriter::Space() {
  LS_ASSIGN_OR_RETURN(std::span<char> space, out_.Space());
  space_ = space.data();
  return space;
}

Status UploadWriter::Commit(size_t n) {
  if (session_->offset + n > owner_->max_upload_bytes_) {
    return OutOfRange(
        "upload exceeds the limit of " + std::to_string(owner_->max_upload_bytes_) + " bytes",
        "SIZE_INVALID");
  }
  if (session_->hasher) session_->hasher->Update(std::string_view(space_, n));
  LS_RETURN_IF_ERROR(out_.Commit(n));
  session_->offset += n;
  return Status::Ok();
}

Status UploadWriter::Keep() {
  if (Status s = out_.Flush(); !s.ok()) return s;  // not kept: the destructor rolls back
  if (Status s = WriteKept(session_->dir, session_->offset); !s.ok()) return s;
  done_ = true;
  start_offset_ = session_->offset;
  Release();
  // Touch the data so an active session is never expired.
  return os::Touch(session_->dir / "data");
}

Result<Digest> UploadWriter::Finish(const Digest& expected) {
  done_ = true;
  fs::path data = session_->dir / "data";
  Status flushed = out_.Flush();
  if (!flushed.ok()) {
    (void)os::RemoveTree(session_->dir);
    owner_->Forget(session_->id);
    return flushed;
  }
  Result<Digest> actual = Internal("unset");
  if (session_->hasher && session_->hasher->algorithm() == expected.algorithm()) {
    actual = session_->hasher->Finish();
  } else {
    actual = HashFile(data, expected.algorithm());
  }
  Status s = actual.ok() ? os::Fsync(out_.fd(), data) : actual.status();
  if (s.ok() && *actual != expected) {
    s = InvalidArgument("uploaded content has digest " + actual->str() + ", not " + expected.str(),
                        "DIGEST_INVALID");
  }
  if (s.ok()) s = owner_->blobs_->Commit(data, expected);
  (void)os::RemoveTree(session_->dir);
  owner_->Forget(session_->id);
  LS_RETURN_IF_ERROR(s);
  return expected;
}

UploadSessions::UploadSessions(const Layout& layout, BlobStore* blobs, const os::Clock* clock,
                               uint64_t max_upload_bytes)
    : layout_(layout), blobs_(blobs), clock_(clock), max_upload_bytes_(max_upload_bytes) {}

UploadSessions::~UploadSessions() = default;

bool UploadSessions::ValidId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> UploadSessions::Start(std::string_view repo) {
  auto s = std::make_shared<Session>();
  s->id = os::RandomHex(16);
  s->repo = std::string(repo);
  s->dir = layout_.UploadDir(s->id);
  s->hasher.emplace(DigestAlgorithm::kSha256);
  LS_RETURN_IF_ERROR(os::MakeDirs(s->dir));
  LS_RETURN_IF_ERROR(os::WriteFileAtomic(s->dir / "repo", repo));
  LS_ASSIGN_OR_RETURN(os::UniqueFd fd, os::OpenAppend(s->dir / "data"));
  LS_RETURN_IF_ERROR(WriteKept(s->dir, 0));
  std::lock_guard lock(mu_);
  sessions_.emplace(s->id, s);
  return s->id;
}

Result<std::shared_ptr<UploadWriter::Session>> UploadSessions::Find(std::string_view repo,
                                                                    std::string_view id) {
  if (!ValidId(id)) return UnknownUpload(id);
  auto in_memory = [&]() -> std::optional<Result<std::shared_ptr<Session>>> {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return std::nullopt;
    if (it->second->repo != repo) return Result<std::shared_ptr<Session>>(UnknownUpload(id));
    return Result<std::shared_ptr<Session>>(it->second);
  };
  if (auto found = in_memory()) return *found;
  // Not in memory: a session from before a restart? One adoption at a time, and only of a
  // session still not adopted: a second request adopting it too would cut it back to `kept`
  // while the first was already writing to it.
  std::lock_guard adopting(adopt_mu_);
  if (auto found = in_memory()) return *found;
  fs::path dir = layout_.UploadDir(id);
  Result<std::string> owner = os::ReadFile(dir / "repo", 1024);
  if (!owner.ok() || *owner != repo) return UnknownUpload(id);
  LS_ASSIGN_OR_RETURN(uint64_t size, os::FileSize(dir / "data"));
  uint64_t kept = std::min(ReadKept(dir).value_or(size), size);
  if (kept < size && ::truncate((dir / "data").c_str(), static_cast<off_t>(kept)) != 0) {
    return os::ErrnoStatus("truncate", dir / "data");
  }
  auto s = std::make_shared<Session>();
  s->id = std::string(id);
  s->repo = std::string(repo);
  s->dir = dir;
  s->offset = kept;
  std::lock_guard lock(mu_);
  auto [it, inserted] = sessions_.emplace(s->id, s);
  return it->second;
}

Result<UploadWriter> UploadSessions::Open(std::string_view repo, std::string_view id) {
  LS_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, Find(repo, id));
  {
    std::lock_guard lock(mu_);
    if (s->busy) {
      return FailedPrecondition(
          "upload " + std::string(id) + " is being written by another request",
          "BLOB_UPLOAD_INVALID");
    }
    s->busy = true;
  }
  Result<os::FileAppender> out = os::FileAppender::Open(s->dir / "data", s->offset);
  if (!out.ok()) {
    std::lock_guard lock(mu_);
    s->busy = false;
    sessions_.erase(s->id);
    return UnknownUpload(id);  // expired underneath us
  }
  return UploadWriter(this, std::move(s), std::move(out).value());
}

Result<uint64_t> UploadSessions::Offset(std::string_view repo, std::string_view id) {
  LS_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, Find(repo, id));
  std::lock_guard lock(mu_);
  return s->offset;
}

Status UploadSessions::Cancel(std::string_view repo, std::string_view id) {
  LS_ASSIGN_OR_RETURN(UploadWriter w, Open(repo, id));
  w.done_ = true;
  Status s = os::RemoveTree(w.session_->dir);
  Forget(w.session_->id);
  return s;
}

void UploadSessions::Forget(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

size_t UploadSessions::ExpireIdle(int64_t max_idle_seconds) {
  Result<std::vector<std::string>> ids = os::ListDir(layout_.uploads());
  if (!ids.ok()) return 0;
  int64_t cutoff = clock_->NowSeconds() - max_idle_seconds;
  size_t removed = 0;
  for (const std::string& id : *ids) {
    fs::path path = layout_.UploadDir(id);
    fs::path stamp = ValidId(id) ? path / "data" : path;  // stray temporaries too
    Result<int64_t> mtime = os::ModifiedTime(stamp);
    if (!mtime.ok()) mtime = os::ModifiedTime(path);  // a session still being created
    if (!mtime.ok() || *mtime >= cutoff) continue;
    // No request adopts the session from disk between its leaving the map and its removal
    // (it would be answered for bytes about to go).
    std::lock_guard adopting(adopt_mu_);
    {
      std::lock_guard lock(mu_);
      auto it = sessions_.find(id);
      if (it != sessions_.end()) {
        if (it->second->busy) continue;
        sessions_.erase(it);
      }
    }
    if (os::RemoveTree(path).ok()) ++removed;
  }
  return removed;
}

}  // namespace lockstep::registry
