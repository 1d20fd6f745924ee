// Blob downloads: streamed to DEST.part, resumed with Range after a lost connection, and
// renamed into place only when every byte hashes to the digest.
#include "client/registry_client.h"
#include "os/file.h"

namespace lockstep::client {

Status RegistryClient::DownloadBlob(const std::string& repo, const Digest& d,
                                    const std::filesystem::path& dest) {
  std::filesystem::path part = dest;
  part += ".part";
  LS_ASSIGN_OR_RETURN(os::UniqueFd fd, os::CreateTruncated(part));
  Hasher hasher(d.algorithm());
  uint64_t have = 0;
  Retries retries(options_.retry);
  while (true) {
    HttpRequest r{.method = "GET", .url = Url("/v2/" + repo + "/blobs/" + d.str())};
    if (have > 0) r.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
    bool fresh = true;
    r.on_data = [&](long status, std::string_view bytes) -> Status {
      if (fresh && have > 0 && status == 200) {  // the range was ignored: start again
        LS_RETURN_IF_ERROR(os::Truncate(fd.get(), 0, part));
        hasher = Hasher(d.algorithm());
        have = 0;
      }
      fresh = false;
      LS_RETURN_IF_ERROR(os::WriteAll(fd.get(), bytes));
      hasher.Update(bytes);
      have += bytes.size();
      return Status::Ok();
    };
    if (options_.progress)
      r.on_progress = [&](uint64_t, uint64_t) { options_.progress(d.str(), have, 0); };
    Result<HttpResponse> response = Send(r, repo, "pull", false);
    if (response.ok() && (response->status == 200 || response->status == 206)) break;
    if (!IsTransient(response) || !retries.Again()) {
      (void)os::RemoveFile(part);
      return response.ok() ? ErrorFrom(*response, "blob " + d.str()) : response.status();
    }
  }
  Digest got = hasher.Finish();
  if (got != d) {
    (void)os::RemoveFile(part);
    return FailedPrecondition("blob " + d.str() + " from " + registry_ + "/" + repo +
                              " does not match its digest (the bytes hash to " + got.str() +
                              "); refused");
  }
  LS_RETURN_IF_ERROR(os::Fsync(fd.get(), part));
  std::error_code ec;
  std::filesystem::rename(part, dest, ec);
  if (ec) return IoError("rename " + part.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace lockstep::client
