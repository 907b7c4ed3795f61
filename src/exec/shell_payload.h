// The payload of a shell job: {"command":["prog","arg",…], "cwd":"/abs", "env":{"K":"V"}}.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "quern/job.h"

namespace quern {

struct ShellCommand {
  std::vector<std::string> argv;  // non-empty; argv[0] is looked up in PATH
  std::optional<std::string> cwd;  // absolute
  std::map<std::string, std::string> env;
};

// Throws Error(kInvalidArgument) naming what is wrong with the payload.
ShellCommand parse_shell_payload(const Json& payload);

// The payload for a command (validated the same way).
Json make_shell_payload(const ShellCommand& command);

}  // namespace quern
