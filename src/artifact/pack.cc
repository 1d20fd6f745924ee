#include "artifact/pack.h"

#include <sys/utsname.h>

#include <boost/json.hpp>
#include <ctime>

#include "base/json.h"
#include "base/strings.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "os/file.h"

namespace lockstep::artifact {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

image::Platform HostPlatform() {
  utsname u{};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return {"linux", "amd64", ""};
  if (m == "aarch64") return {"linux", "arm64", ""};
  return {"linux", m, ""};
}

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A JSON object kept whole (the base image's config: pack changes only what its settings
// name).
Result<json::object> ParseObject(const std::string& text, const std::string& what) {
  LS_ASSIGN_OR_RETURN(lockstep::json::Document doc, lockstep::json::Document::Parse(text, what));
  if (!doc.root().is_object()) return InvalidArgument(what + " is not a JSON object");
  return doc.root().as_object();
}

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// Applies `settings` to the "config" section of an image config.
void Apply(const ImageSettings& settings, json::object& config) {
  if (settings.entrypoint) config["Entrypoint"] = Strings(*settings.entrypoint);
  if (settings.cmd) config["Cmd"] = Strings(*settings.cmd);
  if (!settings.env.empty()) {
    json::array env;
    if (const json::value* old = config.if_contains("Env"); old && old->is_array())
      env = old->as_array();
    for (const std::string& kv : settings.env) {
      std::string key = kv.substr(0, kv.find('='));
      json::array kept;
      for (const json::value& e : env) {
        bool same_key =
            e.is_string() && std::string_view(e.as_string()).substr(0, key.size() + 1) == key + "=";
        if (!same_key) kept.push_back(e);
      }
      kept.emplace_back(kv);
      env = std::move(kept);
    }
    config["Env"] = std::move(env);
  }
  if (settings.workdir) config["WorkingDir"] = *settings.workdir;
  if (settings.user) config["User"] = *settings.user;
  if (!settings.labels.empty()) {
    json::object labels;
    if (const json::value* old = config.if_contains("Labels"); old && old->is_object())
      labels = old->as_object();
    for (const auto& [k, v] : settings.labels) labels[k] = v;
    config["Labels"] = std::move(labels);
  }
  if (settings.port) {
    json::object ports;
    if (const json::value* old = config.if_contains("ExposedPorts"); old && old->is_object())
      ports = old->as_object();
    ports[std::to_string(*settings.port) + "/tcp"] = json::object{};
    config["ExposedPorts"] = std::move(ports);
  }
}

json::object Descriptor(std::string_view media_type, const Digest& d, uint64_t size) {
  return json::object{{"mediaType", media_type}, {"digest", d.str()}, {"size", size}};
}

}  // namespace

Result<image::Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  bool ok = parts.size() == 2 || parts.size() == 3;
  for (const std::string& part : parts) {
    ok = ok && !part.empty() && part.size() <= 32;
    for (char c : part) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!ok) {
    return InvalidArgument("platform '" + std::string(text) +
                           "' is not OS/ARCHITECTURE[/VARIANT] in lower case, like linux/arm64");
  }
  return image::Platform{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
}

std::string PlatformString(const image::Platform& p) {
  return p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
}

Result<PackResult> Pack(const PackOptions& options, image::OciLayout& layout) {
  // The base image, if any: its config and layers carry over.
  image::Platform platform = options.platform.value_or(HostPlatform());
  json::object config;
  json::array layers;
  if (options.base) {
    LS_ASSIGN_OR_RETURN(std::string manifest_text, layout.ReadBlob(*options.base));
    Result<image::Manifest> base = image::ParseManifest(manifest_text, "");
    if (!base.ok()) {
      return InvalidArgument("base manifest " + options.base->str() + ": " +
                             base.status().message());
    }
    if (!base->config) {
      return InvalidArgument("base " + options.base->str() +
                             " is not an image manifest (an index? pick one platform)");
    }
    LS_ASSIGN_OR_RETURN(std::string base_config, layout.ReadBlob(base->config->digest));
    LS_ASSIGN_OR_RETURN(config,
                        ParseObject(base_config, "base config " + base->config->digest.str()));
    image::Platform of_base{Text(config, "os"), Text(config, "architecture"),
                            Text(config, "variant")};
    if (options.platform && (options.platform->os != of_base.os ||
                             options.platform->architecture != of_base.architecture ||
                             options.platform->variant != of_base.variant)) {
      return InvalidArgument("the base image is for " + PlatformString(of_base) +
                             ", not the platform " + PlatformString(*options.platform) +
                             " asked for; pick the base image of that platform");
    }
    platform = of_base;
    // The base's layer descriptors carry over byte for byte (annotations and all).
    LS_ASSIGN_OR_RETURN(json::object raw, ParseObject(manifest_text, "base manifest"));
    if (json::value* l = raw.if_contains("layers"); l && l->is_array()) layers = l->as_array();
  }

  if (!options.base) {
    config["architecture"] = platform.architecture;
    config["os"] = platform.os;
    if (!platform.variant.empty()) config["variant"] = platform.variant;
  }

  fs::path temp = layout.TempPath();
  LS_ASSIGN_OR_RETURN(LayerInfo layer, WriteLayer(options.dir, temp, options.layer));
  LS_RETURN_IF_ERROR(layout.AdoptBlob(temp, layer.digest));
  layers.push_back(Descriptor(layer.media_type, layer.digest, layer.size));

  std::string created = FormatRfc3339(options.provenance.epoch);
  config["created"] = created;
  json::object& inner = config["config"].is_object()
                            ? config["config"].as_object()
                            : (config["config"] = json::object{}).as_object();
  Apply(options.settings, inner);
  json::object& rootfs = config["rootfs"].is_object()
                             ? config["rootfs"].as_object()
                             : (config["rootfs"] = json::object{}).as_object();
  rootfs["type"] = "layers";
  json::array diff_ids =
      rootfs["diff_ids"].is_array() ? rootfs["diff_ids"].as_array() : json::array{};
  diff_ids.emplace_back(layer.diff_id.str());
  rootfs["diff_ids"] = std::move(diff_ids);
  json::array history = config["history"].is_array() ? config["history"].as_array() : json::array{};
  history.push_back(json::object{{"created", created}, {"created_by", "lockstep pack"}});
  config["history"] = std::move(history);

  std::string config_text = json::serialize(config);
  LS_ASSIGN_OR_RETURN(Digest config_digest, layout.PutBlob(config_text));

  json::object annotations{{"org.opencontainers.image.version", options.provenance.version},
                           {"org.opencontainers.image.created", created}};
  if (!options.provenance.revision.empty()) {
    annotations["org.opencontainers.image.revision"] = options.provenance.revision;
  }
  if (!options.provenance.source.empty()) {
    annotations["org.opencontainers.image.source"] = options.provenance.source;
  }
  json::object manifest{
      {"schemaVersion", 2},
      {"mediaType", image::media::kOciManifest},
      {"config", Descriptor(image::media::kOciConfig, config_digest, config_text.size())},
      {"layers", std::move(layers)},
      {"annotations", std::move(annotations)}};
  std::string manifest_text = json::serialize(manifest);
  LS_ASSIGN_OR_RETURN(Digest manifest_digest, layout.PutBlob(manifest_text));
  LS_RETURN_IF_ERROR(
      layout.SetEntry(image::LayoutEntry{std::string(image::media::kOciManifest), manifest_digest,
                                         manifest_text.size(), options.name}));
  return PackResult{manifest_digest, manifest_text.size(), layer, platform};
}

}  // namespace lockstep::artifact
