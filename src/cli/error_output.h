// The one form every error of `quern` takes: a single line `quern: …` on stderr.
#pragma once

#include <string>

namespace quern::cli {

// Prints `quern: <message>`, with any line breaks in the message folded into spaces.
void print_error_line(std::string message);

}  // namespace quern::cli
