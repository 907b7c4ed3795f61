// `quern`: parses the command line, runs the chosen command, and turns every failure
// into one line on stderr and the exit status of the contract (see README):
// 0 ok, 1 a waited-on job did not complete, 2 usage or invalid input, 3 not found,
// 4 illegal transition or conflict, 5 store error.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/error_output.h"
#include "quern/error.h"

namespace {

constexpr int kUsageExitStatus = 2;
constexpr int kInternalExitStatus = 5;

using quern::cli::print_error_line;

// The commands the command line chose, outermost first: quern, config, set.
std::vector<const CLI::App*> chosen_commands(const CLI::App& app) {
  std::vector<const CLI::App*> chain = {&app};
  while (!chain.back()->get_subcommands().empty()) chain.push_back(chain.back()->get_subcommands().front());
  return chain;
}

// "quern config set": the command line's chosen commands, for pointing at their help.
std::string chosen_command_path(const CLI::App& app) {
  std::string path;
  for (const CLI::App* command : chosen_commands(app)) path += (path.empty() ? "" : " ") + command->get_name();
  return path;
}

// The command the user named: the first argument that is neither an option nor --db's value.
std::string named_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--db") {
      ++i;
    } else if (arg.empty() || arg[0] != '-') {
      return arg;
    }
  }
  return "";
}

// The first option of the named command that took "--" as its value: `add --tag -- cmd`
// leaves --tag without one (CLI11 takes the "--"), which must not pass as a tag "--".
std::string option_missing_its_value(const CLI::App& app) {
  for (const CLI::App* command : chosen_commands(app)) {
    for (const CLI::Option* option : command->get_options()) {
      if (!option->get_positional() && option->count() > 0) {
        for (const std::string& value : option->results()) {
          if (value == "--") return option->get_name();
        }
      }
    }
  }
  return "";
}

int report_parse_error(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  const auto leftover = app.remaining();
  const std::string named = named_command(argc, argv);
  const auto commands_named = app.get_subcommands([&](const CLI::App* command) { return command->check_name(named); });
  if (!named.empty() && commands_named.empty()) {
    // `quern frob ls`: CLI11 takes `ls` as the command and `frob` as a stray argument.
    print_error_line("unknown command '" + named + "' (see quern --help)");
  } else if (app.get_subcommands().empty() && !leftover.empty()) {
    print_error_line("unknown command '" + leftover.front() + "' (see quern --help)");
  } else if (app.get_subcommands().empty()) {
    print_error_line("a command is required (see quern --help)");
  } else if (const std::string valueless = option_missing_its_value(app); !valueless.empty()) {
    // `add --tag -- ls -la`: the "--" went to --tag, so "-la" looks like an option.
    print_error_line(valueless + " needs a value before --");
  } else {
    const std::string help = " (see " + chosen_command_path(app) + " --help)";
    const auto stray = app.remaining(true);
    const auto option = std::find_if(stray.begin(), stray.end(),
                                     [](const std::string& arg) { return arg.size() > 1 && arg[0] == '-' && arg != "--"; });
    if (option != stray.end()) {
      print_error_line("unknown option '" + *option + "'" + help);
    } else if (!chosen_commands(app).back()->get_subcommands({}).empty() && !stray.empty()) {
      // `quern config bogus`: a command group given a subcommand it does not have.
      print_error_line(chosen_command_path(app) + " has no command '" + stray.front() + "'" + help);
    } else {
      print_error_line(std::string(error.what()) + help);
    }
  }
  return kUsageExitStatus;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace quern::cli;

  CLI::App app{"Quern: a durable, restart-safe job queue.", "quern"};
  CliContext context;
  // Global options may also follow the command name: `quern ls --json`.
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--db", context.global.db,
                 "Database: a SQLite path, sqlite:PATH or postgres://… "
                 "(default $QUERN_DB, else $XDG_DATA_HOME/quern/quern.db, else ~/.local/share/quern/quern.db)")
      ->check(CLI::Validator([](const std::string& v) { return v.empty() ? std::string("names no database") : ""; },
                             "NOT EMPTY"));
  app.add_flag("--json", context.global.json, "Print JSON instead of text (read commands and add)");
  app.add_flag("--no-migrate", context.global.no_migrate,
               "Never change the database's schema: one that is behind is an error (exit 5). "
               "Without it, worker, serve and every other command migrate the database as they open it");
  app.footer("Durations: 500ms, 30s, 5m, 2h, 1d (or sums: 1h30m). Times: RFC 3339.\n"
             "Exit status: 0 ok, 1 a waited-on job did not complete, 2 usage or invalid input, 3 not found,\n"
             "4 illegal transition or conflict, 5 store error.\n");

  add_add_command(app, context);
  add_worker_command(app, context);
  add_serve_command(app, context);
  add_ls_command(app, context);
  add_show_command(app, context);
  add_logs_command(app, context);
  add_stats_command(app, context);
  add_pause_resume_commands(app, context);
  add_limit_command(app, context);
  add_hold_command(app, context);
  add_retain_command(app, context);
  add_retry_cancel_rm_commands(app, context);
  add_clear_command(app, context);
  add_wait_command(app, context);
  add_config_command(app, context);
  add_cron_command(app, context);
  add_watch_command(app, context);
  add_migrate_command(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    return report_parse_error(app, error, argc, argv);
  }

  if (const std::string option = option_missing_its_value(app); !option.empty()) {
    print_error_line(option + " needs a value before --");
    return kUsageExitStatus;
  }
  if (!context.action) {  // a command group such as `quern config` without its subcommand
    print_error_line("a subcommand is required (see quern --help)");
    return kUsageExitStatus;
  }
  try {
    const int status = context.action();
    // A full disk or a closed file under stdout must not pass for success (the id
    // `add` printed would be lost without a word).
    std::cout.flush();
    if (std::cout.fail() || std::fflush(stdout) != 0 || std::ferror(stdout)) {
      print_error_line(std::string("cannot write the output: ") + std::strerror(errno));
      return status != 0 ? status : kInternalExitStatus;
    }
    return status;
  } catch (const quern::Error& error) {
    print_error_line(error.what());
    return quern::exit_status(error.code());
  } catch (const std::exception& error) {
    print_error_line(std::string("internal error: ") + error.what());
    return kInternalExitStatus;
  }
}
