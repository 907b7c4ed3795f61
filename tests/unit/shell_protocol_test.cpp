// The shell job's `::` protocol, the pieces that read its output (line splitting, log
// batching), and the shell payload schema.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "exec/line_splitter.h"
#include "exec/log_batcher.h"
#include "exec/shell_payload.h"
#include "exec/shell_protocol.h"
#include "quern/error.h"

namespace quern {
namespace {

using namespace std::chrono_literals;

template <class T>
T parse_as(std::string_view line) {
  ShellLine parsed = parse_shell_line(line);
  EXPECT_TRUE(std::holds_alternative<T>(parsed)) << "line: " << line << ", got variant index " << parsed.index();
  if (!std::holds_alternative<T>(parsed)) return T{};
  return std::get<T>(parsed);
}

std::string malformed_warning(std::string_view line) { return parse_as<shell_line::Malformed>(line).warning; }

// --- parse_shell_line ---

TEST(ShellProtocol, PlainLineIsLogText) {
  EXPECT_EQ(parse_as<shell_line::Log>("hello world").text, "hello world");
  EXPECT_EQ(parse_as<shell_line::Log>("").text, "");
  EXPECT_EQ(parse_as<shell_line::Log>(" ::progress 0.5").text, " ::progress 0.5");
  EXPECT_EQ(parse_as<shell_line::Log>(":progress 0.5").text, ":progress 0.5");
}

TEST(ShellProtocol, UnknownCommandIsLogText) {
  EXPECT_EQ(parse_as<shell_line::Log>("::1 localhost").text, "::1 localhost");
  EXPECT_EQ(parse_as<shell_line::Log>("::progressive 0.5").text, "::progressive 0.5");
  EXPECT_EQ(parse_as<shell_line::Log>("::").text, "::");
  EXPECT_EQ(parse_as<shell_line::Log>("::PROGRESS 0.5").text, "::PROGRESS 0.5");
}

TEST(ShellProtocol, CommandOfALineNamesOnlyKnownCommands) {
  EXPECT_EQ(shell_command_of("::result {\"a\":"), "::result");
  EXPECT_EQ(shell_command_of("::progress\t0.5"), "::progress");
  EXPECT_EQ(shell_command_of("::snooze"), "::snooze");
  EXPECT_EQ(shell_command_of("::resulted 1"), "");
  EXPECT_EQ(shell_command_of("::frobnicate x"), "");
  EXPECT_EQ(shell_command_of("result 1"), "");
}

TEST(ShellProtocol, ProgressAsFraction) {
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 0.42").fraction, 0.42);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 0").fraction, 0.0);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 1").fraction, 1.0);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 1.0").fraction, 1.0);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress .5").fraction, 0.5);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 4.2e-1").fraction, 0.42);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress\t  0.25  ").fraction, 0.25);
}

TEST(ShellProtocol, ProgressAsPercentage) {
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 42%").fraction, 0.42);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 0%").fraction, 0.0);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 100%").fraction, 1.0);
  EXPECT_DOUBLE_EQ(parse_as<shell_line::Progress>("::progress 12.5%").fraction, 0.125);
}

TEST(ShellProtocol, ProgressOutsideZeroToOneIsMalformed) {
  for (const char* line : {"::progress 1.01", "::progress -0.1", "::progress 101%", "::progress -1%", "::progress 42"}) {
    EXPECT_NE(malformed_warning(line).find("ignored malformed ::progress line"), std::string::npos) << line;
  }
}

TEST(ShellProtocol, ProgressThatIsNotANumberIsMalformed) {
  for (const char* line : {"::progress", "::progress ", "::progress abc", "::progress 0.5 done", "::progress 0.5%%",
                           "::progress %", "::progress nan", "::progress inf", "::progress +0.5", "::progress 0,5",
                           "::progress 42 %"}) {
    EXPECT_NE(malformed_warning(line).find("ignored malformed ::progress line"), std::string::npos) << line;
  }
}

TEST(ShellProtocol, MalformedWarningQuotesTheLineAndSaysWhy) {
  std::string warning = malformed_warning("::progress lots");
  EXPECT_EQ(warning,
            "quern: ignored malformed ::progress line \"::progress lots\": expected a fraction in [0,1] such as 0.42, "
            "or a percentage such as 42%");
}

