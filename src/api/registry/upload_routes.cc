// Blob uploads: POST /v2/<name>/blobs/uploads/ (start, monolithic with ?digest=, or
// cross-repository mount with ?mount=&from=) and PATCH / PUT / GET / DELETE on
// /v2/<name>/blobs/uploads/<id>.
#include "api/registry/registry_routes.h"
#include "base/strings.h"
#include "core/names.h"

namespace lockstep::api {

namespace {

http::Response Accepted(std::string_view repo, std::string_view id, uint64_t offset,
                        int status = 202) {
  http::Response r;
  r.status = status;
  r.Set("Location", UploadLocation(repo, id));
  r.Set("Range", UploadRange(offset));
  r.Set("Docker-Upload-UUID", std::string(id));
  return r;
}

http::Response Created(std::string_view repo, const Digest& d) {
  http::Response r;
  r.status = 201;
  r.Set("Location", BlobLocation(repo, d));
  r.Set("Docker-Content-Digest", d.str());
  return r;
}

// A body's bytes are received straight into the upload's write buffer.
class UploadSink final : public http::BodySink {
 public:
  explicit UploadSink(registry::UploadWriter& writer) : writer_(writer) {}
  Result<std::span<char>> Space() override { return writer_.Space(); }
  Status Received(size_t n) override { return writer_.Commit(n); }

