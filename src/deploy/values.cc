// Typed values (the Reader of reader.h).
#include "deploy/reader.h"

namespace lockstep::deploy::reading {

std::optional<std::string> Reader::String(const std::string& file, const toml::node& node,
                                          std::string_view key, std::string_view example) {
  if (std::optional<std::string> s = node.value_exact<std::string>()) return s;
  Add(file, node.source(), std::string(key) + " must be a string, e.g. " + std::string(example));
  return std::nullopt;
}

std::optional<bool> Reader::Bool(const std::string& file, const toml::node& node,
                                 std::string_view key) {
  if (std::optional<bool> b = node.value_exact<bool>()) return b;
  Add(file, node.source(), std::string(key) + " must be true or false");
  return std::nullopt;
}

std::optional<int64_t> Reader::Integer(const std::string& file, const toml::node& node,
                                       std::string_view key, int64_t low, int64_t high) {
  std::optional<int64_t> n = node.value_exact<int64_t>();
  if (n && *n >= low && *n <= high) return n;
  Add(file, node.source(),
      std::string(key) + " must be a whole number from " + std::to_string(low) + " to " +
          std::to_string(high));
  return std::nullopt;
}

// A duration such as "90s"; `millis` also takes "250ms".
std::optional<int64_t> Reader::Duration(const std::string& file, const toml::node& node,
                                        std::string_view key, bool millis, int64_t max_seconds) {
  std::optional<std::string> text = node.value_exact<std::string>();
  std::optional<int64_t> v;
  if (text) v = millis ? ParseDurationMillis(*text) : ParseDurationSeconds(*text);
  int64_t max = millis ? max_seconds * 1000 : max_seconds;
  if (v && *v >= 0 && *v <= max) return v;
  std::string shown = text ? Quote(*text) : "";
  Add(file, node.source(),
      std::string(key) + (shown.empty() ? "" : " " + shown) + " must be a duration such as " +
          (millis ? "\"500ms\", \"30s\" or \"5m\"" : "\"30s\", \"10m\" or \"24h\"") + " (at most " +
          Span(max_seconds) + ")");
  return std::nullopt;
}

std::optional<std::vector<std::string>> Reader::StringArray(const std::string& file,
                                                            const toml::node& node,
                                                            std::string_view key,
                                                            std::string_view example) {
  const toml::array* array = node.as_array();
  std::vector<std::string> out;
  bool ok = array != nullptr;
  if (array != nullptr) {
    for (const toml::node& item : *array) {
      std::optional<std::string> s = item.value_exact<std::string>();
      if (!s) {
        ok = false;
        break;
      }
      out.push_back(*s);
    }
  }
  if (ok) return out;
  Add(file, node.source(),
      std::string(key) + " must be a list of strings, e.g. " + std::string(example));
  return std::nullopt;
}

const toml::table* Reader::Table(const std::string& file, const toml::table& parent,
                                 std::string_view key, std::string_view example) {
  const toml::node* node = parent.get(key);
  if (node == nullptr) return nullptr;
  if (const toml::table* t = node->as_table()) return t;
  Add(file, node->source(), std::string(key) + " must be a table, e.g. " + std::string(example));
  return nullptr;
}

std::string Reader::JoinStrings(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// "128Mi", "1Gi", "512Ki": Kubernetes' binary suffixes, at least 4 MiB.
std::optional<uint64_t> Reader::MemoryBytes(std::string_view text) {
  uint64_t unit = 0;
  if (text.ends_with("Ki")) unit = 1ull << 10;
  if (text.ends_with("Mi")) unit = 1ull << 20;
  if (text.ends_with("Gi")) unit = 1ull << 30;
  if (unit == 0) return std::nullopt;
  std::optional<uint64_t> n = ParseUint(text.substr(0, text.size() - 2));
  if (!n || *n == 0 || *n > (1ull << 44) / unit) return std::nullopt;
  uint64_t bytes = *n * unit;
  if (bytes < (4ull << 20)) return std::nullopt;
  return bytes;
}

}  // namespace lockstep::deploy::reading
