#include "core/priority.h"

#include <gtest/gtest.h>

#include <string>

#include "quern/error.h"
#include "quern/job.h"

namespace quern {
namespace {

std::string priority_parse_error(std::string_view text) {
  try {
    parse_priority(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << text;
    return e.what();
  }
  ADD_FAILURE() << "parse_priority(\"" << text << "\") did not throw";
  return "";
}

TEST(ParsePriority, AcceptsNamedLevels) {
  EXPECT_EQ(parse_priority("low"), kPriorityLow);
  EXPECT_EQ(parse_priority("normal"), kPriorityNormal);
  EXPECT_EQ(parse_priority("high"), kPriorityHigh);
  EXPECT_EQ(parse_priority("critical"), kPriorityCritical);
}

TEST(ParsePriority, NamesIgnoreLetterCase) {
  EXPECT_EQ(parse_priority("HIGH"), kPriorityHigh);
  EXPECT_EQ(parse_priority("Critical"), kPriorityCritical);
  EXPECT_EQ(parse_priority("lOw"), kPriorityLow);
}

TEST(ParsePriority, AcceptsSignedIntegers) {
  EXPECT_EQ(parse_priority("0"), 0);
  EXPECT_EQ(parse_priority("-0"), 0);
  EXPECT_EQ(parse_priority("15"), 15);
  EXPECT_EQ(parse_priority("+15"), 15);
  EXPECT_EQ(parse_priority("-15"), -15);
  EXPECT_EQ(parse_priority("007"), 7);
}

TEST(ParsePriority, AcceptsTheRangeEnds) {
  EXPECT_EQ(parse_priority("1000000"), 1'000'000);
  EXPECT_EQ(parse_priority("-1000000"), -1'000'000);
}

TEST(ParsePriority, RejectsOutOfRange) {
  for (const char* text : {"1000001", "-1000001", "2147483648", "99999999999999999999999999"}) {
    EXPECT_NE(priority_parse_error(text).find("out of range [-1000000, 1000000]"), std::string::npos) << text;
  }
}

TEST(ParsePriority, RejectsWhatIsNotAPriority) {
  for (const char* text : {"", "1.5", "10abc", "abc", " 5", "5 ", "+", "-", "+-1", "--1", "lowest", "hi", "1e3",
                           "0x10", "\xff"}) {
    EXPECT_NE(priority_parse_error(text).find("expected low, normal, high, critical or an integer"), std::string::npos)
        << text;
  }
}

TEST(ParsePriority, MessageQuotesTheText) {
  EXPECT_EQ(priority_parse_error("urgent"),
            "invalid priority \"urgent\": expected low, normal, high, critical or an integer");
}

}  // namespace
}  // namespace quern
