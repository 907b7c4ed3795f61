#include "cli/json_output.h"

#include <unistd.h>

#include <iostream>

namespace quern::cli {

void print_json(const Json& value) {
  static const bool to_terminal = isatty(STDOUT_FILENO) == 1;
  // Replace invalid UTF-8 (a job's log or error text) instead of throwing mid-output.
  std::cout << value.dump(to_terminal ? 2 : -1, ' ', false, Json::error_handler_t::replace) << '\n';
}

}  // namespace quern::cli
