#include "image/manifest.h"

#include <boost/json.hpp>

#include "base/json.h"
#include "image/media_types.h"

namespace lockstep::image {

namespace bj = boost::json;

namespace {

Status Invalid(const Status& s) { return InvalidArgument(s.message(), "MANIFEST_INVALID"); }
Status Invalid(std::string message) {
  return InvalidArgument(std::move(message), "MANIFEST_INVALID");
}

// Annotations as JSON text (kept whole, for the referrers API) and their string values.
Status ReadAnnotations(const json::ObjectView& o, std::string& text, Annotations& values) {
  const bj::value* an = o.Raw("annotations");
  if (an == nullptr || !an->is_object()) return Status::Ok();
  text = bj::serialize(*an);
  for (const auto& [key, value] : an->as_object()) {
    if (value.is_string()) values.emplace(std::string(key), std::string(value.as_string()));
  }
  return Status::Ok();
}

}  // namespace

Result<Descriptor> ParseDescriptor(const json::ObjectView& o) {
  Descriptor d;
  LS_ASSIGN_OR_RETURN(d.media_type, o.String("mediaType"));
  LS_ASSIGN_OR_RETURN(std::string digest, o.String("digest"));
  Result<Digest> parsed = Digest::Parse(digest);
  if (!parsed.ok()) return InvalidArgument(o.PathOf("digest") + ": " + parsed.status().message());
  d.digest = *parsed;
  LS_ASSIGN_OR_RETURN(d.size, o.Uint("size"));
  if (const bj::value* at = o.Raw("artifactType"); at && at->is_string()) {
    d.artifact_type = std::string(at->as_string());
  }
  LS_RETURN_IF_ERROR(ReadAnnotations(o, d.annotations_json, d.annotations));
  if (const bj::value* urls = o.Raw("urls"); urls && urls->is_array()) {
    d.has_urls = !urls->as_array().empty();
  }
  // Read, never refused: what a registry stored before it read platforms must still
  // parse (GC takes an unparsable manifest to reference nothing).
  if (const bj::value* platform = o.Raw("platform"); platform && platform->is_object()) {
    auto text = [&](const char* key) {
      const bj::value* v = platform->as_object().if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    d.platform = Platform{text("os"), text("architecture"), text("variant")};
  }
  return d;
}

namespace {

// A member that is present must be of its type: JSON null is not "absent" in a manifest.
Status NotNull(const json::ObjectView& o, std::string_view key, std::string_view want) {
  const bj::value* v = o.Raw(key);
  if (v != nullptr && v->is_null())
    return InvalidArgument(o.PathOf(key) + " must be " + std::string(want));
  return Status::Ok();
}

Result<std::vector<Descriptor>> ParseDescriptors(const json::ArrayView& list) {
  std::vector<Descriptor> out;
  for (size_t i = 0; i < list.size(); ++i) {
    LS_ASSIGN_OR_RETURN(json::ObjectView o, list.ObjectAt(i));
    LS_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(o));
    out.push_back(std::move(d));
  }
  return out;
}

Result<Manifest> Parse(const json::ObjectView& o, std::string_view content_type) {
  Result<int64_t> version = o.Int("schemaVersion");
  if (!version.ok() || *version != 2) {
    return InvalidArgument("schemaVersion must be 2 (Docker schema 1 manifests are not accepted)");
  }
  for (auto [key, want] : {std::pair{"mediaType", "a string"},
                           {"artifactType", "a string"},
                           {"config", "an object"},
                           {"layers", "an array"},
                           {"manifests", "an array"},
                           {"subject", "an object"}}) {
    LS_RETURN_IF_ERROR(NotNull(o, key, want));
  }
  Manifest m;
  LS_ASSIGN_OR_RETURN(std::optional<std::string> media_type, o.OptionalString("mediaType"));
  if (media_type) {
    m.media_type = std::move(*media_type);
    if (!content_type.empty() && content_type != m.media_type) {
      return InvalidArgument("mediaType '" + m.media_type + "' does not match Content-Type '" +
                             std::string(content_type) + "'");
    }
  } else if (!content_type.empty()) {
    m.media_type = std::string(content_type);
  } else {
    m.media_type =
        std::string(o.Raw("manifests") != nullptr ? media::kOciIndex : media::kOciManifest);
  }
  if (!media::IsManifest(m.media_type)) {
    return InvalidArgument("media type '" + m.media_type + "' is not an image manifest or index");
  }
  m.is_index = media::IsIndex(m.media_type);
  // A body that reads as both kinds would be read one way by one tool and the other way
  // by the next (the image spec forbids it): what one keeps, the other could collect.
  if (m.is_index && (o.Has("config") || o.Has("layers"))) {
    return InvalidArgument("an image index (" + m.media_type +
                           ") may not have config or layers; push an image manifest or an index, "
                           "not both in one");
  }
  if (!m.is_index && o.Has("manifests")) {
    return InvalidArgument("an image manifest (" + m.media_type +
                           ") may not list manifests; push an image manifest or an index, not "
                           "both in one");
  }

  if (m.is_index) {
    LS_ASSIGN_OR_RETURN(json::ArrayView list, o.Array("manifests"));
    LS_ASSIGN_OR_RETURN(m.references, ParseDescriptors(list));
  } else {
    if (!o.Has("config")) return InvalidArgument("an image manifest needs a config descriptor");
    LS_ASSIGN_OR_RETURN(json::ObjectView config, o.Object("config"));
    LS_ASSIGN_OR_RETURN(m.config, ParseDescriptor(config));
    LS_ASSIGN_OR_RETURN(std::optional<json::ArrayView> layers, o.OptionalArray("layers"));
    if (layers) {
      LS_ASSIGN_OR_RETURN(m.references, ParseDescriptors(*layers));
    } else if (m.media_type == media::kDockerManifest) {
      return InvalidArgument("a Docker image manifest needs a layers array");
    }
  }

  LS_ASSIGN_OR_RETURN(std::optional<json::ObjectView> subject, o.OptionalObject("subject"));
  if (subject) {
    LS_ASSIGN_OR_RETURN(m.subject, ParseDescriptor(*subject));
  }
  LS_ASSIGN_OR_RETURN(std::optional<std::string> artifact_type, o.OptionalString("artifactType"));
  if (artifact_type) {
    m.artifact_type = std::move(*artifact_type);
  } else if (m.config) {
    m.artifact_type = m.config->media_type;
  }
  LS_RETURN_IF_ERROR(ReadAnnotations(o, m.annotations_json, m.annotations));
  return m;
}

}  // namespace

std::vector<Descriptor> Manifest::Children() const {
  std::vector<Descriptor> out;
  if (config) out.push_back(*config);
  out.insert(out.end(), references.begin(), references.end());
  return out;
}

Result<Manifest> ParseManifest(std::string_view body, std::string_view content_type) {
  if (body.size() > kMaxManifestBytes) {
    return OutOfRange("manifest is larger than 4 MiB", "SIZE_INVALID");
  }
  Result<json::Document> doc = json::Document::Parse(body, "manifest");
  if (!doc.ok()) return Invalid(doc.status());
  if (!doc->root().is_object()) return Invalid("manifest must be a JSON object");
  Result<Manifest> m = Parse(json::ObjectView::Of(*doc, "").value(), content_type);
  if (!m.ok()) return Invalid(m.status());
  return m;
}

std::string DescriptorJson(const Descriptor& d) {
  bj::object o;
  o["mediaType"] = d.media_type;
  o["digest"] = d.digest.str();
  o["size"] = d.size;
  if (!d.artifact_type.empty()) o["artifactType"] = d.artifact_type;
  if (!d.annotations_json.empty()) {
    boost::system::error_code ec;
    bj::value an = bj::parse(d.annotations_json, ec);
    if (!ec) o["annotations"] = std::move(an);
  }
  return bj::serialize(o);
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
