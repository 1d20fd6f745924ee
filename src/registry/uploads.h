// Blob upload sessions (the POST / PATCH / PUT flow of the distribution spec).
//
// A session is a directory uploads/<id>/ holding the bytes received so far (`data`),
// how many of them requests have kept (`kept`; after a crash the data is cut back to it)
// and the repository it belongs to (`repo`). The running sha256 of the data lives in
// memory, so the digest is verified while the bytes stream in and finishing costs no
// second read; after a restart a session is re-adopted from disk and re-hashed once.
//
// Each request takes exclusive hold of a session through an UploadWriter. A request's
// bytes become part of the session only when it calls Keep() (the upload routes keep a
// whole body, and what arrived of one the network cut); a writer dropped without Keep()
// leaves the session exactly as it was before the request, and so does a crash in the
// middle of a request.
// Nothing in a session is ever served; only Finish() with a matching digest turns it
// into a blob. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "core/digest.h"
#include "os/clock.h"
#include "os/file.h"
#include "os/file_appender.h"
#include "registry/blob_store.h"

namespace lockstep::registry {

class UploadSessions;

class UploadWriter {
 public:
  UploadWriter(UploadWriter&&) noexcept;
  UploadWriter& operator=(UploadWriter&&) = delete;
  ~UploadWriter();

  // Bytes in the session, including those written by this request so far.
  uint64_t offset() const;
  // Appends to the session; kOutOfRange (SIZE_INVALID) past the upload size limit.
  Status Write(std::string_view chunk);
  // Zero-copy form of Write: receive up to Space().size() bytes at Space().data(), then
  // Commit(n) hashes and appends them.
  Result<std::span<char>> Space();
  Status Commit(size_t n);
  // Accepts this request's bytes into the session.
  Status Keep();
  // Verifies the session's content against `expected` and commits it as that blob. The
  // session ends whatever the outcome; a mismatch is DIGEST_INVALID and stores nothing.
  Result<Digest> Finish(const Digest& expected);

 private:
  friend class UploadSessions;
  struct Session;
  UploadWriter(UploadSessions* owner, std::shared_ptr<Session> s, os::FileAppender out);
  void Release();

  UploadSessions* owner_;
  std::shared_ptr<Session> session_;
  os::FileAppender out_;
  uint64_t start_offset_;
  std::optional<Hasher> start_hasher_;
  bool done_ = false;
  char* space_ = nullptr;  // where the last Space() began
};

class UploadSessions {
 public:
  UploadSessions(const Layout& layout, BlobStore* blobs, const os::Clock* clock,
                 uint64_t max_upload_bytes);
  ~UploadSessions();

  // Creates an empty session for `repo` and returns its id.
  Result<std::string> Start(std::string_view repo);
  // Exclusive hold of a session. kNotFound (BLOB_UPLOAD_UNKNOWN) for an unknown id or a
  // session of another repository; kFailedPrecondition while another request holds it.
  Result<UploadWriter> Open(std::string_view repo, std::string_view id);
  // Bytes received so far.
  Result<uint64_t> Offset(std::string_view repo, std::string_view id);
  Status Cancel(std::string_view repo, std::string_view id);
  // Removes sessions idle for longer than `max_idle_seconds`; returns how many.
  size_t ExpireIdle(int64_t max_idle_seconds);

  static bool ValidId(std::string_view id);

 private:
  friend class UploadWriter;
  using Session = UploadWriter::Session;
  Result<std::shared_ptr<Session>> Find(std::string_view repo, std::string_view id);
  void Forget(const std::string& id);

  Layout layout_;
  BlobStore* blobs_;
  const os::Clock* clock_;
  uint64_t max_upload_bytes_;
  std::mutex adopt_mu_;  // held while a session is read back from disk (taken before mu_)
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>, std::less<>> sessions_;
};

}  // namespace lockstep::registry
