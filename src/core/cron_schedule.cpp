#include "core/cron_schedule.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/printable_text.h"
#include "quern/error.h"

namespace quern {

namespace {

// Names here are prefixed with "cron": the library is built as a unity build, where the
// anonymous namespaces of several sources share one translation unit.

constexpr size_t kMaxCronBytes = 256;

constexpr std::string_view kCronExpectedFields =
    "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily";

// Every (month, day) date falls on every weekday within one 400-year Gregorian cycle, so a
// schedule that passed the never-fires check matches within this many months.
constexpr int kCronMonthsSearched = 400 * 12 + 12;

constexpr std::string_view kCronMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::string_view kCronWeekdayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct CronField {
  std::string_view name;
  int min;
  int max;                        // the largest value that may be written (7 for day-of-week)
  int star_max;                   // where `*` and `a/n` end (6 for day-of-week: 7 is Sunday again)
  const std::string_view* names;  // names[i] is value min + i; nullptr if numbers only
  std::string_view names_kind;    // "month", "day"
  std::string_view names_range;   // "jan..dec"
};

constexpr CronField kCronMinute{"minute", 0, 59, 59, nullptr, "", ""};
constexpr CronField kCronHour{"hour", 0, 23, 23, nullptr, "", ""};
constexpr CronField kCronDayOfMonth{"day-of-month", 1, 31, 31, nullptr, "", ""};
constexpr CronField kCronMonth{"month", 1, 12, 12, kCronMonthNames, "month", "jan..dec"};
constexpr CronField kCronDayOfWeek{"day-of-week", 0, 7, 6, kCronWeekdayNames, "day", "sun..sat"};

struct CronMacro {
  std::string_view name;
  std::string_view fields;
};

constexpr CronMacro kCronMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

// The longest day of each month in any year (February 29 in leap years).
constexpr unsigned kCronLongestMonthDay[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

bool is_cron_blank(char c) { return c == ' ' || c == '\t'; }
bool is_cron_digit(char c) { return c >= '0' && c <= '9'; }
bool is_cron_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char cron_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string cron_lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), cron_lower);
  return out;
}

[[noreturn]] void throw_cron_error(std::string_view schedule, std::string_view problem) {
  throw Error::invalid_argument("invalid cron schedule " + quote_for_message(schedule) + ": " + std::string(problem));
}

std::vector<std::string_view> split_cron_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_cron_blank(text[pos])) ++pos;
    size_t start = pos;
    while (pos < text.size() && !is_cron_blank(text[pos])) ++pos;
    if (pos > start) fields.push_back(text.substr(start, pos - start));
  }
  return fields;
}

// Parses one field into a mask with bit v set for each value v it names.
class CronFieldParser {
 public:
  CronFieldParser(std::string_view schedule, const CronField& field, std::string_view text)
      : schedule_(schedule), field_(field), text_(text) {}

