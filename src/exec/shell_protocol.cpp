#include "exec/shell_protocol.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "core/duration.h"
#include "quern/error.h"

namespace quern {

namespace {

constexpr std::string_view kBlank = " \t\r";
// How much of an offending line a warning quotes: enough to recognise it, not a
// megabyte of JSON.
constexpr size_t kQuotedLineMax = 200;

std::string_view trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kBlank);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kBlank);
  return s.substr(begin, end - begin + 1);
}

shell_line::Malformed malformed(std::string_view command, std::string_view line, std::string_view why) {
  std::string quoted(line.substr(0, kQuotedLineMax));
  if (line.size() > kQuotedLineMax) quoted += "…";
  return {fmt::format("quern: ignored malformed ::{} line \"{}\": {}", command, quoted, why)};
}

// "0.42" or "42%"; anything else, or a value outside [0,1], is nullopt.
std::optional<double> parse_fraction(std::string_view text) {
  bool percent = !text.empty() && text.back() == '%';
  if (percent) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  if (percent) value /= 100;
  if (value < 0 || value > 1) return std::nullopt;
  return value;
}

std::optional<Json> parse_json(std::string_view text) {
  Json value = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

}  // namespace

std::string_view shell_command_of(std::string_view line) {
  if (!line.starts_with("::")) return {};
  const std::string_view command = line.substr(0, line.find_first_of(kBlank));
  for (std::string_view known : {"::progress", "::stage", "::checkpoint", "::result", "::snooze"}) {
    if (command == known) return command;
  }
  return {};
}

ShellLine parse_shell_line(std::string_view line) {
  if (!line.starts_with("::")) return shell_line::Log{line};
  std::string_view rest = line.substr(2);
  size_t name_end = rest.find_first_of(kBlank);
  std::string_view name = rest.substr(0, name_end);
  std::string_view arg = name_end == std::string_view::npos ? std::string_view() : trim(rest.substr(name_end));

  if (name == "progress") {
    if (auto fraction = parse_fraction(arg)) return shell_line::Progress{*fraction};
    return malformed(name, line, "expected a fraction in [0,1] such as 0.42, or a percentage such as 42%");
  }
  if (name == "stage") {
    if (arg.empty()) return malformed(name, line, "expected a stage name");
    return shell_line::Stage{std::string(arg)};
  }
  if (name == "checkpoint" || name == "result") {
    auto value = parse_json(arg);
    if (!value) return malformed(name, line, "expected one JSON value");
    if (name == "checkpoint") return shell_line::Checkpoint{std::move(*value)};
    return shell_line::Result{std::move(*value)};
  }
  if (name == "snooze") {
    try {
      return shell_line::Snooze{parse_duration(arg)};
    } catch (const Error& e) {
      return malformed(name, line, e.what());
    }
  }
  return shell_line::Log{line};
}

}  // namespace quern
