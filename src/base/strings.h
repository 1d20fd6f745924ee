// Small string helpers shared by every layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep {

std::vector<std::string_view> Split(std::string_view s, char sep);
std::string_view Trim(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool IEquals(std::string_view a, std::string_view b);

// Parses a whole decimal unsigned integer; nullopt on anything else (sign, spaces,
// overflow, empty).
std::optional<uint64_t> ParseUint(std::string_view s);

// Levenshtein distance: the edits that turn one into the other (for "did you mean").
size_t EditDistance(std::string_view a, std::string_view b);

std::string HexEncode(std::string_view bytes);
std::string Base64Decode(std::string_view in, bool* ok);
std::string Base64UrlEncode(std::string_view bytes);
// Standard alphabet, with padding.
std::string Base64Encode(std::string_view bytes);
// Percent-encodes everything but unreserved characters (RFC 3986).
std::string UrlEncode(std::string_view text);

// "2023-11-14T22:13:20Z" for seconds since the epoch (UTC).
std::string FormatRfc3339(int64_t epoch_seconds);

// Parses sizes such as "64GiB", "16MiB", "512KiB", "100B" or "100"; nullopt when
// malformed.
std::optional<uint64_t> ParseByteSize(std::string_view s);

// "1.5 GiB", "12 KiB", "300 B".
std::string HumanBytes(uint64_t n);

// Parses durations such as "90s", "15m", "24h", "7d"; nullopt when malformed.
std::optional<int64_t> ParseDurationSeconds(std::string_view s);

// Like ParseDurationSeconds, in milliseconds, also accepting "250ms".
std::optional<int64_t> ParseDurationMillis(std::string_view s);

// Two reads of the end of one growing text (a log whose front is trimmed): what `after`
// adds to `before`, past the longest start of `after` that is an end of `before`; all of
// `after` when they share nothing. Linear in their sizes.
std::string_view NewAfterOverlap(std::string_view before, std::string_view after);

}  // namespace lockstep