  uint64_t parse() {
    for (char c : text_) {
      if (static_cast<unsigned char>(c) >= 0x80) fail("non-ASCII character");
    }
    uint64_t bits = 0;
    size_t start = 0;
    while (true) {
      size_t comma = text_.find(',', start);
      std::string_view item =
          text_.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (item.empty()) fail("empty list item");
      bits |= parse_item(item);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return bits;
  }

 private:
  uint64_t parse_item(std::string_view item) {
    size_t pos = 0;
    int first = 0, last = 0;
    if (item[0] == '*') {
      first = field_.min;
      last = field_.star_max;
      pos = 1;
    } else {
      first = read_value(item, &pos);
      last = first;
      if (pos < item.size() && item[pos] == '-') {
        ++pos;
        last = read_value(item, &pos);
        if (first > last) {
          fail("reversed range " + std::string(item.substr(0, pos)) + " (the start is after the end)");
        }
      } else if (pos < item.size() && item[pos] == '/') {
        last = std::max(first, field_.star_max);  // a/n is a-max/n
      }
    }
    int step = 1;
    if (pos < item.size() && item[pos] == '/') {
      ++pos;
      const int values = field_.star_max - field_.min + 1;
      size_t digits_start = pos;
      step = read_number(item, &pos);
      std::string_view digits = item.substr(digits_start, pos - digits_start);
      if (step == 0) fail("step 0 (a step must be at least 1)");
      if (step > values) {
        fail("step " + shown_number(digits) + " is out of range 1-" + std::to_string(values));
      }
    }
    if (pos < item.size()) fail("unexpected " + quote_for_message(item.substr(pos)));
    uint64_t bits = 0;
    for (int value = first; value <= last; value += step) bits |= uint64_t{1} << value;
    return bits;
  }

  // A number, or a name where the field has them, at item[*pos].
  int read_value(std::string_view item, size_t* pos) {
    if (*pos < item.size() && is_cron_letter(item[*pos]) && field_.names != nullptr) {
      size_t start = *pos;
      while (*pos < item.size() && is_cron_letter(item[*pos])) ++*pos;
      std::string name = cron_lowercase(item.substr(start, *pos - start));
      for (int i = 0; i <= field_.star_max - field_.min; ++i) {
        if (field_.names[i] == name) return field_.min + i;
      }
      fail("unknown " + std::string(field_.names_kind) + " name " +
           quote_for_message(item.substr(start, *pos - start)) + " (expected " + std::string(field_.names_range) + ")");
    }
    size_t start = *pos;
    int value = read_number(item, pos);
    if (value < field_.min || value > field_.max) {
      fail(shown_number(item.substr(start, *pos - start)) + " is out of range " + std::to_string(field_.min) + "-" +
           std::to_string(field_.max));
    }
    return value;
  }

  // Decimal digits at item[*pos], saturating at 1000 so that any number of them is safe.
  int read_number(std::string_view item, size_t* pos) {
    if (*pos >= item.size()) {
      fail("expected a " + std::string(field_.names != nullptr ? "value" : "number") + " after " +
           quote_for_message(item.substr(*pos - 1, 1)));
    }
    if (!is_cron_digit(item[*pos])) {
      std::string expected = field_.names != nullptr && item.substr(0, *pos).find('/') == std::string_view::npos
                                 ? "a number or " + std::string(field_.names_kind) + " name"
                                 : "a number";
      fail("expected " + expected + " at " + quote_for_message(item.substr(*pos)));
    }
    int value = 0;
    while (*pos < item.size() && is_cron_digit(item[*pos])) {
      value = std::min(value * 10 + (item[*pos] - '0'), 1000);
      ++*pos;
    }
    return value;
  }

  static std::string shown_number(std::string_view digits) {
    constexpr size_t kShown = 12;
    return digits.size() <= kShown ? std::string(digits) : std::string(digits.substr(0, kShown)) + "...";
  }

  [[noreturn]] void fail(std::string_view detail) const {
    throw_cron_error(schedule_,
                     std::string(field_.name) + " field " + quote_for_message(text_) + ": " + std::string(detail));
  }

  std::string_view schedule_;
  const CronField& field_;
  std::string_view text_;
};

template <size_t N>
std::bitset<N> cron_bits(uint64_t mask) {
  return std::bitset<N>(mask & ((uint64_t{1} << N) - 1));
}

}  // namespace