TEST(ShellProtocol, MalformedWarningQuotesAtMostTheStartOfAHugeLine) {
  std::string line = "::checkpoint {" + std::string(100'000, 'x');
  std::string warning = malformed_warning(line);
  EXPECT_LT(warning.size(), 400u);
  EXPECT_NE(warning.find("::checkpoint {xxx"), std::string::npos);
}

TEST(ShellProtocol, StageIsTheRestOfTheLineTrimmed) {
  EXPECT_EQ(parse_as<shell_line::Stage>("::stage transcode").name, "transcode");
  EXPECT_EQ(parse_as<shell_line::Stage>("::stage   upload to s3  ").name, "upload to s3");
  EXPECT_EQ(parse_as<shell_line::Stage>("::stage\tvalidate\r").name, "validate");
}

TEST(ShellProtocol, StageWithoutANameIsMalformed) {
  EXPECT_NE(malformed_warning("::stage").find("::stage"), std::string::npos);
  EXPECT_NE(malformed_warning("::stage   ").find("expected a stage name"), std::string::npos);
}

TEST(ShellProtocol, CheckpointIsAnyJsonValue) {
  EXPECT_EQ(parse_as<shell_line::Checkpoint>(R"(::checkpoint {"offset": 42, "file": "a b"})").value,
            Json({{"offset", 42}, {"file", "a b"}}));
  EXPECT_EQ(parse_as<shell_line::Checkpoint>("::checkpoint [1,2]").value, Json({1, 2}));
  EXPECT_EQ(parse_as<shell_line::Checkpoint>("::checkpoint 7").value, Json(7));
  EXPECT_EQ(parse_as<shell_line::Checkpoint>(R"(::checkpoint "op-123")").value, Json("op-123"));
  EXPECT_EQ(parse_as<shell_line::Checkpoint>("::checkpoint null").value, Json(nullptr));
}

TEST(ShellProtocol, CheckpointThatIsNotJsonIsMalformed) {
  for (const char* line : {"::checkpoint", "::checkpoint {", "::checkpoint {\"a\":1} trailing", "::checkpoint op-123",
                           "::checkpoint {'a':1}"}) {
    EXPECT_NE(malformed_warning(line).find("ignored malformed ::checkpoint line"), std::string::npos) << line;
  }
  EXPECT_NE(malformed_warning("::checkpoint \"\xff\"").find("expected one JSON value"), std::string::npos);
}

TEST(ShellProtocol, ResultIsAnyJsonValue) {
  EXPECT_EQ(parse_as<shell_line::Result>(R"(::result {"frames": 1200})").value, Json({{"frames", 1200}}));
  EXPECT_EQ(parse_as<shell_line::Result>("::result true").value, Json(true));
  EXPECT_EQ(parse_as<shell_line::Result>("::result {\"ok\":1}\r").value, Json({{"ok", 1}}));
}

TEST(ShellProtocol, ResultThatIsNotJsonIsMalformed) {
  for (const char* line : {"::result", "::result done", "::result {\"a\":}"}) {
    EXPECT_NE(malformed_warning(line).find("ignored malformed ::result line"), std::string::npos) << line;
  }
}

TEST(ShellProtocol, SnoozeTakesADuration) {
  EXPECT_EQ(parse_as<shell_line::Snooze>("::snooze 30s").duration, Duration(30s));
  EXPECT_EQ(parse_as<shell_line::Snooze>("::snooze 500ms").duration, Duration(500ms));
  EXPECT_EQ(parse_as<shell_line::Snooze>("::snooze 1h30m").duration, Duration(90min));
  EXPECT_EQ(parse_as<shell_line::Snooze>("::snooze  2m ").duration, Duration(2min));
}

TEST(ShellProtocol, SnoozeWithoutAValidDurationIsMalformed) {
  for (const char* line : {"::snooze", "::snooze soon", "::snooze -5s", "::snooze 5 s", "::snooze 5x"}) {
    EXPECT_NE(malformed_warning(line).find("ignored malformed ::snooze line"), std::string::npos) << line;
  }
}

// --- LineSplitter ---

struct Piece {
  std::string text;
  bool starts_line;
  bool ends_line;
  bool operator==(const Piece&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Piece& p) {
  return os << "{\"" << p.text << "\", " << p.starts_line << ", " << p.ends_line << "}";
}

class Collector {
 public:
  LinePieceCallback callback() {
    return [this](const LinePiece& p) { pieces.push_back({std::string(p.text), p.starts_line, p.ends_line}); };
  }
  std::vector<Piece> pieces;
};

TEST(LineSplitter, SplitsOnNewlines) {
  LineSplitter splitter(100);
  Collector out;
  splitter.feed("one\ntwo\n\nthree", out.callback());
  EXPECT_EQ(out.pieces, (std::vector<Piece>{{"one", true, true}, {"two", true, true}, {"", true, true}}));
  splitter.finish(out.callback());
  EXPECT_EQ(out.pieces.back(), (Piece{"three", true, true}));
  EXPECT_EQ(out.pieces.size(), 4u);
}

TEST(LineSplitter, JoinsALineFedInBits) {
  LineSplitter splitter(100);
  Collector out;
  for (char c : std::string("ab\ncd\n")) splitter.feed(std::string_view(&c, 1), out.callback());
  EXPECT_EQ(out.pieces, (std::vector<Piece>{{"ab", true, true}, {"cd", true, true}}));
}

TEST(LineSplitter, HandsOnALongLineInPiecesOfTheLimit) {
  LineSplitter splitter(4);
  Collector out;
  splitter.feed("abcdefghij\nxy\n", out.callback());
  EXPECT_EQ(out.pieces, (std::vector<Piece>{
                            {"abcd", true, false}, {"efgh", false, false}, {"ij", false, true}, {"xy", true, true}}));
}

TEST(LineSplitter, ALineOfExactlyTheLimitIsWhole) {
  LineSplitter splitter(4);
  Collector out;
  splitter.feed("abcd", out.callback());
  splitter.feed("\n", out.callback());
  EXPECT_EQ(out.pieces, (std::vector<Piece>{{"abcd", true, true}}));
}

TEST(LineSplitter, FinishAfterAFullPieceAddsNothingEmpty) {
  LineSplitter splitter(4);
  Collector out;
  splitter.feed("abcdefgh", out.callback());
  splitter.finish(out.callback());
  EXPECT_EQ(out.pieces, (std::vector<Piece>{{"abcd", true, false}, {"efgh", false, true}}));
  splitter.finish(out.callback());
  EXPECT_EQ(out.pieces.size(), 2u);
}

// --- LogBatcher ---

TEST(LogBatcher, HoldsLinesUntilFlushed) {
  std::vector<std::string> sent;
  LogBatcher batcher([&](const std::string& text) { sent.push_back(text); }, 1024, 100ms);
  EXPECT_FALSE(batcher.deadline().has_value());
  batcher.add_line("one");
  batcher.add_line("two");
  EXPECT_TRUE(sent.empty());
  ASSERT_TRUE(batcher.deadline().has_value());
  batcher.flush();
  EXPECT_EQ(sent, (std::vector<std::string>{"one\ntwo\n"}));
  EXPECT_FALSE(batcher.deadline().has_value());
  batcher.flush();
  EXPECT_EQ(sent.size(), 1u);
}

TEST(LogBatcher, FlushesOnceTheBatchIsFull) {
  std::vector<std::string> sent;
  LogBatcher batcher([&](const std::string& text) { sent.push_back(text); }, 10, 1h);
  batcher.add_line("12345");
  EXPECT_TRUE(sent.empty());
  batcher.add_line("6789");
  EXPECT_EQ(sent, (std::vector<std::string>{"12345\n6789\n"}));
}

TEST(LogBatcher, FlushesWhenTheOldestLineIsDue) {
  std::vector<std::string> sent;
  LogBatcher batcher([&](const std::string& text) { sent.push_back(text); }, 1024, 100ms);
  batcher.add_line("one");
  auto due = *batcher.deadline();
  batcher.flush_if_due(due - 1ms);
  EXPECT_TRUE(sent.empty());
  batcher.add_line("two");
  EXPECT_EQ(*batcher.deadline(), due) << "the oldest pending line sets the deadline";
  batcher.flush_if_due(due);
  EXPECT_EQ(sent, (std::vector<std::string>{"one\ntwo\n"}));
}

// --- shell payload ---

void expect_invalid_payload(const Json& payload, std::string_view message_part) {
  try {
    parse_shell_payload(payload);
    ADD_FAILURE() << "accepted " << payload.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << payload.dump();
    EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << e.what();
  }
}

TEST(ShellPayload, ParsesCommandCwdAndEnv) {
  ShellCommand command = parse_shell_payload(
      {{"command", {"ffmpeg", "-i", "in.mkv", ""}}, {"cwd", "/srv/media"}, {"env", {{"LANG", "C"}, {"X", ""}}}});
  EXPECT_EQ(command.argv, (std::vector<std::string>{"ffmpeg", "-i", "in.mkv", ""}));
  EXPECT_EQ(command.cwd, "/srv/media");
  EXPECT_EQ(command.env, (std::map<std::string, std::string>{{"LANG", "C"}, {"X", ""}}));
}

TEST(ShellPayload, CwdAndEnvAreOptional) {
  ShellCommand command = parse_shell_payload({{"command", {"true"}}});
  EXPECT_EQ(command.argv, std::vector<std::string>{"true"});
  EXPECT_FALSE(command.cwd.has_value());
  EXPECT_TRUE(command.env.empty());
  command = parse_shell_payload({{"command", {"true"}}, {"cwd", nullptr}, {"env", nullptr}});
  EXPECT_FALSE(command.cwd.has_value());
}

TEST(ShellPayload, RejectsABadCommand) {
  expect_invalid_payload(Json::array({"true"}), "must be an object");
  expect_invalid_payload(Json::object(), "\"command\" is missing");
  expect_invalid_payload({{"command", "echo hi"}}, "non-empty array of strings");
  expect_invalid_payload({{"command", Json::array()}}, "non-empty array of strings");
  expect_invalid_payload({{"command", {"echo", 1}}}, "\"command\"[1] must be a string");
  expect_invalid_payload({{"command", {""}}}, "must not be empty");
  expect_invalid_payload({{"command", {"echo", std::string("a\0b", 3)}}}, "NUL");
}

TEST(ShellPayload, RejectsARelativeOrNonStringCwd) {
  expect_invalid_payload({{"command", {"true"}}, {"cwd", "media"}}, "absolute path");
  expect_invalid_payload({{"command", {"true"}}, {"cwd", ""}}, "absolute path");
  expect_invalid_payload({{"command", {"true"}}, {"cwd", 5}}, "\"cwd\" must be a string");
}

TEST(ShellPayload, RejectsABadEnv) {
  expect_invalid_payload({{"command", {"true"}}, {"env", {"A=B"}}}, "\"env\" must be an object");
  expect_invalid_payload({{"command", {"true"}}, {"env", {{"N", 1}}}}, "value of N must be a string");
  expect_invalid_payload({{"command", {"true"}}, {"env", {{"A=B", "x"}}}}, "not a valid variable name");
  expect_invalid_payload({{"command", {"true"}}, {"env", {{"", "x"}}}}, "not a valid variable name");
  expect_invalid_payload({{"command", {"true"}}, {"env", {{"QUERN_JOB_ID", "7"}}}}, "Quern sets it");
  expect_invalid_payload({{"command", {"true"}}, {"env", {{"QUERN_TMPDIR", "/"}}}}, "Quern sets it");
}

TEST(ShellPayload, RejectsUnknownKeys) {
  expect_invalid_payload({{"command", {"true"}}, {"cmd", {"true"}}}, "unknown key \"cmd\"");
}

TEST(ShellPayload, MakeBuildsWhatParseReads) {
  ShellCommand command{{"sh", "-c", "echo hi"}, "/tmp", {{"A", "1"}}};
  Json payload = make_shell_payload(command);
  EXPECT_EQ(payload, Json({{"command", {"sh", "-c", "echo hi"}}, {"cwd", "/tmp"}, {"env", {{"A", "1"}}}}));
  ShellCommand back = parse_shell_payload(payload);
  EXPECT_EQ(back.argv, command.argv);
  EXPECT_EQ(back.cwd, command.cwd);
  EXPECT_EQ(back.env, command.env);
  EXPECT_EQ(make_shell_payload({{"true"}, std::nullopt, {}}), Json({{"command", {"true"}}}));
}

TEST(ShellPayload, MakeValidatesToo) {
  try {
    make_shell_payload({{"true"}, "relative/dir", {}});
    ADD_FAILURE() << "accepted a relative cwd";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_THROW(make_shell_payload({{}, std::nullopt, {}}), Error);
}

}  // namespace
}  // namespace quern
