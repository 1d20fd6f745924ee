#include "image/oci_layout.h"

#include <boost/json.hpp>

#include "base/strings.h"
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
  LS_ASSIGN_OR_RETURN(std::string text, os::ReadFile(dir_ / "index.json"));
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  const json::object* o = ec ? nullptr : doc.if_object();
  const json::value* list = o ? o->if_contains("manifests") : nullptr;
  if (list == nullptr || !list->is_array()) {
    return InvalidArgument((dir_ / "index.json").string() + " is not an image index");
  }
  std::vector<LayoutEntry> out;
  for (const json::value& m : list->as_array()) {
    const json::object* mo = m.if_object();
    if (mo == nullptr) continue;
    LayoutEntry e;
    const json::value* mt = mo->if_contains("mediaType");
    const json::value* dg = mo->if_contains("digest");
    const json::value* sz = mo->if_contains("size");
    if (!mt || !mt->is_string() || !dg || !dg->is_string() || !sz || !sz->is_number()) continue;
    Result<Digest> d = Digest::Parse(std::string_view(dg->as_string()));
    if (!d.ok()) continue;
    e.media_type = std::string(mt->as_string());
    e.digest = *d;
    e.size = sz->to_number<uint64_t>();
    if (const json::value* an = mo->if_contains("annotations"); an && an->is_object()) {
      if (const json::value* name = an->as_object().if_contains(kRefName);
          name && name->is_string()) {
        e.ref_name = std::string(name->as_string());
      }
    }
    out.push_back(std::move(e));
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

Status CopyTree(const OciLayout& from, const Digest& d, OciLayout& to) {
  LS_ASSIGN_OR_RETURN(std::string body, from.ReadBlob(d));
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object())
    return InvalidArgument("manifest " + d.str() + " is not a JSON object");
  auto copy_blob = [&](const json::value& desc, bool manifest) -> Status {
    const json::value* dg = desc.is_object() ? desc.as_object().if_contains("digest") : nullptr;
    if (dg == nullptr || !dg->is_string())
      return InvalidArgument("manifest " + d.str() + " has a descriptor without a digest");
    LS_ASSIGN_OR_RETURN(Digest child, Digest::Parse(std::string_view(dg->as_string())));
    if (manifest) return CopyTree(from, child, to);
    if (to.HasBlob(child)) return Status::Ok();
    LS_RETURN_IF_ERROR(os::MakeDirs(to.BlobPath(child).parent_path()));
    std::error_code copy_ec;
    fs::copy_file(from.BlobPath(child), to.BlobPath(child), copy_ec);
    if (copy_ec) return IoError("copy " + from.BlobPath(child).string() + ": " + copy_ec.message());
    return Status::Ok();
  };
  const json::object& o = doc.as_object();
  if (const json::value* list = o.if_contains("manifests"); list && list->is_array()) {
    for (const json::value& m : list->as_array()) LS_RETURN_IF_ERROR(copy_blob(m, true));
  }
  if (const json::value* config = o.if_contains("config"))
    LS_RETURN_IF_ERROR(copy_blob(*config, false));
  if (const json::value* layers = o.if_contains("layers"); layers && layers->is_array()) {
    for (const json::value& l : layers->as_array()) LS_RETURN_IF_ERROR(copy_blob(l, false));
  }
  return to.PutBlob(body).status();
}

}  // namespace

Result<Digest> CopyBetweenLayouts(const OciLayout& from, const std::string& name, OciLayout& to) {
  LS_ASSIGN_OR_RETURN(LayoutEntry entry, from.Resolve(name));
  LS_RETURN_IF_ERROR(CopyTree(from, entry.digest, to));
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
