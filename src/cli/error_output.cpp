#include "cli/error_output.h"

#include <iostream>

namespace quern::cli {

void print_error_line(std::string message) {
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!message.empty() && message.back() == ' ') message.pop_back();
  // One write, so the line is never interleaved with another process's output.
  std::cerr << "quern: " + message + "\n" << std::flush;
}

}  // namespace quern::cli
