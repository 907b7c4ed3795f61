#include "core/payload.h"

#include <gtest/gtest.h>

#include <string>

#include "quern/error.h"

namespace quern {
namespace {

Error error_of_parse(std::string_view text, size_t max_bytes = kDefaultMaxPayloadBytes) {
  try {
    parse_payload(text, max_bytes);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "parse_payload accepted " << text.substr(0, 40);
  return Error::internal("no error");
}

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ParsePayload, ParsesAnyJsonValue) {
  EXPECT_EQ(parse_payload(R"({"file":"/media/a.mkv","n":3})"), (Json{{"file", "/media/a.mkv"}, {"n", 3}}));
  EXPECT_EQ(parse_payload("[1,2]"), Json::array({1, 2}));
  EXPECT_EQ(parse_payload("\"text\""), Json("text"));
  EXPECT_EQ(parse_payload(" null "), Json(nullptr));
  EXPECT_EQ(parse_payload(R"({"name":"caf\u00e9 ☕"})")["name"], "café ☕");
}

TEST(ParsePayload, RejectsMalformedJsonWithThePosition) {
  Error e = error_of_parse("{\"a\":}");
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("invalid payload: parse error at line 1, column 6"), std::string::npos)
      << e.what();
}

// A later member of the same name would silently replace the earlier one.
TEST(ParsePayload, RejectsAMemberNamedTwiceInOneObject) {
  for (const char* text : {R"({"a":1,"a":2})", R"({"a":{"b":1,"b":1}})", R"([{"x":1},{"y":[{"z":1,"z":2}]}])",
                           R"({"a":[{"a":1}],"a":3})"}) {
    const Error e = error_of_parse(text);
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(std::string(e.what()).find("appears twice in one object"), std::string::npos) << e.what();
  }
  EXPECT_NE(std::string(error_of_parse(R"({"a\n":1,"a\n":2})").what()).find(R"("a\n")"), std::string::npos);
  // The same name in different objects is fine.
  EXPECT_EQ(parse_payload(R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]})")["b"][1]["a"], 2);
}

TEST(ParsePayload, RejectsWhatIsNotJson) {
  for (const char* text : {"", " ", "{", "}", "{\"a\":1,}", "[1 2]", "'single'", "{a:1}", "nul", "01", "1 2",
                           "\"unterminated", "{\"a\":1}x"}) {
    EXPECT_EQ(error_of_parse(text).code(), ErrorCode::kInvalidArgument) << text;
  }
}

TEST(ParsePayload, RejectsInvalidUtf8) {
  for (const char* text : {"\"\xff\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "\xef\xbb\xbf\xff",
                           "{\"\xfe\":1}"}) {
    Error e = error_of_parse(text);
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT_EQ(message.find('\xff'), std::string::npos);
  }
}

TEST(ParsePayload, RejectsNumbersOutOfRange) {
  EXPECT_EQ(error_of_parse("1e999").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of_parse("[-1e400]").code(), ErrorCode::kInvalidArgument);
}

// nlohmann keeps an integer past 64 bits as a double, which changes its digits: refused.
TEST(ParsePayload, RejectsIntegersBeyond64BitsButKeepsThoseWithin) {
  const Error e = error_of_parse(R"({"n":123456789012345678901234567890})");
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("123456789012345678901234567890 does not fit in 64 bits"), std::string::npos)
      << e.what();
  EXPECT_EQ(error_of_parse("[-9223372036854775809]").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of_parse("18446744073709551616").code(), ErrorCode::kInvalidArgument);
  const Json edges = parse_payload(R"([18446744073709551615,-9223372036854775808,1.5e300,2e3,0.1])");
  EXPECT_EQ(edges[0].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(edges[1].get<int64_t>(), INT64_MIN);
  EXPECT_DOUBLE_EQ(edges[2].get<double>(), 1.5e300);
  EXPECT_DOUBLE_EQ(edges[3].get<double>(), 2000);
}

TEST(ParsePayload, RejectsOversizeTextBeforeParsingIt) {
  std::string big(2'000'000, '{');
  Error e = error_of_parse(big);
  EXPECT_EQ(e.code(), ErrorCode::kTooLarge);
  EXPECT_STREQ(e.what(), "payload is 2000000 bytes; the limit is 1048576");
}

TEST(ParsePayload, AcceptsTextAtTheLimit) {
  std::string at_limit = "\"" + std::string(98, 'x') + "\"";
  EXPECT_EQ(parse_payload(at_limit, 100), Json(std::string(98, 'x')));
  EXPECT_EQ(error_of_parse(at_limit + " ", 100).code(), ErrorCode::kTooLarge);
}

TEST(ParsePayload, RejectsDeepNesting) {
  EXPECT_NO_THROW(parse_payload(nested_arrays(512)));
  Error e = error_of_parse(nested_arrays(513));
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "invalid payload: nested deeper than 512 levels");
  EXPECT_EQ(error_of_parse(std::string(1'000'000, '[')).code(), ErrorCode::kInvalidArgument);
}

TEST(ParsePayload, DoesNotCountBracketsInsideStrings) {
  std::string text = "{\"brackets\":\"" + std::string(600, '[') + "\\\"" + std::string(600, '{') + "\"}";
  EXPECT_EQ(parse_payload(text)["brackets"].get<std::string>().size(), 1201u);
}

}  // namespace
}  // namespace quern
