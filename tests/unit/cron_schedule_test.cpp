#include "core/cron_schedule.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "core/time_format.h"
#include "quern/error.h"

namespace quern {
namespace {

using namespace std::chrono_literals;

// The next `count` times of `schedule` after `after`, as RFC 3339 text.
std::vector<std::string> cron_times(std::string_view schedule, std::string_view after, int count) {
  CronSchedule parsed = CronSchedule::parse(schedule);
  std::vector<std::string> times;
  Time t = parse_rfc3339(after);
  for (int i = 0; i < count; ++i) {
    t = parsed.next_after(t);
    times.push_back(format_rfc3339(t));
  }
  return times;
}

std::string cron_next(std::string_view schedule, std::string_view after) {
  return cron_times(schedule, after, 1).front();
}

// The message of the kInvalidArgument error parse throws; a failure if it does not.
std::string cron_parse_error(std::string_view text) {
  try {
    CronSchedule::parse(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.rfind("invalid cron schedule \"", 0), 0u) << message;
    return message;
  }
  ADD_FAILURE() << "CronSchedule::parse(\"" << text << "\") did not throw";
  return "(no error)";
}

using Times = std::vector<std::string>;

TEST(CronSchedule, EveryMinute) {
  EXPECT_EQ(cron_times("* * * * *", "2025-06-01T12:00:00Z", 3),
            (Times{"2025-06-01T12:01:00Z", "2025-06-01T12:02:00Z", "2025-06-01T12:03:00Z"}));
}

TEST(CronSchedule, SingleNumbers) {
  EXPECT_EQ(cron_next("5 * * * *", "2025-06-01T10:07:00Z"), "2025-06-01T11:05:00Z");
  EXPECT_EQ(cron_next("5 * * * *", "2025-06-01T10:04:59Z"), "2025-06-01T10:05:00Z");
  EXPECT_EQ(cron_next("30 14 * * *", "2025-06-01T15:00:00Z"), "2025-06-02T14:30:00Z");
  EXPECT_EQ(cron_next("0 0 15 * *", "2025-06-16T00:00:00Z"), "2025-07-15T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 1 9 *", "2025-06-01T00:00:00Z"), "2025-09-01T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 * * 3", "2025-06-01T00:00:00Z"), "2025-06-04T00:00:00Z");  // a Wednesday
}

TEST(CronSchedule, LeadingZerosAreAccepted) {
  EXPECT_EQ(cron_next("05 007 * * *", "2025-06-01T00:00:00Z"), "2025-06-01T07:05:00Z");
}

TEST(CronSchedule, Ranges) {
  EXPECT_EQ(cron_times("0 22-23 * * *", "2025-06-01T21:00:00Z", 3),
            (Times{"2025-06-01T22:00:00Z", "2025-06-01T23:00:00Z", "2025-06-02T22:00:00Z"}));
  EXPECT_EQ(cron_times("58-59 * * * *", "2025-06-01T10:00:00Z", 3),
            (Times{"2025-06-01T10:58:00Z", "2025-06-01T10:59:00Z", "2025-06-01T11:58:00Z"}));
  // A one-value range.
  EXPECT_EQ(cron_next("7-7 * * * *", "2025-06-01T10:00:00Z"), "2025-06-01T10:07:00Z");
}

TEST(CronSchedule, StarSteps) {
  EXPECT_EQ(cron_times("*/15 * * * *", "2025-06-01T10:00:00Z", 5),
            (Times{"2025-06-01T10:15:00Z", "2025-06-01T10:30:00Z", "2025-06-01T10:45:00Z", "2025-06-01T11:00:00Z",
                   "2025-06-01T11:15:00Z"}));
  EXPECT_EQ(cron_times("0 */8 * * *", "2025-06-01T00:00:00Z", 3),
            (Times{"2025-06-01T08:00:00Z", "2025-06-01T16:00:00Z", "2025-06-02T00:00:00Z"}));
  // The step counts from the field's first value: days 1, 11, 21, 31.
  EXPECT_EQ(cron_times("0 0 */10 * *", "2025-01-01T00:00:00Z", 4),
            (Times{"2025-01-11T00:00:00Z", "2025-01-21T00:00:00Z", "2025-01-31T00:00:00Z", "2025-02-01T00:00:00Z"}));
  // A step as large as the field: only the first value.
  EXPECT_EQ(cron_next("*/60 * * * *", "2025-06-01T10:00:00Z"), "2025-06-01T11:00:00Z");
}

