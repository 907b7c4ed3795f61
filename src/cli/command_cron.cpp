// `quern cron add [NAME] SCHEDULE [opts] -- CMD [ARGS…]` (or --type), `quern cron ls`,
// `quern cron rm NAME…`: jobs enqueued on a schedule by whichever worker or server leads
// maintenance.
#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/json_output.h"
#include "cli/table_output.h"
#include "core/cron_entry.h"
#include "core/cron_schedule.h"
#include "core/time_format.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct CronAddArguments {
  std::string name;
  std::string schedule;
  JobArguments job;
};

struct CronRmArguments {
  std::vector<std::string> names;
};

bool is_schedule(const std::string& text) {
  try {
    CronSchedule::parse(text);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Schedules are several fields in one argument, or a macro; names seldom are.
bool looks_like_schedule(const std::string& text) {
  return text.starts_with('@') || text.find_first_of(" \t") != std::string::npos;
}

// NAME may be left out: `cron add '*/5 * * * *' -- CMD` gives CLI11 the schedule as
// NAME and the command's first word (the next free positional after --) as SCHEDULE.
void settle_name_and_schedule(CronAddArguments& args, const CLI::App& command) {
  const bool schedule_given = command.count("schedule") > 0;
  if (!schedule_given || (looks_like_schedule(args.name) && !is_schedule(args.schedule))) {
    if (schedule_given) args.job.command.insert(args.job.command.begin(), args.schedule);
    args.schedule = args.name;
    args.name.clear();
  }
}

CronEntry build_cron_entry(CronAddArguments& args, const CLI::App& command, Time now) {
  settle_name_and_schedule(args, command);
  for (const char* option : {"--delay", "--at", "--after", "--on-dependency-failure"}) {
    if (command.count(option) > 0) {
      throw Error::invalid_argument(std::string(option) + " cannot be used with cron add: a cron job runs when its schedule fires");
    }
  }
  CronEntry entry;
  entry.name = args.name;
  entry.schedule = args.schedule;
  entry.job = build_new_job(args.job, command, now);
  if (entry.job.expires_at) {
    entry.expires_in = *entry.job.expires_at - now;
    if (*entry.expires_in <= Duration::zero()) throw Error::invalid_argument("--expires-in must be longer than 0s");
    entry.job.expires_at.reset();
  }
  validate_cron_entry(entry, kDefaultMaxPayloadBytes);
  return entry;
}

// What the entry runs: the command, quoted, or the job's type.
std::string describe_cron_job(const CronEntry& entry) {
  Job job;
  job.type = entry.job.type;
  job.payload = entry.job.payload;
  return describe_command(job);
}

void print_cron_table(const std::vector<CronEntry>& entries, Time now, std::ostream& out) {
  Table table({"NAME", "SCHEDULE", "NEXT RUN", "LAST RUN", "LAST JOB", "QUEUE", "COMMAND"});
  for (const auto& entry : entries) {
    table.add_row({
        truncate_text(entry.name, 40),
        entry.schedule,
        format_rfc3339(entry.next_run_at) + " (" + format_relative_time(entry.next_run_at, now) + ")",
        entry.last_run_at ? format_relative_time(*entry.last_run_at, now) : "-",
        entry.last_job_id ? std::to_string(*entry.last_job_id) : "-",
        truncate_text(entry.job.queue, 30),
        truncate_text(describe_cron_job(entry), 80),
    });
  }
  table.print(out);
}

}  // namespace

void add_cron_command(CLI::App& app, CliContext& context) {
  CLI::App* cron = app.add_subcommand("cron", "Jobs enqueued on a schedule (UTC)");
  cron->require_subcommand(1);

  auto add_args = std::make_shared<CronAddArguments>();
  CLI::App* add = cron->add_subcommand(
      "add", "Add a cron entry, or replace the one of that NAME: cron add [NAME] SCHEDULE [opts] -- CMD [ARGS…]");
  add->add_option("name", add_args->name, "Entry name (default: the next number)");
  add->add_option("schedule", add_args->schedule,
                  "MIN HOUR DAY MONTH WEEKDAY, in UTC (e.g. '*/5 * * * *', '0 3 * * mon-fri'), or @hourly, @daily, "
                  "@weekly, @monthly, @yearly");
  add_job_options(*add, add_args->job);
  add->callback([&context, add_args, add] {
    context.action = [&context, add_args, add] {
      // Input is checked before the database is opened: bad input touches nothing.
      const CronEntry entry = build_cron_entry(*add_args, *add, system_clock()->now());
      auto client = open_client(context.global);
      const CronEntry stored = client->put_cron(entry);
      if (context.global.json) {
        print_json(cron_entry_to_json(stored));
      } else {
        std::cout << stored.name << '\n';
      }
      return 0;
    };
  });

  CLI::App* ls = cron->add_subcommand("ls", "List cron entries with their next and last firing");
  ls->callback([&context] {
    context.action = [&context] {
      auto client = open_client(context.global);
      const auto entries = client->cron_entries();
      if (context.global.json) {
        Json out = Json::array();
        for (const auto& entry : entries) out.push_back(cron_entry_to_json(entry));
        print_json(out);
      } else {
        print_cron_table(entries, client->clock().now(), std::cout);
      }
      return 0;
    };
  });

  auto rm_args = std::make_shared<CronRmArguments>();
  CLI::App* rm = cron->add_subcommand("rm", "Delete cron entries (jobs they enqueued stay)");
  rm->add_option("name", rm_args->names, "Entry names")->required();
  rm->callback([&context, rm_args] {
    context.action = [&context, rm_args] {
      auto client = open_client(context.global);
      // One transaction: an unknown name deletes nothing (like `rm ID…`).
      std::vector<std::string> names;
      for (const auto& name : rm_args->names) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
      client->remove_cron(names);
      for (const auto& name : names) std::cout << "removed cron entry " << name << '\n';
      return 0;
    };
  });
}

}  // namespace quern::cli
