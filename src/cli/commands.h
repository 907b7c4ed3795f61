// The `quern` subcommands. Each add_*_command registers its CLI11 subcommand; when the
// user picks it, its callback stores the action main() runs after parsing, so that
// parsing errors (exit 2) and run-time errors (quern::Error) are reported apart.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "cli/cli_options.h"

namespace quern::cli {

struct CliContext {
  GlobalOptions global;
  // The chosen command's work; returns the exit status. Throws quern::Error.
  std::function<int()> action;
};

void add_add_command(CLI::App& app, CliContext& context);
void add_worker_command(CLI::App& app, CliContext& context);
void add_serve_command(CLI::App& app, CliContext& context);
void add_ls_command(CLI::App& app, CliContext& context);
void add_show_command(CLI::App& app, CliContext& context);
void add_logs_command(CLI::App& app, CliContext& context);
void add_stats_command(CLI::App& app, CliContext& context);
void add_pause_resume_commands(CLI::App& app, CliContext& context);
void add_limit_command(CLI::App& app, CliContext& context);
void add_hold_command(CLI::App& app, CliContext& context);
void add_retain_command(CLI::App& app, CliContext& context);
void add_retry_cancel_rm_commands(CLI::App& app, CliContext& context);
void add_clear_command(CLI::App& app, CliContext& context);
void add_wait_command(CLI::App& app, CliContext& context);
void add_config_command(CLI::App& app, CliContext& context);
void add_cron_command(CLI::App& app, CliContext& context);
void add_watch_command(CLI::App& app, CliContext& context);
void add_migrate_command(CLI::App& app, CliContext& context);

}  // namespace quern::cli