TEST(CronSchedule, EveryFifteenMinutesForADay) {
  CronSchedule schedule = CronSchedule::parse("*/15 * * * *");
  Time t = parse_rfc3339("2025-06-01T00:00:00Z");
  for (int i = 1; i <= 96; ++i) {
    Time next = schedule.next_after(t);
    ASSERT_EQ(next - t, 15min) << i;
    t = next;
  }
  EXPECT_EQ(format_rfc3339(t), "2025-06-02T00:00:00Z");
}

TEST(CronSchedule, RangesWithSteps) {
  EXPECT_EQ(cron_times("10-20/5 * * * *", "2025-06-01T10:00:00Z", 4),
            (Times{"2025-06-01T10:10:00Z", "2025-06-01T10:15:00Z", "2025-06-01T10:20:00Z", "2025-06-01T11:10:00Z"}));
  EXPECT_EQ(cron_times("0 9-17/4 * * *", "2025-06-01T00:00:00Z", 4),
            (Times{"2025-06-01T09:00:00Z", "2025-06-01T13:00:00Z", "2025-06-01T17:00:00Z", "2025-06-02T09:00:00Z"}));
  // The range's end need not be on a step: 1, 4, 7.
  EXPECT_EQ(cron_times("1-8/3 * * * *", "2025-06-01T10:00:00Z", 4),
            (Times{"2025-06-01T10:01:00Z", "2025-06-01T10:04:00Z", "2025-06-01T10:07:00Z", "2025-06-01T11:01:00Z"}));
}

TEST(CronSchedule, StartWithStepRunsToTheFieldsEnd) {
  // 50/5 is 50-59/5.
  EXPECT_EQ(cron_times("50/5 * * * *", "2025-06-01T10:00:00Z", 3),
            (Times{"2025-06-01T10:50:00Z", "2025-06-01T10:55:00Z", "2025-06-01T11:50:00Z"}));
  // 20/2 in hours is 20, 22.
  EXPECT_EQ(cron_times("0 20/2 * * *", "2025-06-01T00:00:00Z", 3),
            (Times{"2025-06-01T20:00:00Z", "2025-06-01T22:00:00Z", "2025-06-02T20:00:00Z"}));
  // In day-of-week, a/n ends at Saturday: 4/2 is Thursday and Saturday, not Sunday.
  EXPECT_EQ(cron_times("0 0 * * 4/2", "2025-06-01T00:00:00Z", 3),
            (Times{"2025-06-05T00:00:00Z", "2025-06-07T00:00:00Z", "2025-06-12T00:00:00Z"}));
}

TEST(CronSchedule, Lists) {
  EXPECT_EQ(cron_times("1,2,30 * * * *", "2025-06-01T10:00:00Z", 4),
            (Times{"2025-06-01T10:01:00Z", "2025-06-01T10:02:00Z", "2025-06-01T10:30:00Z", "2025-06-01T11:01:00Z"}));
  // Items of every form, in any order, overlapping.
  EXPECT_EQ(cron_times("45,0-10/5,3,*/30 * * * *", "2025-06-01T10:00:00Z", 6),
            (Times{"2025-06-01T10:03:00Z", "2025-06-01T10:05:00Z", "2025-06-01T10:10:00Z", "2025-06-01T10:30:00Z",
                   "2025-06-01T10:45:00Z", "2025-06-01T11:00:00Z"}));
}

