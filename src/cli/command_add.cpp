// `quern add`: enqueues a shell job (`quern add [opts] -- CMD [ARGS…]`) or a typed job
// (`quern add --type NAME --payload JSON [opts]`) and prints its id.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/json_output.h"
#include "core/job_json.h"

namespace quern::cli {

void add_add_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<JobArguments>();
  CLI::App* command = app.add_subcommand("add", "Enqueue a shell job (add [opts] -- CMD [ARGS…]) or a typed job (--type)");
  add_job_options(*command, *args);
  command->callback([&context, args, command] {
    context.action = [&context, args, command] {
      // Input is checked before the database is opened: bad input touches nothing.
      const NewJob job = build_new_job(*args, *command, system_clock()->now());
      auto client = open_client(context.global);
      const EnqueueResult enqueued = client->enqueue(job);
      if (context.global.json) {
        print_json(job_to_json(enqueued.job));
      } else {
        std::cout << enqueued.job.id << '\n';
      }
      return 0;
    };
  });
}

}  // namespace quern::cli
