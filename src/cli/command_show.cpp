// `quern show ID`: every field of one job, its history of transitions and the end of
// its log; with --json the job object (and, with --history, its transitions).
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/job_id_arguments.h"
#include "cli/json_output.h"
#include "cli/table_output.h"
#include "core/duration.h"
#include "core/job_json.h"
#include "core/time_format.h"
#include "store/store.h"

namespace quern::cli {
namespace {

constexpr size_t kLogTailLines = 10;

struct ShowArguments {
  std::string id;
  bool history = false;
};

std::string time_or_dash(const std::optional<Time>& t) { return t ? format_rfc3339(*t) : "-"; }

std::string json_or_dash(const Json& value) {
  return value.is_null() ? "-" : value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <typename Items>
std::string join_or_dash(const Items& items) {
  std::ostringstream text;
  bool first = true;
  for (const auto& item : items) {
    text << (first ? "" : ", ") << item;
    first = false;
  }
  return first ? "-" : text.str();
}

// The last `max_lines` lines of the job's log.
std::vector<std::string> log_tail(Store& store, JobId id, size_t max_lines) {
  std::string text;
  for (const LogChunk& chunk : store.read_log(id, 0)) text += chunk.text;
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(std::move(line));
  if (lines.size() > max_lines) lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(max_lines));
  return lines;
}

void print_job_fields(const Job& job, Time now) {
  Table fields({"id", std::to_string(job.id)});
  auto add = [&fields](std::string name, std::string value) { fields.add_row({std::move(name), std::move(value)}); };
  add("state", std::string(state_name(job.state)));
  add("queue", job.queue);
  add("type", job.type);
  if (job.type == kShellType) {
    add("command", describe_command(job));
  } else {
    add("payload", json_or_dash(job.payload));
  }
  add("priority", std::to_string(job.priority));
  add("attempt", std::to_string(job.attempt));
  add("failures", std::to_string(job.failures) + " of " + std::to_string(job.max_attempts));
  const std::string progress = describe_progress(job);
  add("progress", progress.empty() ? "-" : progress);
  add("created_at", format_rfc3339(job.created_at) + " (" + format_relative_time(job.created_at, now) + ")");
  add("run_at", format_rfc3339(job.run_at));
  add("started_at", time_or_dash(job.started_at));
  add("finished_at", time_or_dash(job.finished_at));
  add("expires_at", time_or_dash(job.expires_at));
  add("timeout", job.timeout ? format_duration(*job.timeout) : "-");
  add("unique_key", job.unique_key.value_or("-"));
  add("tags", join_or_dash(job.tags));
  add("depends_on", join_or_dash(job.depends_on));
  add("needs_files", join_or_dash(job.needs_files));
  if (!job.depends_on.empty() || !job.needs_files.empty()) {
    add("on_dependency_failure", job.on_dependency_failure == OnDependencyFailure::kCancel ? "cancel" : "wait");
  }
  if (!job.lease_owner.empty()) add("lease", job.lease_owner + " until " + time_or_dash(job.lease_expires_at));
  add("checkpoint", json_or_dash(job.checkpoint));
  add("result", json_or_dash(job.result));
  add("error", job.error.empty() ? "-" : job.error);
  fields.print(std::cout);
}

void print_history(const std::vector<HistoryEntry>& history) {
  std::cout << "\nhistory:\n";
  Table table({"  AT", "FROM", "TO", "ATTEMPT", "DETAIL"});
  for (const HistoryEntry& entry : history) {
    table.add_row({"  " + format_rfc3339(entry.at), entry.from ? std::string(state_name(*entry.from)) : "-",
                   std::string(state_name(entry.to)), std::to_string(entry.attempt), entry.detail});
  }
  table.print(std::cout);
}

int run_show(const CliContext& context, const ShowArguments& args) {
  const JobId id = parse_job_id(args.id);
  auto client = open_client(context.global);
  const Job job = client->get(id);
  const std::vector<HistoryEntry> history = client->history(id);
  if (context.global.json) {
    Json object = job_to_json(job);
    if (args.history) {
      Json entries = Json::array();
      for (const HistoryEntry& entry : history) entries.push_back(history_entry_to_json(entry));
      object["history"] = std::move(entries);
    }
    print_json(object);
    return 0;
  }
  print_job_fields(job, client->clock().now());
  print_history(history);
  const auto tail = log_tail(*client->store(), id, kLogTailLines);
  if (!tail.empty()) {
    std::cout << "\nlog (last " << tail.size() << (tail.size() == 1 ? " line" : " lines") << "; quern logs " << id
              << " for all):\n";
    for (const auto& line : tail) std::cout << "  " << line << '\n';
  }
  return 0;
}

}  // namespace

void add_show_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<ShowArguments>();
  CLI::App* command = app.add_subcommand("show", "Show one job: every field, its history and the end of its log");
  command->add_option("id", args->id, "Job id")->required();
  command->add_flag("--history", args->history, "With --json, add the job's transitions as \"history\"");
  command->callback([&context, args] {
    context.action = [&context, args] { return run_show(context, *args); };
  });
}

}  // namespace quern::cli
