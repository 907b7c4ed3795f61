#include "core/time_format.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

#include "quern/error.h"

namespace quern {
namespace {

using namespace std::chrono_literals;

// 2026-11-25T10:24:00Z
const Time kExample = from_micros(1'795'602'240'000'000);

ErrorCode time_parse_code(std::string_view text) {
  try {
    parse_rfc3339(text);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "parse_rfc3339(\"" << text << "\") did not throw";
  return ErrorCode::kInternal;
}

TEST(ParseRfc3339, ParsesUtc) {
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00Z"), kExample);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), from_micros(0));
}

TEST(ParseRfc3339, AcceptsLowerCaseSeparatorAndZone) {
  EXPECT_EQ(parse_rfc3339("2026-11-25t10:24:00z"), kExample);
  EXPECT_EQ(parse_rfc3339("2026-11-25t10:24:00Z"), kExample);
}

TEST(ParseRfc3339, AppliesOffsets) {
  EXPECT_EQ(parse_rfc3339("2026-11-25T12:24:00+02:00"), kExample);
  EXPECT_EQ(parse_rfc3339("2026-11-25T04:54:00-05:30"), kExample);
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00+00:00"), kExample);
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00-00:00"), kExample);
  EXPECT_EQ(parse_rfc3339("2026-11-26T00:24:00+14:00"), kExample);
}

TEST(ParseRfc3339, ReadsFractionsUpToNanosecondsTruncatedToMicroseconds) {
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00.5Z"), kExample + 500ms);
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00.123Z"), kExample + 123ms);
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00.123456Z"), kExample + 123456us);
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00.123456789Z"), kExample + 123456us);
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:24:00.000000999Z"), kExample);
}

TEST(ParseRfc3339, KnowsLeapYears) {
  EXPECT_NO_THROW(parse_rfc3339("2024-02-29T00:00:00Z"));
  EXPECT_NO_THROW(parse_rfc3339("2000-02-29T00:00:00Z"));
  EXPECT_EQ(time_parse_code("2023-02-29T00:00:00Z"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(time_parse_code("1900-02-29T00:00:00Z"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(time_parse_code("2100-02-29T00:00:00Z"), ErrorCode::kInvalidArgument);
}

TEST(ParseRfc3339, RejectsImpossibleDatesAndTimes) {
  for (const char* text : {"2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
                           "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
                           "2026-01-01T23:60:00Z", "2026-12-31T23:59:60Z", "2026-01-01T00:00:00+24:00",
                           "2026-01-01T00:00:00+01:60"}) {
    EXPECT_EQ(time_parse_code(text), ErrorCode::kInvalidArgument) << text;
  }
}

TEST(ParseRfc3339, RejectsOtherForms) {
  for (const char* text : {"", "2026-11-25", "2026-11-25T10:24Z", "2026-11-25T10:24:00", "2026-11-25 10:24:00Z",
                           "2026-11-25T10:24:00+0200", "2026-11-25T10:24:00+02", "2026-11-25T10:24:00.Z",
                           "2026-11-25T10:24:00.1234567890Z", "26-11-25T10:24:00Z", "2026-1-25T10:24:00Z",
                           "2026-11-25T10:24:00ZZ", "2026-11-25T10:24:00Z ", " 2026-11-25T10:24:00Z",
                           "+2026-11-25T10:24:00Z", "2026/11/25T10:24:00Z", "2026-11-25T10:24:00UTC",
                           "2026-11-25T10:24:0aZ", "1795602240", "2026-11-25T10:24:00,5Z"}) {
    EXPECT_EQ(time_parse_code(text), ErrorCode::kInvalidArgument) << text;
  }
}

TEST(ParseRfc3339, RejectsTimesOutsideFourDigitYearsInUtc) {
  EXPECT_EQ(time_parse_code("0000-01-01T00:00:00+00:01"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(time_parse_code("9999-12-31T23:59:59-00:01"), ErrorCode::kInvalidArgument);
  EXPECT_NO_THROW(parse_rfc3339("0000-01-01T00:00:00Z"));
  EXPECT_NO_THROW(parse_rfc3339("9999-12-31T23:59:59.999999Z"));
}

TEST(ParseRfc3339, MessageSaysWhatIsExpected) {
  try {
    parse_rfc3339("tomorrow");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "invalid time \"tomorrow\": expected RFC 3339, e.g. 2026-11-25T10:24:00Z or 2026-11-25T12:24:00+02:00");
  }
}

TEST(FormatRfc3339, WritesUtcWithoutAFractionWhenWhole) {
  EXPECT_EQ(format_rfc3339(kExample), "2026-11-25T10:24:00Z");
  EXPECT_EQ(format_rfc3339(from_micros(0)), "1970-01-01T00:00:00Z");
}

TEST(FormatRfc3339, WritesMillisecondsOrMicroseconds) {
  EXPECT_EQ(format_rfc3339(kExample + 123ms), "2026-11-25T10:24:00.123Z");
  EXPECT_EQ(format_rfc3339(kExample + 120ms), "2026-11-25T10:24:00.120Z");
  EXPECT_EQ(format_rfc3339(kExample + 123456us), "2026-11-25T10:24:00.123456Z");
  EXPECT_EQ(format_rfc3339(kExample + 1us), "2026-11-25T10:24:00.000001Z");
}

TEST(FormatRfc3339, HandlesTimesBeforeTheEpoch) {
  EXPECT_EQ(format_rfc3339(from_micros(-1)), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339(parse_rfc3339("0000-01-01T00:00:00Z")), "0000-01-01T00:00:00Z");
}

TEST(FormatRfc3339, ClampsTimesOutsideFourDigitYears) {
  EXPECT_EQ(format_rfc3339(from_micros(std::numeric_limits<int64_t>::min())), "0000-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(from_micros(std::numeric_limits<int64_t>::max())), "9999-12-31T23:59:59.999999Z");
}

TEST(FormatRfc3339, RoundTripsThroughParse) {
  for (Time t : {kExample, kExample + 1us, kExample + 999ms, from_micros(-123'456'789), from_micros(951'782'400'000'000),
                 parse_rfc3339("9999-12-31T23:59:59.999999Z")}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << format_rfc3339(t);
  }
}

}  // namespace
}  // namespace quern
