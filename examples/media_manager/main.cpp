// A media manager's job pipeline (DESIGN scenario 3): typed jobs whose handlers each
// enqueue the next phase, scan → enrich → publish → notify, with named priorities; the
// enrich phase reads its behaviour from a setting at every run, so a change made over
// the HTTP API (or `quern config set`) applies to the next job, without a restart.
//
//   media_manager DB_URL CATALOG_FILE   runs the four handlers with 4 slots until
//                                       SIGTERM or SIGINT; publishing appends a line
//                                       "PATH<TAB>LANGUAGE" to CATALOG_FILE
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <quern/quern.h>

namespace {

quern::WorkerPool* running_pool = nullptr;

extern "C" void stop_on_signal(int) {
  if (running_pool != nullptr) running_pool->request_stop();  // async-signal-safe
}

// The next phase of one item, typed, in the pipeline's queue.
quern::Job enqueue_next(quern::JobContext& ctx, const std::string& type, quern::Json payload, int priority) {
  quern::NewJob job;
  job.queue = "media";
  job.type = type;
  job.payload = std::move(payload);
  job.priority = priority;
  return ctx.client().enqueue(job).job;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DB_URL CATALOG_FILE\n", argv[0]);
    return 2;
  }
  const std::string catalog = argv[2];
  std::mutex catalog_mutex;
  try {
    auto client = quern::Client::open(argv[1]);
    quern::WorkerPoolOptions options;
    options.queues = {"media"};
    options.concurrency = 4;
    quern::WorkerPool pool(client, options);
    // scan {"dir"}: one enrich job per file, in name order.
    pool.handle("scan", [](quern::JobContext& ctx) {
      std::vector<std::string> files;
      for (const auto& entry : std::filesystem::directory_iterator(ctx.payload().at("dir").get<std::string>())) {
        if (entry.is_regular_file()) files.push_back(entry.path().string());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) enqueue_next(ctx, "enrich", {{"path", file}}, quern::kPriorityNormal);
      return quern::Outcome::completed({{"found", files.size()}});
    });
    // enrich {"path"}: the language comes from the setting enrich.language, read now.
    pool.handle("enrich", [](quern::JobContext& ctx) {
      const quern::Json language = ctx.client().setting("enrich.language").value_or("und");
      enqueue_next(ctx, "publish", {{"path", ctx.payload().at("path")}, {"language", language}}, quern::kPriorityHigh);
      return quern::Outcome::completed({{"language", language}});
    });
    // publish {"path", "language"}: into the catalog, then a notification goes first.
    pool.handle("publish", [&](quern::JobContext& ctx) {
      {
        std::lock_guard lock(catalog_mutex);
        std::ofstream(catalog, std::ios::app) << ctx.payload().at("path").get<std::string>() << '\t'
                                              << ctx.payload().at("language").get<std::string>() << '\n';
      }
      enqueue_next(ctx, "notify", {{"path", ctx.payload().at("path")}}, quern::kPriorityCritical);
      return quern::Outcome::completed();
    });
    pool.handle("notify", [](quern::JobContext& ctx) {
      ctx.log("published " + ctx.payload().at("path").get<std::string>() + "\n");
      return quern::Outcome::completed();
    });
    running_pool = &pool;
    std::signal(SIGTERM, stop_on_signal);
    std::signal(SIGINT, stop_on_signal);
    pool.start();
    std::fprintf(stderr, "media_manager: running\n");
    pool.wait();
    return 0;
  } catch (const quern::Error& e) {
    std::fprintf(stderr, "media_manager: %s\n", e.what());
    return quern::exit_status(e.code());
  }
}