TEST(CronSchedule, MonthNames) {
  EXPECT_EQ(cron_times("0 0 1 jan,JUL *", "2025-03-01T00:00:00Z", 3),
            (Times{"2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"}));
  EXPECT_EQ(cron_times("0 0 1 Nov-dec *", "2025-03-01T00:00:00Z", 3),
            (Times{"2025-11-01T00:00:00Z", "2025-12-01T00:00:00Z", "2026-11-01T00:00:00Z"}));
  EXPECT_EQ(cron_next("0 0 1 oct/2 *", "2025-11-01T00:00:00Z"), "2025-12-01T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 1 10/2 *", "2025-11-01T00:00:00Z"), "2025-12-01T00:00:00Z");
}

TEST(CronSchedule, WeekdayNames) {
  // 2025-06-02 is a Monday.
  EXPECT_EQ(cron_times("0 9 * * Mon-FRI", "2025-06-06T10:00:00Z", 2),
            (Times{"2025-06-09T09:00:00Z", "2025-06-10T09:00:00Z"}));
  EXPECT_EQ(cron_times("0 9 * * sat,sun", "2025-06-02T00:00:00Z", 3),
            (Times{"2025-06-07T09:00:00Z", "2025-06-08T09:00:00Z", "2025-06-14T09:00:00Z"}));
  EXPECT_EQ(cron_times("0 9 * * mon-sat/2", "2025-06-02T10:00:00Z", 3),
            (Times{"2025-06-04T09:00:00Z", "2025-06-06T09:00:00Z", "2025-06-09T09:00:00Z"}));
}

TEST(CronSchedule, SevenIsSunday) {
  const Times sundays{"2025-06-08T00:00:00Z", "2025-06-15T00:00:00Z"};
  EXPECT_EQ(cron_times("0 0 * * 0", "2025-06-01T00:00:00Z", 2), sundays);
  EXPECT_EQ(cron_times("0 0 * * 7", "2025-06-01T00:00:00Z", 2), sundays);
  EXPECT_EQ(cron_times("0 0 * * sun", "2025-06-01T00:00:00Z", 2), sundays);
  // Friday to Sunday.
  EXPECT_EQ(cron_times("0 0 * * 5-7", "2025-06-02T00:00:00Z", 4),
            (Times{"2025-06-06T00:00:00Z", "2025-06-07T00:00:00Z", "2025-06-08T00:00:00Z", "2025-06-13T00:00:00Z"}));
  EXPECT_EQ(cron_times("0 0 * * 0-7", "2025-06-02T00:00:00Z", 2),
            (Times{"2025-06-03T00:00:00Z", "2025-06-04T00:00:00Z"}));
}

TEST(CronSchedule, DayOfMonthOrWeekdayWhenBothAreRestricted) {
  // The 13th, or any Friday (2025-01-03 is a Friday, 2025-01-13 a Monday).
  EXPECT_EQ(cron_times("0 0 13 * fri", "2025-01-01T00:00:00Z", 4),
            (Times{"2025-01-03T00:00:00Z", "2025-01-10T00:00:00Z", "2025-01-13T00:00:00Z", "2025-01-17T00:00:00Z"}));
  // Either way, only in the months named: the 1st of February, or its Mondays.
  EXPECT_EQ(cron_times("0 0 1 2 mon", "2025-01-01T00:00:00Z", 3),
            (Times{"2025-02-01T00:00:00Z", "2025-02-03T00:00:00Z", "2025-02-10T00:00:00Z"}));
}

TEST(CronSchedule, DayOfMonthAndWeekdayWhenEitherStartsWithStar) {
  // Odd days that are Mondays: January 2025's Mondays are the 6th, 13th, 20th and 27th.
  EXPECT_EQ(cron_times("0 0 */2 * mon", "2025-01-01T00:00:00Z", 2),
            (Times{"2025-01-13T00:00:00Z", "2025-01-27T00:00:00Z"}));
  // Days 1-7 that are a Sunday, Tuesday, Thursday or Saturday (2025-01-01 is a Wednesday).
  EXPECT_EQ(cron_times("0 0 1-7 * */2", "2025-01-01T00:00:00Z", 3),
            (Times{"2025-01-02T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z"}));
  // A plain `*` on one side: just the other.
  EXPECT_EQ(cron_times("0 0 * * mon", "2025-01-01T00:00:00Z", 2),
            (Times{"2025-01-06T00:00:00Z", "2025-01-13T00:00:00Z"}));
  EXPECT_EQ(cron_times("0 0 13 * *", "2025-01-01T00:00:00Z", 2),
            (Times{"2025-01-13T00:00:00Z", "2025-02-13T00:00:00Z"}));
}

