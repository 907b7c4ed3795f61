// Human output: aligned tables like pueue's status, relative ages, commands quoted
// so they can be pasted back into a shell.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "quern/job.h"

namespace quern::cli {

// Columns padded to their widest cell (counted in characters, not bytes); the last
// column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void add_row(std::vector<std::string> cells);
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

// "3s ago", "5m ago", "2h ago", "4d ago"; a future time reads "in 5m".
std::string format_relative_time(Time t, Time now);

// A shell job's argv quoted for a POSIX shell, or the job's type for other jobs.
std::string describe_command(const Job& job);

// The argument quoted for a POSIX shell only when it needs it.
std::string shell_quote(const std::string& argument);

// "42%", "42% encode", "encode", or "" when nothing was reported.
std::string describe_progress(const Job& job);

// Cuts text to at most `max_chars` characters, ending in "…" when cut.
std::string truncate_text(const std::string& text, size_t max_chars);

// The `quern ls` table: id, state, queue, command, priority, attempt,
// failures of max attempts, progress and stage, age.
void print_job_table(const std::vector<Job>& jobs, Time now, std::ostream& out);

}  // namespace quern::cli