CronSchedule CronSchedule::parse(std::string_view text) {
  if (text.size() > kMaxCronBytes) throw_cron_error(text, "longer than 256 bytes");
  std::vector<std::string_view> fields = split_cron_fields(text);
  if (fields.size() == 1 && fields[0].front() == '@') {
    std::string macro = cron_lowercase(fields[0]);
    for (const CronMacro& known : kCronMacros) {
      if (known.name == macro) {
        CronSchedule schedule = parse(known.fields);
        schedule.text_ = macro;
        return schedule;
      }
    }
    throw_cron_error(text, "unknown macro " + quote_for_message(fields[0]) +
                               " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
  }
  if (fields.size() != 5) {
    throw_cron_error(text, std::string(kCronExpectedFields) + ", got " + std::to_string(fields.size()));
  }

  CronSchedule schedule;
  schedule.minutes_ = cron_bits<60>(CronFieldParser(text, kCronMinute, fields[0]).parse());
  schedule.hours_ = cron_bits<24>(CronFieldParser(text, kCronHour, fields[1]).parse());
  schedule.days_of_month_ = cron_bits<32>(CronFieldParser(text, kCronDayOfMonth, fields[2]).parse());
  schedule.months_ = cron_bits<13>(CronFieldParser(text, kCronMonth, fields[3]).parse());
  uint64_t weekdays = CronFieldParser(text, kCronDayOfWeek, fields[4]).parse();
  if (weekdays & (uint64_t{1} << 7)) weekdays |= 1;  // 7 is Sunday
  schedule.weekdays_ = cron_bits<7>(weekdays);
  schedule.day_of_month_restricted_ = fields[2].front() != '*';
  schedule.weekday_restricted_ = fields[4].front() != '*';

  // When both day fields are restricted, the weekdays alone make it fire every week of
  // every month it names. Otherwise some named day must exist in some named month; then it
  // also falls on every weekday within 400 years, so any weekday restriction can be met.
  if (!(schedule.day_of_month_restricted_ && schedule.weekday_restricted_)) {
    bool some_date = false;
    for (unsigned m = 1; m <= 12 && !some_date; ++m) {
      for (unsigned d = 1; d <= kCronLongestMonthDay[m] && !some_date; ++d) {
        some_date = schedule.months_[m] && schedule.days_of_month_[d];
      }
    }
    if (!some_date) {
      throw_cron_error(text, "never fires: no month in month field " + quote_for_message(fields[3]) +
                                 " has a day in day-of-month field " + quote_for_message(fields[2]));
    }
  }

  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) schedule.text_ += ' ';
    schedule.text_ += fields[i];
  }
  return schedule;
}

bool CronSchedule::day_matches(unsigned day_of_month, unsigned weekday) const {
  const bool day_of_month_matches = days_of_month_[day_of_month];
  const bool weekday_matches = weekdays_[weekday];
  if (day_of_month_restricted_ && weekday_restricted_) return day_of_month_matches || weekday_matches;
  return day_of_month_matches && weekday_matches;
}

Time CronSchedule::next_after(Time after) const {
  using namespace std::chrono;
  static constexpr sys_days kEarliest = year{0} / January / 1;
  static constexpr sys_days kLatest = year{10000} / January / 1;
  if (after < kEarliest || after >= kLatest) {
    throw Error::invalid_argument("cron schedule " + quote_for_message(text_) +
                                  ": times are only computed from the years 0000 to 9999");
  }
  // The first whole minute strictly after `after`.
  const sys_time<minutes> start = floor<minutes>(after) + minutes{1};
  const sys_days start_day = floor<days>(start);
  const year_month_day start_date{start_day};
  const auto start_minute_of_day = static_cast<unsigned>((start - start_day).count());

  year_month ym = start_date.year() / start_date.month();
  unsigned first_day = static_cast<unsigned>(start_date.day());
  unsigned first_minute_of_day = start_minute_of_day;
  for (int searched = 0; searched < kCronMonthsSearched; ++searched) {
    if (months_[static_cast<unsigned>(ym.month())]) {
      const unsigned last_day = static_cast<unsigned>((ym / last).day());
      const unsigned first_weekday = weekday{sys_days{ym / 1}}.c_encoding();
      for (unsigned d = first_day; d <= last_day; ++d) {
        if (day_matches(d, (first_weekday + d - 1) % 7)) {
          const unsigned first_hour = first_minute_of_day / 60;
          for (unsigned h = first_hour; h < 24; ++h) {
            if (!hours_[h]) continue;
            for (unsigned m = h == first_hour ? first_minute_of_day % 60 : 0; m < 60; ++m) {
              if (minutes_[m]) return sys_days{ym / static_cast<int>(d)} + hours{h} + minutes{m};
            }
          }
        }
        first_minute_of_day = 0;
      }
    }
    ym += months{1};
    first_day = 1;
    first_minute_of_day = 0;
  }
  // Unreachable: parse rejects the schedules that never fire.
  throw Error::internal("cron schedule " + quote_for_message(text_) + " found no time after 400 years");
}

const std::string& CronSchedule::text() const { return text_; }

}  // namespace quern
