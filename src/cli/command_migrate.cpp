// `quern migrate [up|status]`: brings the database's schema up to date, or shows which
// migrations it has. (Every other command migrates a database as it opens it, unless
// --no-migrate is given; this is for doing it on purpose, e.g. before starting workers
// with --no-migrate.)
#include <iostream>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/table_output.h"
#include "core/time_format.h"
#include "store/schema_status.h"

namespace quern::cli {
namespace {

Json schema_status_json(const SchemaStatus& status) {
  Json migrations = Json::array();
  for (const auto& m : status.migrations) {
    migrations.push_back({{"version", m.version},
                          {"description", m.description},
                          {"applied", m.applied},
                          {"applied_at", m.applied_at ? Json(format_rfc3339(*m.applied_at)) : Json(nullptr)}});
  }
  return {{"backend", status.backend},   {"database", status.database},
          {"current", status.current},   {"latest", status.latest},
          {"migrations", std::move(migrations)}};
}

std::string version_line(const SchemaStatus& status) {
  return status.database + " (" + status.backend + "): schema version " + std::to_string(status.current) + " of " +
         std::to_string(status.latest);
}

int run_migrate_up(const GlobalOptions& global) {
  const SchemaStatus before = read_schema_status(resolved_db_url(global));
  const SchemaStatus after = before.current == before.latest ? before : migrate_schema_of(resolved_db_url(global));
  if (global.json) {
    Json out = schema_status_json(after);
    out["applied_now"] = after.current - before.current;
    print_json(out);
  } else if (after.current == before.current) {
    std::cout << version_line(after) << ", up to date\n";
  } else {
    std::cout << version_line(after) << " (migrated from version " << before.current << ")\n";
  }
  return 0;
}

int run_migrate_status(const GlobalOptions& global) {
  const SchemaStatus status = read_schema_status(resolved_db_url(global));
  if (global.json) {
    print_json(schema_status_json(status));
    return 0;
  }
  std::cout << version_line(status) << (status.current < status.latest ? ", behind: run quern migrate\n" : "\n");
  Table table({"VERSION", "STATE", "APPLIED AT", "DESCRIPTION"});
  for (const auto& m : status.migrations) {
    table.add_row({std::to_string(m.version), m.applied ? "applied" : "pending",
                   m.applied_at ? format_rfc3339(*m.applied_at) : "-", m.description.empty() ? "-" : m.description});
  }
  table.print(std::cout);
  return 0;
}

}  // namespace

void add_migrate_command(CLI::App& app, CliContext& context) {
  CLI::App* command = app.add_subcommand("migrate", "Bring the database's schema up to date (default: up), or show it");
  command->require_subcommand(0, 1);
  CLI::App* up = command->add_subcommand("up", "Apply every pending migration (the default)");
  CLI::App* status = command->add_subcommand("status", "Show the schema version and each migration");
  up->callback([&context] { context.action = [&context] { return run_migrate_up(context.global); }; });
  status->callback([&context] { context.action = [&context] { return run_migrate_status(context.global); }; });
  command->callback([&context, command] {
    if (command->get_subcommands().empty()) {
      context.action = [&context] { return run_migrate_up(context.global); };
    }
  });
}

}  // namespace quern::cli
