// The server under many connections at once: hundreds of waiting long-polls and open
// event streams must not starve ordinary requests, and many remote workers leasing
// concurrently never get one job twice. (Named *Concurrency*: the TSan stage runs them.)
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "http_harness.h"

#if defined(__SANITIZE_THREAD__)
// As in `quern serve` (src/cli/command_serve.cpp): the tests' httplib::Client is the
// prebuilt, uninstrumented cpp-httplib, whose function-local statics look like races.
extern "C" const char* __tsan_default_options() { return "ignore_noninstrumented_modules=1"; }
#endif

namespace quern::http_test {
namespace {

TEST(HttpConcurrency, FiveHundredLongPollsAndAHundredStreamsStarveNothing) {
  raise_open_file_limit();
  QuernServer server({"--concurrency", "0"});
  constexpr int kLeases = 500;
  constexpr int kStreams = 100;
  std::vector<std::unique_ptr<RawHttpConnection>> leases;
  std::vector<std::unique_ptr<RawHttpConnection>> streams;
  for (int i = 0; i < kLeases; ++i) {
    leases.push_back(std::make_unique<RawHttpConnection>(server.port()));
    const Json body = {{"worker", "w" + std::to_string(i)}, {"types", {"rare"}}, {"wait", "60s"}};
    ASSERT_TRUE(leases.back()->send_request("POST", "/api/v1/leases", body.dump())) << i;
  }
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::make_unique<RawHttpConnection>(server.port()));
    ASSERT_TRUE(streams.back()->send_request("GET", "/api/v1/events")) << i;
  }
  // Every one of them is being served: waiting in the broker, or streaming.
  ASSERT_TRUE(eventually(
      [&] {
        const std::string metrics = server.get("/metrics").body;
        return metric_value(metrics, "quern_leases_waiting") == kLeases &&
               metric_value(metrics, "quern_event_listeners") == kStreams;
      },
      60s))
      << server.get("/metrics").body;

  // Ordinary requests still answer promptly (a check that nothing is starved, not a
  // benchmark: the bound is generous for a loaded machine or a sanitizer build).
  auto slowest_enqueue = SteadyClock::duration::zero(), slowest_stats = SteadyClock::duration::zero();
  for (int i = 0; i < 5; ++i) {
    auto started = SteadyClock::now();
    server.enqueue({{"type", "common"}});
    slowest_enqueue = std::max(slowest_enqueue, SteadyClock::now() - started);
    started = SteadyClock::now();
    EXPECT_EQ(server.get("/api/v1/stats").status, 200);
    slowest_stats = std::max(slowest_stats, SteadyClock::now() - started);
  }
  EXPECT_LT(slowest_enqueue, 1s);
  EXPECT_LT(slowest_stats, 1s);
  std::cout << "[ info ] with " << kLeases << " long-polls and " << kStreams << " streams open: slowest enqueue "
            << std::chrono::duration_cast<std::chrono::milliseconds>(slowest_enqueue).count() << " ms, slowest stats "
            << std::chrono::duration_cast<std::chrono::milliseconds>(slowest_stats).count() << " ms\n";

  // One job of the awaited type goes to exactly one of the 500 waiting workers.
  const int64_t rare = server.enqueue({{"type", "rare"}})["id"];
  int handed = 0;
  const auto until = SteadyClock::now() + 20s;
  while (handed == 0 && SteadyClock::now() < until) {
    for (auto& lease : leases) {
      const HttpResult answer = lease->read_response(1ms);
      if (answer.status == -1) continue;
      EXPECT_EQ(answer.status, 200) << answer.body;
      ASSERT_EQ(answer.json()["jobs"].size(), 1u) << answer.body;
      EXPECT_EQ(answer.json()["jobs"][0]["id"], rare);
      ++handed;
    }
  }
  EXPECT_EQ(handed, 1) << server.job(rare).dump();
  // And every stream saw it become available.
  for (auto& stream : streams) {
    EXPECT_TRUE(stream->read_until(
        [&](const std::string&) {
          for (const auto& event : parse_events(stream->stream_body())) {
            if (event.event == "job" && event.data["job_id"] == rare) return true;
          }
          return false;
        },
        20s));
  }

  const auto stopping = SteadyClock::now();
  const auto status = server.stop(SIGTERM, 30s);
  ASSERT_TRUE(status.has_value()) << "quern serve did not stop";
  EXPECT_EQ(*status, 0);
  EXPECT_LT(SteadyClock::now() - stopping, 15s);
}

TEST(HttpConcurrency, ManyRemoteWorkersLeaseEachJobExactlyOnce) {
  QuernServer server({"--concurrency", "0"});
  constexpr int kJobs = 200;
  Json batch = Json::array();
  for (int i = 0; i < kJobs; ++i) batch.push_back({{"type", "work"}, {"payload", {{"n", i}}}});
  ASSERT_EQ(server.post("/api/v1/jobs", {{"jobs", batch}}).status, 201);

  std::mutex mutex;
  std::multiset<int64_t> completed;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 16; ++w) {
    workers.emplace_back([&, w] {
      auto http = server.client();
      const std::string name = "worker-" + std::to_string(w);
      while (true) {
        const Json request = {{"worker", name}, {"types", {"work"}}, {"max", 4}, {"wait", 0.2}};
        auto leased = http->Post("/api/v1/leases", request.dump(), "application/json");
        if (!leased || leased->status != 200) {
          ++conflicts;
          return;
        }
        const Json jobs = Json::parse(leased->body)["jobs"];
        if (jobs.empty()) return;
        for (const auto& job : jobs) {
          const std::string path = "/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/complete";
          auto done = http->Post(path, Json({{"attempt", job["attempt"]}}).dump(), "application/json");
          if (!done || done->status != 200) {
            ++conflicts;
            continue;
          }
          std::lock_guard lock(mutex);
          completed.insert(job["id"].get<int64_t>());
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(conflicts.load(), 0);
  EXPECT_EQ(completed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<int64_t>(completed.begin(), completed.end()).size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(server.get("/api/v1/stats").json()["states"]["completed"], kJobs);
}

}  // namespace
}  // namespace quern::http_test
