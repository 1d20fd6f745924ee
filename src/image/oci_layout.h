// An OCI image layout directory (image-spec "image-layout"): `oci-layout`, `index.json`
// and `blobs/<alg>/<hex>`. Images are named in index.json by the
// org.opencontainers.image.ref.name annotation, as skopeo and umoci do. Writes are
// crash-safe (temporary file + rename). Not thread-safe.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/digest.h"

namespace lockstep::image {

struct LayoutEntry {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::string ref_name;  // empty for an unnamed entry
};

class OciLayout {
 public:
  // Creates the directory (and the layout files) if needed.
  static Result<OciLayout> Create(const std::filesystem::path& dir);
  // Opens an existing layout; kNotFound with a clear message otherwise.
  static Result<OciLayout> Open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path BlobPath(const Digest& d) const;
  bool HasBlob(const Digest& d) const;
  Result<std::string> ReadBlob(const Digest& d, uint64_t max_bytes = 64 << 20) const;
  Result<Digest> PutBlob(std::string_view data);
  // Moves a complete file whose digest is `d` into the layout.
  Status AdoptBlob(const std::filesystem::path& file, const Digest& d);
  // A temporary file name inside the layout, on the same filesystem as the blobs.
  std::filesystem::path TempPath() const;

  Result<std::vector<LayoutEntry>> Entries() const;
  // The entry named `ref_name`; kNotFound lists the names there are.
  Result<LayoutEntry> Resolve(const std::string& ref_name) const;
  // Names `entry` as entry.ref_name, replacing an entry of that name.
  Status SetEntry(const LayoutEntry& entry);

 private:
  explicit OciLayout(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

// Copies the image `name` of `from` (its manifest, config and layers, or an index and
// its children) into `to`, unnamed. Returns its manifest digest.
Result<Digest> CopyBetweenLayouts(const OciLayout& from, const std::string& name, OciLayout& to);

// "oci:DIR:NAME" or "DIR:NAME" → (DIR, NAME); NAME defaults to "latest".
std::pair<std::filesystem::path, std::string> SplitLayoutRef(std::string_view text);

}  // namespace lockstep::image
