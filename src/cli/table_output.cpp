#include "cli/table_output.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ostream>

#include "exec/shell_payload.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

// Characters, not bytes: UTF-8 continuation bytes do not start a character.
size_t display_width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string format_age_amount(int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

// Control characters (a newline in an argument) would break a table row.
std::string single_line(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

}  // namespace

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

void Table::print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - display_width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

std::string format_relative_time(Time t, Time now) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - t).count();
  if (seconds < 0) return "in " + format_age_amount(-seconds);
  return format_age_amount(seconds) + " ago";
}

std::string shell_quote(const std::string& argument) {
  if (argument.empty()) return "''";
  const bool plain = std::all_of(argument.begin(), argument.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./=:,+%@").find(c) != std::string_view::npos;
  });
  if (plain) return argument;
  std::string quoted = "'";
  for (char c : argument) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string describe_command(const Job& job) {
  if (job.type != kShellType) return job.type;
  try {
    const ShellCommand command = parse_shell_payload(job.payload);
    std::string text;
    for (const auto& argument : command.argv) {
      if (!text.empty()) text += ' ';
      text += shell_quote(argument);
    }
    return single_line(text);
  } catch (const Error&) {
    return job.type;  // a typed shell job whose payload is not a command
  }
}

std::string describe_progress(const Job& job) {
  std::string text;
  if (job.progress > 0 || job.state == JobState::kRunning) {
    text = std::to_string(static_cast<int>(std::floor(job.progress * 100))) + "%";
  }
  if (!job.stage.empty()) {
    if (!text.empty()) text += ' ';
    text += single_line(job.stage);
  }
  return text;
}

std::string truncate_text(const std::string& text, size_t max_chars) {
  if (display_width(text) <= max_chars) return text;
  std::string cut;
  size_t chars = 0;
  for (char c : text) {
    const bool starts_char = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (starts_char && ++chars > max_chars - 1) break;
    cut += c;
  }
  return cut + "…";
}

void print_job_table(const std::vector<Job>& jobs, Time now, std::ostream& out) {
  Table table({"ID", "STATE", "QUEUE", "COMMAND", "PRIO", "ATTEMPT", "FAILS", "PROGRESS", "AGE"});
  for (const Job& job : jobs) {
    std::string progress = describe_progress(job);
    if (progress.empty() && job.state == JobState::kScheduled) progress = "runs " + format_relative_time(job.run_at, now);
    table.add_row({std::to_string(job.id), std::string(state_name(job.state)), job.queue,
                   truncate_text(describe_command(job), 48), std::to_string(job.priority),
                   std::to_string(job.attempt), std::to_string(job.failures) + "/" + std::to_string(job.max_attempts),
                   truncate_text(progress, 32), format_relative_time(job.created_at, now)});
  }
  table.print(out);
}

}  // namespace quern::cli
