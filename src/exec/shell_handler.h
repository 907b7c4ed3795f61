// The handler for jobs of type "shell": runs the command by argv in its own process
// group and speaks the `::` protocol on its stdout (see the README).
#pragma once

#include "quern/worker_pool.h"

namespace quern {

struct ShellHandlerOptions {
  // After SIGTERM to the process group, how long before SIGKILL.
  Duration kill_grace{std::chrono::seconds(2)};
  // Log text is flushed to the job at most this often (and at exit).
  Duration log_flush_interval{std::chrono::milliseconds(100)};
};

Handler make_shell_handler(ShellHandlerOptions options = {});

}  // namespace quern
