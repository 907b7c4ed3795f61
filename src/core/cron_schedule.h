// Cron schedules ("*/15 * * * *", "0 9 * * mon-fri", "@daily"): the whole minutes, in
// UTC, at which a recurring job is due.
#pragma once

#include <bitset>
#include <string>
#include <string_view>

#include "quern/clock.h"

namespace quern {

// A cron schedule, evaluated in UTC at whole minutes. Immutable once parsed, so one
// schedule may be read from several threads at once.
class CronSchedule {
 public:
  // Parses five fields "MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK" separated by spaces or
  // tabs (leading and trailing ones allowed), or one of the macros @yearly, @annually,
  // @monthly, @weekly, @daily, @midnight, @hourly (in any letter case).
  //
  // A field is a comma list of items: `*`, a number, a range `a-b`, or a step `*/n`,
  // `a-b/n` or `a/n` (which is a-max/n). Months may be named jan..dec and weekdays
  // sun..sat, in any letter case, also inside ranges. Day-of-week takes 0-7, where 0 and 7
  // are both Sunday; its `*` and `a/n` end at 6. A step is at least 1 and at most the
  // number of values of its field (60, 24, 31, 12, 7).
  //
  // The classic cron rule for days: when both day-of-month and day-of-week are restricted
  // (neither starts with `*`), a day matches when EITHER matches; otherwise both must.
  //
  // Throws Error(kInvalidArgument) with a one-line message naming the bad field and its
  // text for anything else: a wrong field count, an unknown macro or name, an out-of-range
  // value, a reversed range (a > b), a step of 0, an empty list item, trailing garbage,
  // non-ASCII bytes, more than 256 bytes, or a schedule that can never fire
  // ("0 0 30 2 *", "0 0 31 4,6,9,11 *").
  static CronSchedule parse(std::string_view text);

  // The first matching whole minute strictly after `after` (a time on a match gives the
  // next one; 12:00:30 gives 12:01 at the earliest). One always exists: the search skips
  // non-matching months and days, and looks at most 400 years ahead (February 29th on a
  // Sunday can be 40 years away). `after` must lie in the years 0000 to 9999, as RFC 3339
  // times do; otherwise throws Error(kInvalidArgument).
  Time next_after(Time after) const;

  // The text it was parsed from, normalised: trimmed, with single spaces between the
  // fields; a macro as written, lowercased ("@Daily" gives "@daily").
  const std::string& text() const;

 private:
  CronSchedule() = default;

  // Whether a day with this day of the month (1-31) and weekday (0 = Sunday) matches.
  bool day_matches(unsigned day_of_month, unsigned weekday) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bit d for day d, 1-31
  std::bitset<13> months_;         // bit m for month m, 1-12
  std::bitset<7> weekdays_;        // bit w for weekday w, 0 = Sunday
  // Whether the field did not start with `*`: both restricted means either may match.
  bool day_of_month_restricted_ = false;
  bool weekday_restricted_ = false;
};

}  // namespace quern