TEST(CronSchedule, CrossesMinuteHourDayMonthAndYearBoundaries) {
  EXPECT_EQ(cron_next("* * * * *", "2025-06-01T10:59:00Z"), "2025-06-01T11:00:00Z");
  EXPECT_EQ(cron_next("0 * * * *", "2025-06-01T10:59:59Z"), "2025-06-01T11:00:00Z");
  EXPECT_EQ(cron_next("30 0 * * *", "2025-03-01T00:31:00Z"), "2025-03-02T00:30:00Z");
  EXPECT_EQ(cron_next("* * * * *", "2025-06-30T23:59:00Z"), "2025-07-01T00:00:00Z");
  EXPECT_EQ(cron_next("* * * * *", "2025-12-31T23:59:00Z"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 1 1 *", "2025-12-31T23:59:30Z"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(cron_next("59 23 31 12 *", "2025-12-31T23:58:59Z"), "2025-12-31T23:59:00Z");
  EXPECT_EQ(cron_next("59 23 31 12 *", "2025-12-31T23:59:00Z"), "2026-12-31T23:59:00Z");
  // Months without the day are skipped.
  EXPECT_EQ(cron_times("0 0 31 * *", "2025-01-31T00:00:00Z", 3),
            (Times{"2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z"}));
  // Later hours of the first day are still candidates, then the next day starts at 00:00.
  EXPECT_EQ(cron_times("15 3,20 * * *", "2025-06-01T03:15:00Z", 3),
            (Times{"2025-06-01T20:15:00Z", "2025-06-02T03:15:00Z", "2025-06-02T20:15:00Z"}));
}

TEST(CronSchedule, LeapDay) {
  EXPECT_EQ(cron_next("0 0 29 2 *", "2025-01-01T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 29 2 *", "2028-02-29T00:00:00Z"), "2032-02-29T00:00:00Z");
  // 2100 is not a leap year.
  EXPECT_EQ(cron_next("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 29 2 *", "1999-01-01T00:00:00Z"), "2000-02-29T00:00:00Z");
}

TEST(CronSchedule, FindsRareDatesDecadesAhead) {
  // February 29th on a Sunday (the weekday field starts with `*`, so both must match):
  // 40 years from 2088 to 2128.
  EXPECT_EQ(cron_times("0 0 29 2 */7", "2025-01-01T00:00:00Z", 4),
            (Times{"2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z", "2088-02-29T00:00:00Z", "2128-02-29T00:00:00Z"}));
}

TEST(CronSchedule, IsStrictlyAfter) {
  EXPECT_EQ(cron_next("0 12 * * *", "2025-06-01T12:00:00Z"), "2025-06-02T12:00:00Z");
  EXPECT_EQ(cron_next("* * * * *", "2025-06-01T12:00:00Z"), "2025-06-01T12:01:00Z");
}

TEST(CronSchedule, RoundsSubMinuteTimesUpToTheNextMinute) {
  EXPECT_EQ(cron_next("* * * * *", "2025-06-01T12:00:30Z"), "2025-06-01T12:01:00Z");
  EXPECT_EQ(cron_next("* * * * *", "2025-06-01T12:00:00.000001Z"), "2025-06-01T12:01:00Z");
  EXPECT_EQ(cron_next("* * * * *", "2025-06-01T11:59:59.999999Z"), "2025-06-01T12:00:00Z");
  EXPECT_EQ(cron_next("0 12 * * *", "2025-06-01T11:59:59.999999Z"), "2025-06-01T12:00:00Z");
}

TEST(CronSchedule, WorksBefore1970AndUpTo9999) {
  EXPECT_EQ(cron_next("0 0 1 1 *", "1969-06-01T00:00:00.5Z"), "1970-01-01T00:00:00Z");
  EXPECT_EQ(cron_next("* * * * *", "1969-12-31T23:59:59.5Z"), "1970-01-01T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 1 1 *", "0000-01-01T00:00:00Z"), "0001-01-01T00:00:00Z");
  EXPECT_EQ(cron_next("* * * * *", "9999-12-31T23:58:00Z"), "9999-12-31T23:59:00Z");
  // Past 9999 is computed, but format_rfc3339 clamps it, so compare the times.
  CronSchedule daily = CronSchedule::parse("@daily");
  EXPECT_EQ(daily.next_after(parse_rfc3339("9999-12-31T00:00:00Z")), parse_rfc3339("9999-12-31T23:59:00Z") + 1min);
}

TEST(CronSchedule, RejectsTimesOutsideTheYears0000To9999) {
  CronSchedule schedule = CronSchedule::parse("* * * * *");
  for (Time t : {parse_rfc3339("0000-01-01T00:00:00Z") - 1us, parse_rfc3339("9999-12-31T23:59:59.999999Z") + 1us,
                 from_micros(std::numeric_limits<int64_t>::max()), from_micros(std::numeric_limits<int64_t>::min())}) {
    try {
      schedule.next_after(t);
      ADD_FAILURE() << "next_after accepted " << to_micros(t);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(CronSchedule, Macros) {
  const char* after = "2025-06-04T10:30:00Z";  // a Wednesday
  EXPECT_EQ(cron_next("@yearly", after), "2026-01-01T00:00:00Z");
  EXPECT_EQ(cron_next("@annually", after), "2026-01-01T00:00:00Z");
  EXPECT_EQ(cron_next("@monthly", after), "2025-07-01T00:00:00Z");
  EXPECT_EQ(cron_next("@weekly", after), "2025-06-08T00:00:00Z");
  EXPECT_EQ(cron_next("@daily", after), "2025-06-05T00:00:00Z");
  EXPECT_EQ(cron_next("@midnight", after), "2025-06-05T00:00:00Z");
  EXPECT_EQ(cron_next("@hourly", after), "2025-06-04T11:00:00Z");
}

TEST(CronSchedule, MacrosAreCaseInsensitiveAndKeptLowercased) {
  EXPECT_EQ(CronSchedule::parse("@DAILY").text(), "@daily");
  EXPECT_EQ(CronSchedule::parse(" \t@Annually  ").text(), "@annually");
  EXPECT_EQ(CronSchedule::parse("@midnight").text(), "@midnight");
  EXPECT_EQ(cron_next("@HOURLY", "2025-06-04T10:30:00Z"), "2025-06-04T11:00:00Z");
}

TEST(CronSchedule, TextIsTrimmedWithSingleSpaces) {
  EXPECT_EQ(CronSchedule::parse("  */5\t 1  * *   *  ").text(), "*/5 1 * * *");
  EXPECT_EQ(CronSchedule::parse("0 9 * Jan MON-fri").text(), "0 9 * Jan MON-fri");
  EXPECT_EQ(CronSchedule::parse("0\t0\t1\t1\t*").text(), "0 0 1 1 *");
}

TEST(CronSchedule, TextParsesBackToTheSameSchedule) {
  for (const char* text :
       {"*/15 * * * *", " 0 9-17/4 * * Mon-FRI", "0 0 13 * fri", "@Weekly", "5,10 1/3 */2 jan-jun 7"}) {
    CronSchedule schedule = CronSchedule::parse(text);
    CronSchedule again = CronSchedule::parse(schedule.text());
    EXPECT_EQ(again.text(), schedule.text());
    Time t = parse_rfc3339("2025-06-04T10:30:00Z");
    for (int i = 0; i < 20; ++i) {
      Time next = schedule.next_after(t);
      ASSERT_EQ(again.next_after(t), next) << text;
      t = next;
    }
  }
}

TEST(CronSchedule, AcceptsSchedulesThatCanFire) {
  EXPECT_EQ(cron_next("0 0 31 2,3 *", "2025-01-01T00:00:00Z"), "2025-03-31T00:00:00Z");
  EXPECT_EQ(cron_next("0 0 30,31 2,4 *", "2025-01-01T00:00:00Z"), "2025-04-30T00:00:00Z");
  // February 30th or any Monday in February: the Mondays fire.
  EXPECT_EQ(cron_next("0 0 30 2 mon", "2025-01-01T00:00:00Z"), "2025-02-03T00:00:00Z");
  // 256 bytes, blanks included.
  std::string longest = "0 0 * * *" + std::string(256 - 9, ' ');
  EXPECT_EQ(CronSchedule::parse(longest).text(), "0 0 * * *");
}

TEST(CronSchedule, RejectsWrongFieldCount) {
  for (const char* text : {"", "   \t ", "* * * *", "* * * * * *", "@daily 5", "5 @daily"}) {
    EXPECT_NE(cron_parse_error(text).find("expected 5 fields (minute hour day-of-month month day-of-week)"),
              std::string::npos)
        << text;
  }
  EXPECT_EQ(cron_parse_error("* * * *"),
            "invalid cron schedule \"* * * *\": expected 5 fields (minute hour day-of-month month day-of-week) or a "
            "macro such as @daily, got 4");
}

TEST(CronSchedule, RejectsOutOfRangeValuesNamingTheField) {
  EXPECT_EQ(cron_parse_error("60 * * * *"),
            "invalid cron schedule \"60 * * * *\": minute field \"60\": 60 is out of range 0-59");
  EXPECT_EQ(cron_parse_error("* 24 * * *"),
            "invalid cron schedule \"* 24 * * *\": hour field \"24\": 24 is out of range 0-23");
  EXPECT_NE(cron_parse_error("* * 0 * *").find("day-of-month field \"0\": 0 is out of range 1-31"), std::string::npos);
  EXPECT_NE(cron_parse_error("* * 32 * *").find("day-of-month field \"32\": 32 is out of range 1-31"),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * * 0 *").find("month field \"0\": 0 is out of range 1-12"), std::string::npos);
  EXPECT_NE(cron_parse_error("* * * 13 *").find("month field \"13\""), std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * 8").find("day-of-week field \"8\": 8 is out of range 0-7"), std::string::npos);
  EXPECT_NE(cron_parse_error("1-60 * * * *").find("minute field \"1-60\": 60 is out of range 0-59"), std::string::npos);
  EXPECT_NE(cron_parse_error("99999999999999999999999 * * * *").find("minute field"), std::string::npos);
  EXPECT_NE(cron_parse_error("99999999999999999999999 * * * *").find("999999999999... is out of range"),
            std::string::npos);
}

TEST(CronSchedule, RejectsReversedRanges) {
  EXPECT_NE(cron_parse_error("5-2 * * * *").find("minute field \"5-2\": reversed range 5-2"), std::string::npos);
  EXPECT_NE(cron_parse_error("* * * dec-jan *").find("month field \"dec-jan\": reversed range dec-jan"),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * fri-mon").find("day-of-week field \"fri-mon\": reversed range"),
            std::string::npos);
}

TEST(CronSchedule, RejectsBadSteps) {
  EXPECT_NE(cron_parse_error("*/0 * * * *").find("minute field \"*/0\": step 0"), std::string::npos);
  EXPECT_NE(cron_parse_error("* 1-5/0 * * *").find("hour field \"1-5/0\": step 0"), std::string::npos);
  EXPECT_NE(cron_parse_error("*/61 * * * *").find("minute field \"*/61\": step 61 is out of range 1-60"),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * */8").find("day-of-week field \"*/8\": step 8 is out of range 1-7"),
            std::string::npos);
  EXPECT_NE(cron_parse_error("*/ * * * *").find("minute field \"*/\": expected a number after \"/\""),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * * */jan *").find("month field \"*/jan\": expected a number at \"jan\""),
            std::string::npos);
  EXPECT_NE(cron_parse_error("*/5/5 * * * *").find("minute field \"*/5/5\": unexpected \"/5\""), std::string::npos);
}

