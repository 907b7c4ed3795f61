// JSON on stdout for --json: indented for a person at a terminal, one compact line
// when piped to a program.
#pragma once

#include "quern/job.h"

namespace quern::cli {

void print_json(const Json& value);

}  // namespace quern::cli
