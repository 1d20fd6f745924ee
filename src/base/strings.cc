#include "base/strings.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <vector>

namespace lockstep {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

namespace {
constexpr std::string_view kB64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}
}  // namespace

std::string Base64Decode(std::string_view in, bool* ok) {
  *ok = false;
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = B64Value(c);
    if (v < 0) return {};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return {};  // a dangling sextet cannot come from a valid encoding
  *ok = true;
  return out;
}

namespace {

std::string EncodeBase64(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 0x3f]);
  while (pad && out.size() % 4 != 0) out.push_back('=');
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) { return EncodeBase64(bytes, kB64Url, false); }

std::string Base64Encode(std::string_view bytes) {
  return EncodeBase64(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                      true);
}

std::string FormatRfc3339(int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string HumanBytes(uint64_t n) {
  static constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < kUnits.size()) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

std::optional<uint64_t> ParseByteSize(std::string_view s) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"GiB", uint64_t{1} << 30}, {"MiB", uint64_t{1} << 20}, {"KiB", uint64_t{1} << 10}, {"B", 1}};
  for (auto [suffix, mult] : kUnits) {
    if (s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix) {
      std::optional<uint64_t> n = ParseUint(s.substr(0, s.size() - suffix.size()));
      if (!n || *n > UINT64_MAX / mult) return std::nullopt;  // no wrap to a small size
      return *n * mult;
    }
  }
  return ParseUint(s);
}

std::optional<int64_t> ParseDurationSeconds(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  auto n = ParseUint(s.substr(0, s.size() - 1));
  if (!n || *n > (1ull << 40)) return std::nullopt;
  auto v = static_cast<int64_t>(*n);
  switch (s.back()) {
    case 's':
      return v;
    case 'm':
      return v * 60;
    case 'h':
      return v * 3600;
    case 'd':
      return v * 86400;
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> ParseDurationMillis(std::string_view s) {
  if (s.size() > 2 && s.ends_with("ms")) {
    auto n = ParseUint(s.substr(0, s.size() - 2));
    if (!n || *n > (1ull << 50)) return std::nullopt;
    return static_cast<int64_t>(*n);
  }
  std::optional<int64_t> seconds = ParseDurationSeconds(s);
  if (!seconds || *seconds > INT64_MAX / 1000) return std::nullopt;
  return *seconds * 1000;
}

std::string_view NewAfterOverlap(std::string_view before, std::string_view after) {
  if (after.starts_with(before)) return after.substr(before.size());
  // Knuth-Morris-Pratt: `before` is the text, the start of `after` the pattern; where the
  // match stands when `before` ends is the overlap.
  const std::string_view pattern = after.substr(0, std::min(after.size(), before.size()));
  std::vector<size_t> fallback(pattern.size(), 0);
  for (size_t i = 1, k = 0; i < pattern.size(); ++i) {
    while (k > 0 && pattern[i] != pattern[k]) k = fallback[k - 1];
    if (pattern[i] == pattern[k]) ++k;
    fallback[i] = k;
  }
  size_t matched = 0;
  for (char c : before) {
    while (matched > 0 && (matched == pattern.size() || c != pattern[matched])) {
      matched = fallback[matched - 1];
    }
    if (matched < pattern.size() && c == pattern[matched]) ++matched;
  }
  return after.substr(matched);
}

}  // namespace lockstep