TEST(CronSchedule, RejectsEmptyListItems) {
  for (const char* text : {"1,,2 * * * *", ",1 * * * *", "1, * * * *", ", * * * *"}) {
    std::string message = cron_parse_error(text);
    EXPECT_NE(message.find("minute field"), std::string::npos) << message;
    EXPECT_NE(message.find("empty list item"), std::string::npos) << message;
  }
}

TEST(CronSchedule, RejectsTrailingGarbage) {
  EXPECT_NE(cron_parse_error("5x * * * *").find("minute field \"5x\": unexpected \"x\""), std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * mon!").find("day-of-week field \"mon!\": unexpected \"!\""), std::string::npos);
  EXPECT_NE(cron_parse_error("*-5 * * * *").find("minute field \"*-5\": unexpected \"-5\""), std::string::npos);
  EXPECT_NE(cron_parse_error("** * * * *").find("minute field \"**\": unexpected \"*\""), std::string::npos);
  EXPECT_NE(cron_parse_error("5- * * * *").find("minute field \"5-\": expected a number after \"-\""),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * mon-").find("day-of-week field \"mon-\": expected a value after \"-\""),
            std::string::npos);
  EXPECT_NE(cron_parse_error("-5 * * * *").find("minute field \"-5\": expected a number at \"-5\""), std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * *\n").find("day-of-week field \"*\\n\": unexpected \"\\n\""), std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * * # comment").find("expected 5 fields"), std::string::npos);
}

