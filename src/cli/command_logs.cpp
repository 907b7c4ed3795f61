// `quern logs ID [--follow]`: prints a job's log; --follow keeps printing what the job
// writes until it reaches a final state.
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/job_id_arguments.h"
#include "cli/json_output.h"
#include "core/time_format.h"
#include "store/store.h"

namespace quern::cli {
namespace {

// How often --follow looks at the store's change counter: a cheap read, and well under
// what a person notices.
constexpr auto kFollowPollInterval = std::chrono::milliseconds(50);

struct LogsArguments {
  std::string id;
  bool follow = false;
};

Json chunk_to_json(const LogChunk& chunk) {
  return {{"seq", chunk.seq}, {"attempt", chunk.attempt}, {"at", format_rfc3339(chunk.at)}, {"text", chunk.text}};
}

// Prints chunks after `after_seq` and advances it. With --json and --follow each chunk
// is one compact line, so a reader can act on it as it comes.
void print_new_chunks(Store& store, JobId id, int64_t& after_seq, bool json_lines) {
  for (const LogChunk& chunk : store.read_log(id, after_seq)) {
    if (json_lines) {
      std::cout << chunk_to_json(chunk).dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
    } else {
      std::cout << chunk.text;
    }
    after_seq = chunk.seq;
  }
  std::cout.flush();
}

int run_logs(const CliContext& context, const LogsArguments& args) {
  const JobId id = parse_job_id(args.id);
  auto client = open_client(context.global);
  Store& store = *client->store();
  client->get(id);  // kNotFound for an unknown job

  if (!args.follow) {
    if (context.global.json) {
      Json chunks = Json::array();
      for (const LogChunk& chunk : store.read_log(id, 0)) chunks.push_back(chunk_to_json(chunk));
      print_json(chunks);
    } else {
      int64_t after_seq = 0;
      print_new_chunks(store, id, after_seq, false);
    }
    return 0;
  }

  int64_t after_seq = 0;
  while (true) {
    // Counter first, then state, then log: whatever lands after these reads changes the
    // counter, and the log a final job wrote is visible once its final state is.
    const uint64_t seen = store.change_counter();
    const Job job = client->get(id);
    print_new_chunks(store, id, after_seq, context.global.json);
    if (is_final(job.state)) return 0;
    while (store.change_counter() == seen) std::this_thread::sleep_for(kFollowPollInterval);
  }
}

}  // namespace

void add_logs_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<LogsArguments>();
  CLI::App* command = app.add_subcommand("logs", "Print a job's log");
  command->add_option("id", args->id, "Job id")->required();
  command->add_flag("-f,--follow", args->follow, "Keep printing until the job is final");
  command->callback([&context, args] {
    context.action = [&context, args] { return run_logs(context, *args); };
  });
}

}  // namespace quern::cli
