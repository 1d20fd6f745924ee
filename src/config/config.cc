#include "config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>

#include "base/strings.h"
#include "os/file.h"

namespace lockstep::config {

namespace {

Status ConfigError(const std::filesystem::path& path, const toml::source_region& where,
                   const std::string& what) {
  return InvalidArgument(path.string() + ":" + std::to_string(where.begin.line) + ":" +
                         std::to_string(where.begin.column) + ": " + what);
}

Status ParseServer(const std::filesystem::path& path, const toml::table& table,
                   ServerConfig& config) {
  for (auto&& [key, node] : table) {
    std::string k(key.str());
    std::optional<std::string> text = node.value<std::string>();
    if (k == "public_url") {
      if (!text) {
        return ConfigError(path, node.source(),
                           "server.public_url must be a string like \"https://registry.example\"");
      }
      Result<std::string> url = ParsePublicUrl(*text, "server.public_url");
      if (!url.ok()) return ConfigError(path, node.source(), url.status().message());
      config.public_url = *url;
    } else if (k == "max_connections") {
      std::optional<int64_t> n = node.value<int64_t>();
      if (!n || *n < 1 || *n > 1'000'000) {
        return ConfigError(path, node.source(),
                           "server.max_connections must be a whole number from 1 to 1000000");
      }
      config.max_connections = static_cast<int>(*n);
    } else if (k == "idle_timeout" || k == "header_timeout" || k == "send_timeout") {
      std::optional<int64_t> ms = text ? ParseDurationMillis(*text) : std::nullopt;
      if (!ms || *ms <= 0 || *ms > 86'400'000) {
        return ConfigError(path, node.source(),
                           "server." + k + " must be a duration like \"10s\" (at most a day)");
      }
      (k == "idle_timeout"     ? config.idle_timeout_ms
       : k == "header_timeout" ? config.header_timeout_ms
                               : config.send_timeout_ms) = *ms;
    } else if (k == "body_min_rate") {
      std::optional<uint64_t> rate = text ? ParseByteSize(*text) : std::nullopt;
      if (!rate || *rate == 0) {
        return ConfigError(path, node.source(),
                           "server.body_min_rate must be a size per second like \"4KiB\"");
      }
      config.body_min_rate = *rate;
    } else {
      return ConfigError(path, node.source(),
                         "unknown key server." + k +
                             " (known: public_url, max_connections, idle_timeout, "
                             "header_timeout, send_timeout, body_min_rate)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ParsePublicUrl(std::string_view text, std::string_view key) {
  std::string what = std::string(key) + " '" + std::string(text) + "'";
  const std::string example = " (like https://registry.example or http://10.0.0.5:5000)";
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return InvalidArgument(what + " is not an absolute URL" + example);
  const boost::urls::url_view& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::http && u.scheme_id() != boost::urls::scheme::https) {
    return InvalidArgument(what + " must be an http or https URL" + example);
  }
  if (u.has_userinfo()) return InvalidArgument(what + " may not hold a user name or password");
  bool host_ok = u.host_type() == boost::urls::host_type::ipv4 ||
                 u.host_type() == boost::urls::host_type::ipv6;
  if (u.host_type() == boost::urls::host_type::name) {
    std::string_view host = u.encoded_host();
    host_ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
    });
  }
  if (!host_ok) return InvalidArgument(what + " must name a host" + example);
  if (u.has_port() && (u.port().empty() || u.port_number() == 0)) {
    return InvalidArgument(what + " names no valid port" + example);
  }
  if (!u.encoded_path().empty() && u.encoded_path() != "/") {
    return InvalidArgument(what + " may not have a path: the server answers at the root");
  }
  if (u.has_query() || u.has_fragment()) {
    return InvalidArgument(what + " may not have a query or fragment");
  }
  return std::string(u.scheme_id() == boost::urls::scheme::https ? "https" : "http") + "://" +
         std::string(u.encoded_host_and_port());
}

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

Status ParseDeploy(const std::filesystem::path& path, const toml::table& table,
                   DeployConfig& deploy) {
  for (auto&& [key, node] : table) {
    std::string k(key.str());
    std::optional<std::string> text = node.value_exact<std::string>();
    auto duration = [&](int64_t min, int64_t max, const char* example) -> Result<int64_t> {
      std::optional<int64_t> ms = text ? ParseDurationMillis(*text) : std::nullopt;
      if (!ms || *ms < min || *ms > max) {
        return ConfigError(path, node.source(),
                           "deploy." + k + " must be a duration like \"" + example + "\"");
      }
      return *ms;
    };
    if (k == "repo" || k == "branch" || k == "webhook_secret" || k == "ssh_key" ||
        k == "known_hosts" || k == "https_token_file") {
      if (!text || text->empty()) {
        return ConfigError(path, node.source(), "deploy." + k + " must be a non-empty string");
      }
      if (k == "webhook_secret" && text->size() < 16) {
        return ConfigError(path, node.source(),
                           "deploy.webhook_secret must be at least 16 characters (e.g. from "
                           "`openssl rand -hex 32`)");
      }
      std::string& field = k == "repo"             ? deploy.repo
                           : k == "branch"         ? deploy.branch
                           : k == "webhook_secret" ? deploy.webhook_secret
                           : k == "ssh_key"        ? deploy.ssh_key
                           : k == "known_hosts"    ? deploy.known_hosts
                                                   : deploy.https_token_file;
      field = *text;
    } else if (k == "fetch_interval") {
      LS_ASSIGN_OR_RETURN(int64_t ms, duration(1000, 86'400'000, "60s"));
      deploy.fetch_interval_seconds = ms / 1000;
    } else if (k == "health_timeout") {
      LS_ASSIGN_OR_RETURN(deploy.health_timeout_ms, duration(100, 3'600'000, "120s"));
    } else if (k == "max_plan_age") {
      LS_ASSIGN_OR_RETURN(int64_t ms, duration(1000, 365LL * 86'400'000, "24h"));
      deploy.max_plan_age_seconds = ms / 1000;
    } else if (k == "approval_max_age") {
      LS_ASSIGN_OR_RETURN(int64_t ms, duration(1000, 365LL * 86'400'000, "24h"));
      deploy.approval_max_age_seconds = ms / 1000;
    } else {
      return ConfigError(path, node.source(),
                         "unknown key deploy." + k +
                             " (known: repo, branch, fetch_interval, webhook_secret, ssh_key, "
                             "known_hosts, https_token_file, health_timeout, max_plan_age, "
                             "approval_max_age)");
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
    if (key.str() != "registry" && key.str() != "runtime" && key.str() != "server" &&
        key.str() != "deploy") {
      return ConfigError(path, node.source(),
                         "unknown section '" + std::string(key.str()) +
                             "' (known: registry, runtime, deploy, server)");
    }
  }
  if (const toml::table* deploy = doc["deploy"].as_table(); deploy != nullptr) {
    LS_RETURN_IF_ERROR(ParseDeploy(path, *deploy, config.deploy));
  }
  if (const toml::table* runtime = doc["runtime"].as_table(); runtime != nullptr) {
    LS_RETURN_IF_ERROR(ParseRuntime(path, *runtime, config.runtime));
  }
  if (const toml::table* server = doc["server"].as_table(); server != nullptr) {
    LS_RETURN_IF_ERROR(ParseServer(path, *server, config));
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