TEST(CronSchedule, RejectsUnknownAndMisplacedNames) {
  EXPECT_NE(cron_parse_error("* * * foo *").find("month field \"foo\": unknown month name \"foo\" (expected jan..dec)"),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * * january *").find("unknown month name \"january\""), std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * funday").find("day-of-week field \"funday\": unknown day name"),
            std::string::npos);
  EXPECT_NE(
      cron_parse_error("* * * * jan").find("day-of-week field \"jan\": unknown day name \"jan\" (expected sun..sat)"),
      std::string::npos);
  EXPECT_NE(cron_parse_error("jan * * * *").find("minute field \"jan\": expected a number at \"jan\""),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * mon * *").find("day-of-month field \"mon\": expected a number"), std::string::npos);
}

TEST(CronSchedule, RejectsNonAscii) {
  EXPECT_NE(cron_parse_error("\xc3\xa9 * * * *").find("minute field \"\xc3\xa9\": non-ASCII character"),
            std::string::npos);
  EXPECT_NE(cron_parse_error("* * * * mon\xff").find("day-of-week field \"mon\\xff\": non-ASCII character"),
            std::string::npos);
  // No-break space is not a separator.
  EXPECT_NE(cron_parse_error("*\xc2\xa0* * * * *").find("minute field"), std::string::npos);
}

