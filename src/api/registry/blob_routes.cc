// GET / HEAD / DELETE /v2/<name>/blobs/<digest>
#include "api/registry/registry_routes.h"
#include "base/strings.h"

namespace lockstep::api {

namespace {

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};

// One range of "bytes=a-b", "bytes=a-" or "bytes=-n" within a blob of `size` bytes.
Result<ByteRange> ParseRange(std::string_view header, uint64_t size) {
  auto bad = [&] {
    return OutOfRange("range '" + std::string(header) + "' is not satisfiable for " +
                          std::to_string(size) + " bytes",
                      "RANGE_INVALID");
  };
  if (!StartsWith(header, "bytes=") || header.find(',') != std::string_view::npos) return bad();
  std::string_view spec = header.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return bad();
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {  // suffix: the last n bytes
    std::optional<uint64_t> n = ParseUint(b);
    if (!n || *n == 0 || size == 0) return bad();
    uint64_t len = std::min(*n, size);
    return ByteRange{size - len, len};
  }
  std::optional<uint64_t> first = ParseUint(a);
  if (!first || *first >= size) return bad();
  uint64_t last = size - 1;
  if (!b.empty()) {
    std::optional<uint64_t> l = ParseUint(b);
    if (!l || *l < *first) return bad();
    last = std::min(*l, size - 1);
  }
  return ByteRange{*first, last - *first + 1};
}

}  // namespace

http::Task<void> HandleBlob(RegistryCall& call) {
  Result<Digest> digest = Digest::Parse(call.ref);
  if (!digest.ok()) co_return co_await call.Fail(digest.status(), "DIGEST_INVALID");
  const std::string& method = call.req.method;

  if (method == "DELETE") {
    Status s = co_await call.blocking.Run([&] {
      Status deleted = call.registry.DeleteBlob(call.repo, *digest);
      if (deleted.ok()) call.Audited("delete blob", call.repo + "@" + digest->str());
      return deleted;
    });
    if (!s.ok()) co_return co_await call.FailDelete(s, "BLOB_UNKNOWN");
    co_return co_await call.ex.Send(http::Response::Empty(202));
  }

  Result<uint64_t> size = call.registry.StatBlob(call.repo, *digest);
  if (!size.ok()) co_return co_await call.Fail(size.status(), "BLOB_UNKNOWN");
  http::Response r;
  r.Set("Content-Type", "application/octet-stream");
  r.Set("Docker-Content-Digest", digest->str());
  r.Set("Accept-Ranges", "bytes");
  r.Set("ETag", "\"" + digest->str() + "\"");

  if (method == "HEAD") {
    call.registry.NoteBlobWanted(*digest);
    r.head_length = *size;
    co_return co_await call.ex.Send(std::move(r));
  }

  ByteRange range{0, *size};
  if (std::string_view header = call.req.Header("range"); !header.empty()) {
    Result<ByteRange> parsed = ParseRange(header, *size);
    if (!parsed.ok()) {
      http::Response err = OciError(parsed.status(), "RANGE_INVALID");
      err.Set("Content-Range", "bytes */" + std::to_string(*size));
      co_return co_await call.ex.Send(std::move(err));
    }
    range = *parsed;
    r.status = 206;
    r.Set("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                               std::to_string(range.first + range.length - 1) + "/" +
                               std::to_string(*size));
  }
  Result<os::UniqueFd> fd = call.registry.OpenBlob(call.repo, *digest);
  if (!fd.ok()) co_return co_await call.Fail(fd.status(), "BLOB_UNKNOWN");
  co_await call.ex.SendFile(std::move(r), fd->get(), range.first, range.length);
}

}  // namespace lockstep::api
