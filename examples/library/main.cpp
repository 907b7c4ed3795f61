// Enqueues a few "transcribe" jobs and runs them with a two-slot pool, reporting stage
// and progress, then prints the counts. Usage: transcribe_queue DB_PATH
#include <cstdio>
#include <thread>

#include <quern/quern.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DB_PATH\n", argv[0]);
    return 2;
  }
  try {
    auto client = quern::Client::open(argv[1]);
    for (int i = 1; i <= 3; ++i) {
      quern::NewJob job;
      job.type = "transcribe";
      job.payload = {{"file", "/recordings/" + std::to_string(i) + ".wav"}};
      job.unique_key = "transcribe:" + std::to_string(i);  // never twice for the same file
      client->enqueue(job);
    }
    quern::WorkerPool pool(client, {.concurrency = 2});
    pool.handle("transcribe", [](quern::JobContext& ctx) {
      ctx.stage("decode");
      ctx.progress(0.5);
      ctx.stage("write");
      return quern::Outcome::completed({{"file", ctx.payload()["file"]}, {"words", 1234}});
    });
    pool.start();
    while (client->stats().total(quern::JobState::kCompleted) < 3) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pool.stop();
    std::printf("completed: %lld\n", static_cast<long long>(client->stats().total(quern::JobState::kCompleted)));
    return 0;
  } catch (const quern::Error& e) {
    std::fprintf(stderr, "transcribe_queue: %s\n", e.what());
    return quern::exit_status(e.code());
  }
}
