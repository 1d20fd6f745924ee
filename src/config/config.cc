#include "config/config.h"

#include <toml++/toml.h>

#include "base/strings.h"
#include "os/file.h"

namespace lockstep::config {

namespace {

Status ConfigError(const std::filesystem::path& path, const toml::source_region& where,
                   const std::string& what) {
  return InvalidArgument(path.string() + ":" + std::to_string(where.begin.line) + ":" +
                         std::to_string(where.begin.column) + ": " + what);
}

}  // namespace

Status ParseRuntime(const std::filesystem::path& path, const toml::table& table,
                    RuntimeConfig& runtime) {
  for (auto&& [key, node] : table) {
    std::string k(key.str());
    if (k == "enabled") {
      std::optional<bool> v = node.value<bool>();
      if (!v) return ConfigError(path, node.source(), "enabled must be true or false");
      runtime.enabled = *v;
    } else if (k == "proxy_address") {
      std::optional<std::string> v = node.value<std::string>();
      if (!v || v->empty()) {
        return ConfigError(path, node.source(),
                           "proxy_address must be an IP address like \"127.0.0.1\"");
      }
      runtime.proxy_address = *v;
    } else if (k == "log_size") {
      auto v = node.value<std::string>();
      auto bytes = v ? ParseByteSize(*v) : std::nullopt;
      if (!bytes || *bytes < 4096) {
        return ConfigError(path, node.source(),
                           "log_size must be a size of at least 4KiB, like \"1MiB\"");
      }
      runtime.log_bytes = *bytes;
    } else {
      return ConfigError(path, node.source(),
                         "unknown key runtime." + k + " (known: enabled, proxy_address, log_size)");
    }
  }
  return Status::Ok();
}

Result<ServerConfig> LoadConfig(const std::filesystem::path& path, bool must_exist) {
  ServerConfig config;
  if (!os::Exists(path)) {
    if (must_exist) return NotFound("config file " + path.string() + " does not exist");
    return config;
  }
  toml::table doc;
  try {
    doc = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    return ConfigError(path, e.source(), std::string(e.description()));
  }
  for (auto&& [key, node] : doc) {
    if (key.str() != "registry" && key.str() != "runtime") {
      return ConfigError(
          path, node.source(),
          "unknown section '" + std::string(key.str()) + "' (known: registry, runtime)");
    }
  }
  if (const toml::table* runtime = doc["runtime"].as_table(); runtime != nullptr) {
    LS_RETURN_IF_ERROR(ParseRuntime(path, *runtime, config.runtime));
  }
  const toml::table* registry = doc["registry"].as_table();
  if (registry == nullptr) return config;

  for (auto&& [key, node] : *registry) {
    std::string k(key.str());
    if (k == "upload_ttl") {
      auto v = node.value<std::string>();
      auto secs = v ? ParseDurationSeconds(*v) : std::nullopt;
      if (!secs)
        return ConfigError(path, node.source(), "upload_ttl must be a duration like \"24h\"");
      config.upload_ttl_seconds = *secs;
    } else if (k == "max_upload_size") {
      auto v = node.value<std::string>();
      auto bytes = v ? ParseByteSize(*v) : std::nullopt;
      if (!bytes)
        return ConfigError(path, node.source(), "max_upload_size must be a size like \"64GiB\"");
      config.registry.max_upload_bytes = *bytes;
    } else if (k == "mutable_tags") {
      const toml::array* rules = node.as_array();
      if (rules == nullptr)
        return ConfigError(path, node.source(), "mutable_tags must be an array of tables");
      std::vector<registry::MutableTagRule> parsed;
      for (const toml::node& rule : *rules) {
        const toml::table* t = rule.as_table();
        auto repos = t ? (*t)["repos"].value<std::string>() : std::nullopt;
        auto tags = t ? (*t)["tags"].value<std::string>() : std::nullopt;
        if (!repos || !tags) {
          return ConfigError(path, rule.source(),
                             "each mutable_tags entry needs repos = \"GLOB\" and tags = \"GLOB\"");
        }
        parsed.push_back({*repos, *tags});
      }
      config.registry.tag_policy = registry::TagPolicy(std::move(parsed));
    } else {
      return ConfigError(
          path, node.source(),
          "unknown key registry." + k + " (known: upload_ttl, max_upload_size, mutable_tags)");
    }
  }
  return config;
}

}  // namespace lockstep::config
