// Blob uploads: one PATCH or chunks, resumed from where the registry says the upload
// stands after a failure, and a lost session started over.
#include "base/strings.h"
#include "client/registry_client.h"
#include "os/file.h"

namespace lockstep::client {

Result<uint64_t> RegistryClient::UploadedSoFar(const std::string& location,
                                               const std::string& repo) {
  HttpRequest r{.method = "GET", .url = location};
  LS_ASSIGN_OR_RETURN(HttpResponse response, Send(r, repo, "pull,push", true));
  if (response.status != 204 && response.status != 202)
    return ErrorFrom(response, "the upload status");
  std::string range = response.Header("range");
  size_t dash = range.find('-');
  if (dash == std::string::npos) return uint64_t{0};
  // "0-N" holds N+1 bytes; registries also answer "0-0" for an empty upload, so that
  // one is read as nothing (at worst one byte is sent again and refused, and the upload
  // starts over).
  std::optional<uint64_t> last = ParseUint(range.substr(dash + 1));
  if (!last || *last == 0) return uint64_t{0};
  return *last + 1;
}

Result<bool> RegistryClient::UploadBlob(const std::string& repo, const Digest& d,
                                        const std::filesystem::path& path) {
  LS_ASSIGN_OR_RETURN(std::optional<uint64_t> present, StatBlob(repo, d));
  if (present) return false;
  LS_ASSIGN_OR_RETURN(os::UniqueFd fd, os::OpenRead(path));
  LS_ASSIGN_OR_RETURN(const uint64_t size, os::FileSize(fd.get(), path));

  Retries retries(options_.retry);
  std::string location;
  uint64_t offset = 0;
  auto fail = [&](const Status& why) -> Status {
    if (!retries.Again())
      return why.WithContext("upload of " + d.str() + " to " + registry_ + "/" + repo);
    return Status::Ok();
  };
  while (true) {
    if (location.empty()) {
      HttpRequest start{
          .method = "POST", .url = Url("/v2/" + repo + "/blobs/uploads/"), .send_body = true};
      LS_ASSIGN_OR_RETURN(HttpResponse r, Send(start, repo, "pull,push", true));
      if (r.status != 202) return ErrorFrom(r, "an upload to " + repo);
      location = ResolveUrl(Url("/"), r.Header("location"));
      offset = 0;
    }
    if (offset < size) {
      uint64_t length =
          options_.chunk_size ? std::min(options_.chunk_size, size - offset) : size - offset;
      HttpRequest patch{.method = "PATCH",
                        .url = location,
                        .headers = {"Content-Type: application/octet-stream"},
                        .body_fd = fd.get(),
                        .body_offset = offset,
                        .body_length = length,
                        .send_body = true};
      if (options_.chunk_size || offset > 0) {
        patch.headers.push_back("Content-Range: " + std::to_string(offset) + "-" +
                                std::to_string(offset + length - 1));
      }
      if (options_.progress) {
        uint64_t base = offset;
        patch.on_progress = [&, base](uint64_t done, uint64_t) {
          options_.progress(d.str(), base + done, size);
        };
      }
      Result<HttpResponse> r = Send(patch, repo, "pull,push", false);
      if (r.ok() && r->status == 202) {
        offset += length;
        if (std::string next = r->Header("location"); !next.empty())
          location = ResolveUrl(location, next);
        continue;
      }
      Status why = r.ok() ? ErrorFrom(*r, "a chunk of " + d.str()) : r.status();
      if (r.ok() && r->status < 500 && r->status != 416 && r->status != 429) return why;
      LS_RETURN_IF_ERROR(fail(why));
      // Resume where the registry says the upload stands; a lost session starts over.
      Result<uint64_t> have = r.ok() && r->status == 416
                                  ? Result<uint64_t>(OutOfRange("start over"))
                                  : UploadedSoFar(location, repo);
      if (have.ok() && *have <= size) {
        offset = *have;
      } else {
        location.clear();
      }
      continue;
    }
    std::string finish =
        location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + d.str();
    Result<HttpResponse> r = Send(HttpRequest{.method = "PUT", .url = finish, .send_body = true},
                                  repo, "pull,push", false);
    if (r.ok() && r->status == 201) return true;
    Status why = r.ok() ? ErrorFrom(*r, "the end of the upload of " + d.str()) : r.status();
    if (r.ok() && r->status < 500) return why;
    LS_RETURN_IF_ERROR(fail(why));
    // The PUT may have landed before the connection broke.
    LS_ASSIGN_OR_RETURN(std::optional<uint64_t> landed, StatBlob(repo, d));
    if (landed) return true;
    location.clear();
  }
}

}  // namespace lockstep::client
