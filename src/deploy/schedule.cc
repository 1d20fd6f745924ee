#include "deploy/schedule.h"

#include <array>
#include <ctime>
#include <optional>

#include "base/strings.h"

namespace lockstep::deploy {

namespace {

struct Field {
  std::string_view name;
  int low, high;
};

constexpr std::array<Field, 5> kFields = {{{"minute", 0, 59},
                                           {"hour", 0, 23},
                                           {"day of month", 1, 31},
                                           {"month", 1, 12},
                                           {"day of week", 0, 7}}};

std::optional<int> Number(std::string_view s) {
  std::optional<uint64_t> n = ParseUint(s);
  if (!n || *n > 1000) return std::nullopt;
  return static_cast<int>(*n);
}

// Sets the values of one field's text in `bits` (indexed by value).
Status ParseField(std::string_view text, const Field& field, std::bitset<64>& bits) {
  auto wrong = [&](std::string_view part) {
    return InvalidArgument("schedule: " + std::string(field.name) + " \"" + std::string(part) +
                           "\" must be *, a number from " + std::to_string(field.low) + " to " +
                           std::to_string(field.high) + ", a range a-b, a step */n or a-b/n, " +
                           "or a list of these separated by commas");
  };
  for (std::string_view part : Split(text, ',')) {
    std::string_view range = part;
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      std::optional<int> n = Number(part.substr(slash + 1));
      if (!n || *n == 0) return wrong(part);
      step = *n;
      range = part.substr(0, slash);
    }
    int from = field.low, to = field.high;
    if (range != "*") {
      size_t dash = range.find('-');
      std::optional<int> a = Number(range.substr(0, dash));
      std::optional<int> b = dash == std::string_view::npos ? a : Number(range.substr(dash + 1));
      if (!a || !b || *a < field.low || *b > field.high || *a > *b) return wrong(part);
      from = *a;
      // "5/15" means from 5 to the end, in steps of 15, as in cron.
      to = dash == std::string_view::npos && step > 1 ? field.high : *b;
    }
    for (int v = from; v <= to; v += step) bits.set(static_cast<size_t>(v));
  }
  return Status::Ok();
}

}  // namespace

Result<Cron> ParseCron(std::string_view text) {
  text = Trim(text);
  if (text == "@hourly") text = "0 * * * *";
  if (text == "@daily" || text == "@midnight") text = "0 0 * * *";
  if (text == "@weekly") text = "0 0 * * 0";
  if (text == "@monthly") text = "0 0 1 * *";
  if (text == "@yearly" || text == "@annually") text = "0 0 1 1 *";
  std::vector<std::string_view> parts;
  for (std::string_view p : Split(text, ' ')) {
    if (!p.empty()) parts.push_back(p);
  }
  if (parts.size() != kFields.size()) {
    return InvalidArgument("schedule \"" + std::string(text) +
                           "\" must have five fields (minute hour day-of-month month "
                           "day-of-week), e.g. \"*/15 * * * *\", or be @hourly, @daily, "
                           "@weekly, @monthly or @yearly");
  }
  Cron cron;
  std::array<std::bitset<64>, 5> bits;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (Status s = ParseField(parts[i], kFields[i], bits[i]); !s.ok()) return s;
  }
  for (size_t v = 0; v < 60; ++v) cron.minutes[v] = bits[0][v];
  for (size_t v = 0; v < 24; ++v) cron.hours[v] = bits[1][v];
  for (size_t v = 0; v < 32; ++v) cron.days[v] = bits[2][v];
  for (size_t v = 0; v < 13; ++v) cron.months[v] = bits[3][v];
  for (size_t v = 0; v < 8; ++v) {
    if (bits[4][v]) cron.weekdays.set(v % 7);
  }
  cron.days_restricted = parts[2] != "*";
  cron.weekdays_restricted = parts[4] != "*";
  return cron;
}

bool CronMatches(const Cron& cron, int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  std::tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return false;
  if (!cron.minutes[static_cast<size_t>(utc.tm_min)] ||
      !cron.hours[static_cast<size_t>(utc.tm_hour)] ||
      !cron.months[static_cast<size_t>(utc.tm_mon + 1)]) {
    return false;
  }
  bool day = cron.days[static_cast<size_t>(utc.tm_mday)];
  bool weekday = cron.weekdays[static_cast<size_t>(utc.tm_wday)];
  // crontab(5): with both day fields restricted, either matching is enough.
  if (cron.days_restricted && cron.weekdays_restricted) return day || weekday;
  return day && weekday;
}

}  // namespace lockstep::deploy