 private:
  registry::UploadWriter& writer_;
};

http::Task<Status> StreamBody(http::Exchange& ex, registry::UploadWriter& writer) {
  UploadSink sink(writer);
  co_return co_await ex.ReadBody(sink);
}

// Content-Range "<start>-<end>" (a "bytes " prefix is tolerated) must continue the upload
// exactly where it stands and, with Content-Length, describe the body. Returns the
// number of bytes the chunk must carry, or nothing when the header is absent.
Result<std::optional<uint64_t>> CheckContentRange(const http::Request& req, uint64_t offset,
                                                  uint64_t max_bytes) {
  std::string_view header = req.Header("content-range");
  if (header.empty()) return std::optional<uint64_t>();
  std::string_view spec = StartsWith(header, "bytes ") ? header.substr(6) : header;
  size_t dash = spec.find('-');
  std::optional<uint64_t> first, last;
  if (dash != std::string_view::npos) {
    first = ParseUint(spec.substr(0, dash));
    last = ParseUint(spec.substr(dash + 1));
  }
  if (!first || !last || *last < *first) {
    return OutOfRange("Content-Range '" + std::string(header) + "' is not '<start>-<end>'",
                      "BLOB_UPLOAD_INVALID");
  }
  if (*first != offset) {
    return OutOfRange("chunk starts at byte " + std::to_string(*first) + " but the upload holds " +
                          std::to_string(offset) + " bytes; resume from there",
                      "BLOB_UPLOAD_INVALID");
  }
  // (A range up to 2^64-1 would wrap to a length of 0.)
  if (*last - *first >= max_bytes) {
    return OutOfRange("Content-Range '" + std::string(header) + "' covers more than the " +
                          std::to_string(max_bytes) + " bytes an upload may hold",
                      "BLOB_UPLOAD_INVALID");
  }
  uint64_t length = *last - *first + 1;
  if (req.content_length && *req.content_length != length) {
    return OutOfRange("Content-Range covers " + std::to_string(length) +
                          " bytes but Content-Length is " + std::to_string(*req.content_length),
                      "BLOB_UPLOAD_INVALID");
  }
  return std::optional<uint64_t>(length);
}

http::Response RangeError(const RegistryCall& call, const Status& s, std::string_view id,
                          uint64_t offset) {
  http::Response r = OciError(s, "BLOB_UPLOAD_INVALID");
  r.status = 416;
  r.Set("Location", UploadLocation(call.repo, id));
  r.Set("Range", UploadRange(offset));
  return r;
}

// Receives one PATCH or PUT body into `writer` and says how to answer. The caller
// releases the writer before answering, so a client that sends its next request the
// moment it reads this response never finds the session still held.
http::Task<http::Response> WriteChunk(RegistryCall& call, registry::UploadWriter& writer,
                                      const std::optional<Digest>& finish_as) {
  const std::string& id = call.ref;
  const uint64_t start = writer.offset();
  Result<std::optional<uint64_t>> chunk =
      CheckContentRange(call.req, start, call.registry.options().max_upload_bytes);
  if (!chunk.ok()) co_return RangeError(call, chunk.status(), id, start);
  Status s = co_await StreamBody(call.ex, writer);
  if (!s.ok()) {
    // A body cut short by the network keeps what arrived, so the client can ask where
    // the upload stands and resume from there; nothing is served until a digest matches.
    // A refused body (too large) is rolled back by the writer.
    if (s.code() == Code::kAborted) (void)writer.Keep();
    co_return OciError(s, "BLOB_UPLOAD_INVALID");
  }
  if (*chunk && writer.offset() - start != **chunk) {
    // A chunked body carries no length: the declared range must still have arrived whole.
    Status short_chunk =
        OutOfRange("the body carried " + std::to_string(writer.offset() - start) +
                   " bytes, not the " + std::to_string(**chunk) + " its Content-Range declares");
    co_return RangeError(call, short_chunk, id, start);
  }
  if (!finish_as) {
    Status kept = writer.Keep();
    if (!kept.ok()) co_return OciError(kept, "BLOB_UPLOAD_INVALID");
    co_return Accepted(call.repo, id, writer.offset());
  }
  Result<Digest> done = co_await call.blocking.Run(
      [&] { return call.registry.FinishUpload(call.repo, writer, *finish_as); });
  if (!done.ok()) co_return OciError(done.status(), "BLOB_UPLOAD_INVALID");
  co_return Created(call.repo, *done);
}

}  // namespace

http::Task<void> HandleUploadStart(RegistryCall& call) {
  registry::Registry& registry = call.registry;

  if (auto mount = call.Param("mount")) {
    Result<Digest> d = Digest::Parse(*mount);
    if (!d.ok()) co_return co_await call.Fail(d.status(), "DIGEST_INVALID");
    std::optional<std::string> from = call.Param("from");
    // Mount only what the caller could pull anyway; otherwise fall back to an upload.
    if (from && ValidateRepositoryName(*from).ok() && call.who.Allows(Action::kPull, *from)) {
      Result<bool> mounted =
          co_await call.blocking.Run([&] { return registry.MountBlob(call.repo, *d, *from); });
      if (!mounted.ok()) co_return co_await call.Fail(mounted.status(), "BLOB_UPLOAD_INVALID");
      if (*mounted) co_return co_await call.ex.Send(Created(call.repo, *d));
    }
  }

  std::optional<std::string> digest_param = call.Param("digest");
  std::optional<Digest> digest;
  if (digest_param) {
    Result<Digest> d = Digest::Parse(*digest_param);
    if (!d.ok()) co_return co_await call.Fail(d.status(), "DIGEST_INVALID");
    digest = *d;
  }

  Result<std::string> id = registry.uploads().Start(call.repo);
  if (!id.ok()) co_return co_await call.Fail(id.status(), "BLOB_UPLOAD_INVALID");
  if (!digest) co_return co_await call.ex.Send(Accepted(call.repo, *id, 0));

  // Monolithic upload: the body is the whole blob.
  Result<Digest> done = Internal("upload not finished");
  {
    Result<registry::UploadWriter> writer = registry.uploads().Open(call.repo, *id);
    if (!writer.ok()) co_return co_await call.Fail(writer.status(), "BLOB_UPLOAD_UNKNOWN");
    Status s = co_await StreamBody(call.ex, *writer);
    if (s.ok()) {
      done = co_await call.blocking.Run(
          [&] { return registry.FinishUpload(call.repo, *writer, *digest); });
    } else {
      done = s;
    }
  }
  if (!done.ok()) {
    (void)registry.uploads().Cancel(call.repo, *id);  // nothing of it stays
    co_return co_await call.Fail(done.status(), "BLOB_UPLOAD_INVALID");
  }
  co_await call.ex.Send(Created(call.repo, *done));
}

http::Task<void> HandleUpload(RegistryCall& call) {
  registry::Registry& registry = call.registry;
  const std::string& id = call.ref;
  const std::string& method = call.req.method;

  if (method == "GET") {
    Result<uint64_t> offset = registry.uploads().Offset(call.repo, id);
    if (!offset.ok()) co_return co_await call.Fail(offset.status(), "BLOB_UPLOAD_UNKNOWN");
    co_return co_await call.ex.Send(Accepted(call.repo, id, *offset, 204));
  }
  if (method == "DELETE") {
    Status s = registry.uploads().Cancel(call.repo, id);
    if (!s.ok()) co_return co_await call.Fail(s, "BLOB_UPLOAD_UNKNOWN");
    co_return co_await call.ex.Send(http::Response::Empty(204));
  }

  std::optional<Digest> digest;
  if (method == "PUT") {
    std::optional<std::string> param = call.Param("digest");
    if (!param) {
      co_return co_await call.Fail(InvalidArgument("PUT to finish an upload needs ?digest="),
                                   "DIGEST_INVALID");
    }
    Result<Digest> d = Digest::Parse(*param);
    if (!d.ok()) co_return co_await call.Fail(d.status(), "DIGEST_INVALID");
    digest = *d;
  }

  http::Response response;
  {
    Result<registry::UploadWriter> writer = registry.uploads().Open(call.repo, id);
    if (!writer.ok()) {
      response = OciError(writer.status(), "BLOB_UPLOAD_UNKNOWN");
    } else {
      response = co_await WriteChunk(call, *writer, digest);
    }
  }
  co_await call.ex.Send(std::move(response));
}

}  // namespace lockstep::api
