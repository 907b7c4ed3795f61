// The `::` protocol a shell job speaks on its stdout: one command per line.
//
//   ::progress 0.42   or  ::progress 42%      progress in [0,1]
//   ::stage NAME                              the rest of the line, trimmed
//   ::checkpoint {json}                       any JSON value, saved durably
//   ::result {json}                           any JSON value, the job's result on exit 0
//   ::snooze DUR                              how long to wait when the command exits 75
//
// A line that does not start with `::`, or names no command above (`::1 localhost`),
// is log text. A known command with a bad argument is not acted on; the caller logs
// the warning instead, so a typo never silently changes the job.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "quern/clock.h"
#include "quern/job.h"

namespace quern {

namespace shell_line {

struct Log {
  std::string_view text;
};
struct Progress {
  double fraction = 0;
};
struct Stage {
  std::string name;
};
struct Checkpoint {
  Json value;
};
struct Result {
  Json value;
};
struct Snooze {
  Duration duration{};
};
// A known command with an argument that does not parse.
struct Malformed {
  std::string warning;  // one line, e.g. `quern: ignored malformed ::progress line: …`
};

}  // namespace shell_line

using ShellLine = std::variant<shell_line::Log, shell_line::Progress, shell_line::Stage, shell_line::Checkpoint,
                               shell_line::Result, shell_line::Snooze, shell_line::Malformed>;

// Parses one stdout line, without its newline (a trailing '\r' is tolerated). A Log
// result views `line`, so it lives no longer than `line`. Never throws.
ShellLine parse_shell_line(std::string_view line);

// The known command a line (or the start of one) names, as "::result"; empty for log text.
std::string_view shell_command_of(std::string_view line);

}  // namespace quern
