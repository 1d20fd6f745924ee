#include "registry/blob_store.h"

#include <unistd.h>

#include <cerrno>

namespace lockstep::registry {

bool BlobStore::Has(const Digest& d) const { return os::Exists(layout_.BlobPath(d)); }

Result<uint64_t> BlobStore::Size(const Digest& d) const {
  Result<uint64_t> size = os::FileSize(layout_.BlobPath(d));
  if (!size.ok() && size.status().code() == Code::kNotFound) {
    return NotFound("blob " + d.str() + " is not stored", "BLOB_UNKNOWN");
  }
  return size;
}

Result<os::UniqueFd> BlobStore::Open(const Digest& d) const {
  Result<os::UniqueFd> fd = os::OpenRead(layout_.BlobPath(d));
  if (!fd.ok() && fd.status().code() == Code::kNotFound) {
    return NotFound("blob " + d.str() + " is not stored", "BLOB_UNKNOWN");
  }
  return fd;
}

Result<std::string> BlobStore::ReadSmall(const Digest& d, uint64_t max_bytes) const {
  Result<std::string> data = os::ReadFile(layout_.BlobPath(d), max_bytes);
  if (!data.ok() && data.status().code() == Code::kNotFound) {
    return NotFound("blob " + d.str() + " is not stored", "BLOB_UNKNOWN");
  }
  return data;
}

Status BlobStore::Commit(const fs::path& temp, const Digest& d) {
  fs::path final_path = layout_.BlobPath(d);
  Status s = os::MakeDirs(final_path.parent_path());
  if (s.ok()) {
    s = os::HardLink(temp, final_path);
    if (s.code() == Code::kAlreadyExists) s = Status::Ok();
  }
  (void)os::RemoveFile(temp);
  LS_RETURN_IF_ERROR(s);
  // A concurrent writer of the same digest may have won: its file is identical. Either
  // way the blob is visible now; make the directory entry durable.
  return os::FsyncDir(final_path.parent_path());
}

Result<Digest> BlobStore::Put(std::string_view data, DigestAlgorithm algorithm) {
  Digest d = DigestOf(data, algorithm);
  if (Has(d)) {
    (void)os::Touch(layout_.BlobPath(d));  // a fresh reference: keep it out of GC's reach
    return d;
  }
  LS_RETURN_IF_ERROR(os::MakeDirs(layout_.uploads()));
  fs::path temp = layout_.uploads() / ("put-" + os::TempSuffix());
  {
    LS_ASSIGN_OR_RETURN(os::UniqueFd fd, os::OpenAppend(temp));
    Status s = os::WriteAll(fd.get(), data);
    if (s.ok()) s = os::Fsync(fd.get(), temp);
    if (!s.ok()) {
      (void)os::RemoveFile(temp);
      return s;
    }
  }
  LS_RETURN_IF_ERROR(Commit(temp, d));
  return d;
}

Result<std::vector<Digest>> BlobStore::List() const {
  std::vector<Digest> out;
  for (auto [name, alg] : {std::pair{"sha256", DigestAlgorithm::kSha256},
                           std::pair{"sha512", DigestAlgorithm::kSha512}}) {
    fs::path dir = layout_.blobs() / name;
    LS_ASSIGN_OR_RETURN(auto prefixes, os::ListDir(dir));
    for (const auto& prefix : prefixes) {
      LS_ASSIGN_OR_RETURN(auto hexes, os::ListDir(dir / prefix));
      for (const auto& hex : hexes) {
        Result<Digest> d = Digest::Parse(std::string(name) + ":" + hex);
        if (d.ok()) out.push_back(*d);
      }
    }
  }
  return out;
}

Status BlobStore::Remove(const Digest& d) { return os::RemoveFile(layout_.BlobPath(d)); }

}  // namespace lockstep::registry