TEST(CronSchedule, RejectsUnknownMacros) {
  EXPECT_NE(cron_parse_error("@often").find("unknown macro \"@often\" (expected @yearly, @annually, @monthly, "
                                            "@weekly, @daily, @midnight or @hourly)"),
            std::string::npos);
  EXPECT_NE(cron_parse_error("@reboot").find("unknown macro \"@reboot\""), std::string::npos);
  EXPECT_NE(cron_parse_error("@").find("unknown macro \"@\""), std::string::npos);
}

TEST(CronSchedule, RejectsMoreThan256Bytes) {
  std::string text = "0 0 * * *" + std::string(256 - 9 + 1, ' ');
  EXPECT_NE(cron_parse_error(text).find("longer than 256 bytes"), std::string::npos);
}

TEST(CronSchedule, RejectsSchedulesThatNeverFire) {
  EXPECT_EQ(cron_parse_error("0 0 30 2 *"),
            "invalid cron schedule \"0 0 30 2 *\": never fires: no month in month field \"2\" has a day in "
            "day-of-month field \"30\"");
  EXPECT_NE(cron_parse_error("0 0 31 4,6,9,11 *").find("never fires"), std::string::npos);
  EXPECT_NE(cron_parse_error("0 0 30-31 feb *").find("never fires"), std::string::npos);
  // The weekday field starts with `*`, so both must match: still never.
  EXPECT_NE(cron_parse_error("0 0 31 apr */2").find("never fires"), std::string::npos);
}

}  // namespace
}  // namespace quern
