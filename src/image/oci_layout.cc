#include "image/oci_layout.h"

#include <boost/json.hpp>
#include <set>

#include "base/strings.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "os/file.h"

namespace lockstep::image {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";

}  // namespace

Result<OciLayout> OciLayout::Create(const fs::path& dir) {
  LS_RETURN_IF_ERROR(os::MakeDirs(dir / "blobs" / "sha256"));
  if (!os::Exists(dir / "oci-layout")) {
    LS_RETURN_IF_ERROR(
        os::WriteFileAtomic(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  }
  if (!os::Exists(dir / "index.json")) {
    LS_RETURN_IF_ERROR(os::WriteFileAtomic(
        dir / "index.json",
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})"));
  }
  return OciLayout(dir);
}

Result<OciLayout> OciLayout::Open(const fs::path& dir) {
  if (!os::Exists(dir / "oci-layout") || !os::Exists(dir / "index.json")) {
    return NotFound(dir.string() + " is not an OCI image layout (no oci-layout or index.json)");
  }
  return OciLayout(dir);
}

fs::path OciLayout::BlobPath(const Digest& d) const {
  return dir_ / "blobs" / std::string(d.algorithm_name()) / d.hex();
}

bool OciLayout::HasBlob(const Digest& d) const { return os::Exists(BlobPath(d)); }

Result<std::string> OciLayout::ReadBlob(const Digest& d, uint64_t max_bytes) const {
  Result<std::string> data = os::ReadFile(BlobPath(d), max_bytes);
  if (!data.ok()) return data.status().WithContext("layout " + dir_.string());
  if (DigestOf(*data, d.algorithm()) != d) {
    return FailedPrecondition("blob " + d.str() + " in " + dir_.string() +
                              " does not match its digest");
  }
  return data;
}

Result<Digest> OciLayout::PutBlob(std::string_view data) {
  Digest d = DigestOf(data);
  if (HasBlob(d)) return d;
  LS_RETURN_IF_ERROR(os::MakeDirs(BlobPath(d).parent_path()));
  LS_RETURN_IF_ERROR(os::WriteFileAtomic(BlobPath(d), data));
  return d;
}

Status OciLayout::AdoptBlob(const fs::path& file, const Digest& d) {
  fs::path target = BlobPath(d);
  LS_RETURN_IF_ERROR(os::MakeDirs(target.parent_path()));
  std::error_code ec;
  fs::rename(file, target, ec);
  if (ec) return IoError("move " + file.string() + " to " + target.string() + ": " + ec.message());
  return Status::Ok();
}

fs::path OciLayout::TempPath() const { return dir_ / ("tmp-" + os::TempSuffix()); }

Result<std::vector<LayoutEntry>> OciLayout::Entries() const {
  fs::path file = dir_ / "index.json";
  LS_ASSIGN_OR_RETURN(std::string text, os::ReadFile(file));
  Result<lockstep::json::Document> doc = lockstep::json::Document::Parse(text, file.string());
  if (!doc.ok()) return doc.status();
  Result<lockstep::json::ObjectView> root = lockstep::json::ObjectView::Of(*doc, "");
  Result<lockstep::json::ArrayView> list =
      root.ok() ? root->Array("manifests") : Result<lockstep::json::ArrayView>(root.status());
  if (!list.ok()) return InvalidArgument(file.string() + " is not an image index");
  // Entries another tool wrote that lockstep cannot read are left alone, not refused: the
  // layout may hold images lockstep has no business with.
  std::vector<LayoutEntry> out;
  for (size_t i = 0; i < list->size(); ++i) {
    Result<lockstep::json::ObjectView> entry = list->ObjectAt(i);
    Result<Descriptor> d =
        entry.ok() ? ParseDescriptor(*entry) : Result<Descriptor>(entry.status());
    if (!d.ok()) continue;
    auto name = d->annotations.find(std::string(kRefName));
    out.push_back({d->media_type, d->digest, d->size,
                   name == d->annotations.end() ? std::string() : name->second});
  }
  return out;
}

Result<LayoutEntry> OciLayout::Resolve(const std::string& ref_name) const {
  LS_ASSIGN_OR_RETURN(std::vector<LayoutEntry> entries, Entries());
  std::string names;
  for (const LayoutEntry& e : entries) {
    if (e.ref_name == ref_name) return e;
    if (!e.ref_name.empty()) names += (names.empty() ? "" : ", ") + e.ref_name;
  }
  return NotFound("no image named '" + ref_name + "' in layout " + dir_.string() +
                  (names.empty() ? " (it is empty)" : " (it has: " + names + ")"));
}

Status OciLayout::SetEntry(const LayoutEntry& entry) {
  LS_ASSIGN_OR_RETURN(std::vector<LayoutEntry> entries, Entries());
  json::array manifests;
  for (const LayoutEntry& e : entries) {
    if (!entry.ref_name.empty() && e.ref_name == entry.ref_name) continue;
    json::object m{{"mediaType", e.media_type}, {"digest", e.digest.str()}, {"size", e.size}};
    if (!e.ref_name.empty()) m["annotations"] = json::object{{kRefName, e.ref_name}};
    manifests.push_back(std::move(m));
  }
  json::object m{
      {"mediaType", entry.media_type}, {"digest", entry.digest.str()}, {"size", entry.size}};
  if (!entry.ref_name.empty()) m["annotations"] = json::object{{kRefName, entry.ref_name}};
  manifests.push_back(std::move(m));
  json::object index{{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.index.v1+json"},
                     {"manifests", std::move(manifests)}};
  return os::WriteFileAtomic(dir_ / "index.json", json::serialize(index));
}

namespace {

// Indexes nest one or two levels in real layouts; a deeper chain is refused.
constexpr int kMaxNesting = 4;

Status CopyTree(const OciLayout& from, const Digest& d, OciLayout& to, int depth,
                std::set<Digest>& seen) {
  if (depth > kMaxNesting) {
    return InvalidArgument("manifest " + d.str() + " in " + from.dir().string() +
                           " is nested more than " + std::to_string(kMaxNesting) +
                           " indexes deep; refused");
  }
  LS_ASSIGN_OR_RETURN(std::string body, from.ReadBlob(d));
  Result<Manifest> m = ParseManifest(body, "");
  if (!m.ok()) return InvalidArgument("manifest " + d.str() + ": " + m.status().message());
  for (const Descriptor& child : m->Children()) {
    if (m->is_index) {
      // Each once, however often the index names it.
      if (seen.insert(child.digest).second) {
        LS_RETURN_IF_ERROR(CopyTree(from, child.digest, to, depth + 1, seen));
      }
      continue;
    }
    if (to.HasBlob(child.digest)) continue;
    LS_RETURN_IF_ERROR(os::MakeDirs(to.BlobPath(child.digest).parent_path()));
    std::error_code copy_ec;
    fs::copy_file(from.BlobPath(child.digest), to.BlobPath(child.digest), copy_ec);
    if (copy_ec) {
      return IoError("copy " + from.BlobPath(child.digest).string() + ": " + copy_ec.message());
    }
  }
  return to.PutBlob(body).status();
}

}  // namespace

Result<Digest> CopyBetweenLayouts(const OciLayout& from, const std::string& name, OciLayout& to) {
  LS_ASSIGN_OR_RETURN(LayoutEntry entry, from.Resolve(name));
  std::set<Digest> seen;
  LS_RETURN_IF_ERROR(CopyTree(from, entry.digest, to, 0, seen));
  return entry.digest;
}

std::pair<fs::path, std::string> SplitLayoutRef(std::string_view text) {
  if (StartsWith(text, "oci:")) text.remove_prefix(4);
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || text.find('/', colon) != std::string_view::npos) {
    return {fs::path(text), "latest"};
  }
  return {fs::path(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

}  // namespace lockstep::image
