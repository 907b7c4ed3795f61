#include "core/duration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

#include "quern/error.h"

namespace quern {
namespace {

using namespace std::chrono_literals;

ErrorCode duration_parse_code(std::string_view text) {
  try {
    parse_duration(text);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "parse_duration(\"" << text << "\") did not throw";
  return ErrorCode::kInternal;
}

std::string duration_parse_error(std::string_view text) {
  try {
    parse_duration(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(parse_duration("250us"), 250us);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("2h"), 2h);
  EXPECT_EQ(parse_duration("1d"), 24h);
}

TEST(ParseDuration, SumsTerms) {
  EXPECT_EQ(parse_duration("1h30m"), 90min);
  EXPECT_EQ(parse_duration("1d2h3m4s5ms6us"), 24h + 2h + 3min + 4s + 5ms + 6us);
  EXPECT_EQ(parse_duration("30m1h"), 90min);
}

TEST(ParseDuration, AcceptsZeroAndLeadingZeros) {
  EXPECT_EQ(parse_duration("0s"), 0s);
  EXPECT_EQ(parse_duration("0ms"), 0s);
  EXPECT_EQ(parse_duration("007s"), 7s);
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* text : {"", "5", "-1s", "5x", "1.5h", "s", "ms5", "1h30", "1H", "5 s", " 5s", "5s ", "+5s",
                           "1h-30m", "5sec", "5mss", "\xff", "1d\n"}) {
    EXPECT_EQ(duration_parse_code(text), ErrorCode::kInvalidArgument) << text;
  }
}

TEST(ParseDuration, MessageNamesTheTextAndTheExpectedForm) {
  EXPECT_EQ(duration_parse_error("5x"), "invalid duration \"5x\": expected e.g. 500ms, 30s, 5m, 2h, 1d");
  EXPECT_EQ(duration_parse_error(""), "invalid duration \"\": expected e.g. 500ms, 30s, 5m, 2h, 1d");
}

TEST(ParseDuration, MessageEscapesControlAndInvalidBytes) {
  EXPECT_EQ(duration_parse_error("5\n\xff"), "invalid duration \"5\\n\\xff\": expected e.g. 500ms, 30s, 5m, 2h, 1d");
}

TEST(ParseDuration, AcceptsUpToAHundredYears) { EXPECT_EQ(parse_duration("36525d"), 36525 * 24h); }

TEST(ParseDuration, RejectsPastAHundredYears) {
  for (const char* text : {"36526d", "36525d1us", "99999999999999999999999999s", "36525d36525d",
                           "9223372036854775807us9223372036854775807us"}) {
    EXPECT_EQ(duration_parse_code(text), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(duration_parse_error(text).find("longer than 100 years"), std::string::npos) << text;
  }
}

TEST(ParseDuration, ReportsMalformedTextBeforeOverflow) {
  EXPECT_NE(duration_parse_error("99999999999999999999999sx").find("expected e.g."), std::string::npos);
}

TEST(ParseDurationOrSeconds, TakesABareNumberAsSeconds) {
  EXPECT_EQ(parse_duration_or_seconds("30"), 30s);
  EXPECT_EQ(parse_duration_or_seconds("0"), 0s);
  EXPECT_EQ(parse_duration_or_seconds("2.5"), 2500ms);
  EXPECT_EQ(parse_duration_or_seconds("0.000001"), 1us);
}

TEST(ParseDurationOrSeconds, TruncatesPastMicroseconds) {
  EXPECT_EQ(parse_duration_or_seconds("0.0000019"), 1us);
  EXPECT_EQ(parse_duration_or_seconds("1.1234569999"), 1123456us);
}

TEST(ParseDurationOrSeconds, StillTakesDurations) {
  EXPECT_EQ(parse_duration_or_seconds("5m"), 5min);
  EXPECT_EQ(parse_duration_or_seconds("1h30m"), 90min);
}

TEST(ParseDurationOrSeconds, RejectsMalformedNumbers) {
  for (const char* text : {"", ".5", "5.", "-1", "+1", "1e3", "1.5h", "1.2.3", "0x10", " 1", "1 ", "1,5"}) {
    try {
      parse_duration_or_seconds(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << text;
      EXPECT_NE(std::string(e.what()).find("expected seconds"), std::string::npos) << e.what();
    }
  }
}

TEST(ParseDurationOrSeconds, RejectsPastAHundredYears) {
  for (const char* text : {"3155760001", "3155760000.000001", "999999999999999999999999"}) {
    try {
      parse_duration_or_seconds(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << text;
    }
  }
  EXPECT_EQ(parse_duration_or_seconds("3155760000"), 36525 * 24h);
}

TEST(FormatDuration, WritesTheShortestExactForm) {
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(1s + 250us), "1s250us");
  EXPECT_EQ(format_duration(24h), "1d");
  EXPECT_EQ(format_duration(48h + 1ms), "2d1ms");
  EXPECT_EQ(format_duration(120s), "2m");
}

TEST(FormatDuration, MarksNegativeDurations) {
  EXPECT_EQ(format_duration(-1500ms), "-1s500ms");
  EXPECT_EQ(format_duration(Duration(std::numeric_limits<int64_t>::min())), "-106751991d4h54s775ms808us");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  const Duration samples[] = {Duration(0), Duration(1),  999us, 1ms, 59s + 999ms, 61min, 36525 * Duration(24h),
                              Duration(123'456'789'012)};
  for (Duration d : samples) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

}  // namespace
}  // namespace quern
