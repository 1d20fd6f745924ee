#include "image/manifest.h"

#include <boost/json.hpp>

#include "image/media_types.h"

namespace lockstep::image {

namespace json = boost::json;

namespace {

Status Invalid(std::string message) {
  return InvalidArgument(std::move(message), "MANIFEST_INVALID");
}

Result<Descriptor> ParseDescriptor(const json::value& v, std::string_view where) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Invalid(std::string(where) + " must be an object");
  Descriptor d;
  const json::value* mt = o->if_contains("mediaType");
  if (mt == nullptr || !mt->is_string()) {
    return Invalid(std::string(where) + ".mediaType must be a string");
  }
  d.media_type = std::string(mt->as_string());
  const json::value* dg = o->if_contains("digest");
  if (dg == nullptr || !dg->is_string())
    return Invalid(std::string(where) + ".digest must be a string");
  Result<Digest> digest = Digest::Parse(std::string_view(dg->as_string()));
  if (!digest.ok()) return Invalid(std::string(where) + ".digest: " + digest.status().message());
  d.digest = *digest;
  const json::value* sz = o->if_contains("size");
  if (sz == nullptr || !(sz->is_int64() || sz->is_uint64()) ||
      (sz->is_int64() && sz->as_int64() < 0)) {
    return Invalid(std::string(where) + ".size must be a non-negative integer");
  }
  d.size = sz->is_uint64() ? sz->as_uint64() : static_cast<uint64_t>(sz->as_int64());
  if (const json::value* at = o->if_contains("artifactType"); at && at->is_string()) {
    d.artifact_type = std::string(at->as_string());
  }
  if (const json::value* an = o->if_contains("annotations"); an && an->is_object()) {
    d.annotations_json = json::serialize(*an);
  }
  if (const json::value* urls = o->if_contains("urls"); urls && urls->is_array()) {
    d.has_urls = !urls->as_array().empty();
  }
  return d;
}

}  // namespace

Result<Manifest> ParseManifest(std::string_view body, std::string_view content_type) {
  if (body.size() > kMaxManifestBytes) {
    return OutOfRange("manifest is larger than 4 MiB", "SIZE_INVALID");
  }
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return Invalid("manifest is not valid JSON: " + ec.message());
  const json::object* o = doc.if_object();
  if (o == nullptr) return Invalid("manifest must be a JSON object");

  const json::value* sv = o->if_contains("schemaVersion");
  if (sv == nullptr || !sv->is_int64() || sv->as_int64() != 2) {
    return Invalid("schemaVersion must be 2 (Docker schema 1 manifests are not accepted)");
  }

  Manifest m;
  if (const json::value* mt = o->if_contains("mediaType")) {
    if (!mt->is_string()) return Invalid("mediaType must be a string");
    m.media_type = std::string(mt->as_string());
    if (!content_type.empty() && content_type != m.media_type) {
      return Invalid("mediaType '" + m.media_type + "' does not match Content-Type '" +
                     std::string(content_type) + "'");
    }
  } else if (!content_type.empty()) {
    m.media_type = std::string(content_type);
  } else {
    m.media_type = std::string(o->contains("manifests") ? media::kOciIndex : media::kOciManifest);
  }
  if (!media::IsManifest(m.media_type)) {
    return Invalid("media type '" + m.media_type + "' is not an image manifest or index");
  }
  m.is_index = media::IsIndex(m.media_type);

  if (m.is_index) {
    const json::value* list = o->if_contains("manifests");
    if (list == nullptr || !list->is_array()) return Invalid("manifests must be an array");
    size_t i = 0;
    for (const json::value& v : list->as_array()) {
      LS_ASSIGN_OR_RETURN(Descriptor d,
                          ParseDescriptor(v, "manifests[" + std::to_string(i++) + "]"));
      m.references.push_back(std::move(d));
    }
  } else {
    const json::value* config = o->if_contains("config");
    if (config == nullptr) return Invalid("an image manifest needs a config descriptor");
    LS_ASSIGN_OR_RETURN(Descriptor c, ParseDescriptor(*config, "config"));
    m.config = std::move(c);
    if (const json::value* layers = o->if_contains("layers")) {
      if (!layers->is_array()) return Invalid("layers must be an array");
      size_t i = 0;
      for (const json::value& v : layers->as_array()) {
        LS_ASSIGN_OR_RETURN(Descriptor d,
                            ParseDescriptor(v, "layers[" + std::to_string(i++) + "]"));
        m.references.push_back(std::move(d));
      }
    } else if (m.media_type == media::kDockerManifest) {
      return Invalid("a Docker image manifest needs a layers array");
    }
  }

  if (const json::value* subject = o->if_contains("subject")) {
    LS_ASSIGN_OR_RETURN(Descriptor s, ParseDescriptor(*subject, "subject"));
    m.subject = std::move(s);
  }
  if (const json::value* at = o->if_contains("artifactType")) {
    if (!at->is_string()) return Invalid("artifactType must be a string");
    m.artifact_type = std::string(at->as_string());
  } else if (m.config) {
    m.artifact_type = m.config->media_type;
  }
  if (const json::value* an = o->if_contains("annotations"); an && an->is_object()) {
    m.annotations_json = json::serialize(*an);
  }
  return m;
}

std::string DescriptorJson(const Descriptor& d) {
  json::object o;
  o["mediaType"] = d.media_type;
  o["digest"] = d.digest.str();
  o["size"] = d.size;
  if (!d.artifact_type.empty()) o["artifactType"] = d.artifact_type;
  if (!d.annotations_json.empty()) {
    boost::system::error_code ec;
    json::value an = json::parse(d.annotations_json, ec);
    if (!ec) o["annotations"] = std::move(an);
  }
  return json::serialize(o);
}

std::string IndexJson(const std::vector<std::string>& descriptor_jsons) {
  std::string out =
      R"({"schemaVersion":2,"mediaType":")" + std::string(media::kOciIndex) + R"(","manifests":[)";
  for (size_t i = 0; i < descriptor_jsons.size(); ++i) {
    if (i > 0) out += ",";
    out += descriptor_jsons[i];
  }
  out += "]}";
  return out;
}

}  // namespace lockstep::image
