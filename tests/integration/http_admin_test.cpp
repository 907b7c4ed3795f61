// Stats, queues, settings, throughput, /healthz, /metrics and the store-error status of
// the HTTP API, against a real `quern serve`.
#include <sqlite3.h>

#include <sstream>

#include <gtest/gtest.h>

#include "core/time_format.h"
#include "http_harness.h"

namespace quern::http_test {
namespace {

TEST(HttpAdmin, StatsHasTheCliShapeAndQueuesHaveCounts) {
  QuernServer server({"--concurrency", "0"});
  server.enqueue({{"type", "a"}});
  server.enqueue({{"type", "a"}, {"queue", "media"}, {"delay", "1h"}});
  ASSERT_EQ(server.request("POST", "/api/v1/queues/empty/pause").status, 200);

  const HttpResult stats = server.get("/api/v1/stats");
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(stats.json(), server.cli().json({"stats"}));
  EXPECT_EQ(stats.json()["states"]["available"], 1);
  EXPECT_EQ(stats.json()["states"]["scheduled"], 1);

  const Json queues = server.get("/api/v1/queues").json()["queues"];
  ASSERT_EQ(queues.size(), 3u);
  EXPECT_EQ(queues[0]["name"], "default");
  EXPECT_EQ(queues[0]["counts"]["available"], 1);
  EXPECT_EQ(queues[1]["name"], "empty");
  EXPECT_EQ(queues[1]["paused"], true);
  EXPECT_EQ(queues[2]["name"], "media");
  EXPECT_EQ(queues[2]["counts"]["scheduled"], 1);
  EXPECT_EQ(queues[2]["counts"].size(), 8u);  // every state
}

TEST(HttpAdmin, PauseAndResumeAQueue) {
  QuernServer server({"--concurrency", "0"});
  server.enqueue({{"type", "a"}, {"queue", "bg"}});
  const HttpResult paused = server.request("POST", "/api/v1/queues/bg/pause", "{}");
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(paused.json(), Json({{"queue", "bg"}, {"paused", true}}));
  // A paused queue gives nothing to a remote worker.
  EXPECT_TRUE(server.post("/api/v1/leases", {{"worker", "w"}, {"queues", {"bg"}}}).json()["jobs"].empty());
  const HttpResult resumed = server.request("POST", "/api/v1/queues/bg/resume");
  EXPECT_EQ(resumed.json(), Json({{"queue", "bg"}, {"paused", false}}));
  EXPECT_EQ(server.post("/api/v1/leases", {{"worker", "w"}, {"queues", {"bg"}}}).json()["jobs"].size(), 1u);
  // A name no job could have (enqueue refuses it) is refused here too, and not recorded.
  const HttpResult too_long = server.request("POST", "/api/v1/queues/" + std::string(201, 'q') + "/pause");
  EXPECT_EQ(too_long.status, 400) << too_long.body;
  EXPECT_EQ(server.get("/api/v1/queues").json().size(), 1u);
}

// A queue's concurrency limit holds for remote workers too: leases take only the room
// the limit leaves, and a finished job makes room.
TEST(HttpAdmin, AQueuesConcurrencyLimitIsSetListedAndHeldByLeases) {
  QuernServer server({"--concurrency", "0"});
  for (int i = 0; i < 3; ++i) server.enqueue({{"type", "a"}, {"queue", "gpu"}});
  const HttpResult set = server.request("PUT", "/api/v1/queues/gpu/limit", R"({"concurrency_limit":2})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json(), Json({{"queue", "gpu"}, {"concurrency_limit", 2}}));
  EXPECT_EQ(server.get("/api/v1/queues").json()["queues"][0]["concurrency_limit"], 2);
  EXPECT_EQ(server.get("/api/v1/stats").json()["queues"][0]["concurrency_limit"], 2);

  const Json leased = server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json()["jobs"];
  ASSERT_EQ(leased.size(), 2u);
  EXPECT_TRUE(server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json()["jobs"].empty());
  const std::string done = "/api/v1/jobs/" + std::to_string(leased[0]["id"].get<int64_t>()) + "/complete";
  ASSERT_EQ(server.post(done, {{"attempt", 1}}).status, 200);
  EXPECT_EQ(server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json()["jobs"].size(), 1u);

  for (const char* body : {R"({"concurrency_limit":0})", R"({"concurrency_limit":"2"})", R"({"concurrency_limit":1.5})",
                           R"({})", R"({"limit":2})", R"(2)", R"({"concurrency_limit":99999999999})"}) {
    const HttpResult bad = server.request("PUT", "/api/v1/queues/gpu/limit", body);
    EXPECT_EQ(bad.status, 400) << body << " → " << bad.body;
  }
  EXPECT_EQ(server.get("/api/v1/queues").json()["queues"][0]["concurrency_limit"], 2);  // unchanged
  const HttpResult removed = server.request("PUT", "/api/v1/queues/gpu/limit", R"({"concurrency_limit":null})");
  EXPECT_EQ(removed.json(), Json({{"queue", "gpu"}, {"concurrency_limit", nullptr}}));
  EXPECT_TRUE(server.get("/api/v1/queues").json()["queues"][0]["concurrency_limit"].is_null());
}

TEST(HttpAdmin, AQueueIsHeldWhileAnotherHasWork) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult set = server.request("PUT", "/api/v1/queues/bg/hold", R"({"held_while":"fg"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json(), Json({{"queue", "bg"}, {"held_while", "fg"}}));
  server.enqueue({{"type", "a"}, {"queue", "bg"}});
  server.enqueue({{"type", "a"}, {"queue", "fg"}});
  const Json leased = server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json()["jobs"];
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0]["queue"], "fg");
  EXPECT_TRUE(server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json()["jobs"].empty());
  const std::string done = "/api/v1/jobs/" + std::to_string(leased[0]["id"].get<int64_t>()) + "/complete";
  ASSERT_EQ(server.post(done, {{"attempt", 1}}).status, 200);
  EXPECT_EQ(server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json()["jobs"].size(), 1u);
  for (const char* body : {R"({"held_while":7})", R"({"held_while":"bg"})", R"({})", R"({"held_while":""})"}) {
    EXPECT_EQ(server.request("PUT", "/api/v1/queues/bg/hold", body).status, 400) << body;
  }
  EXPECT_EQ(server.request("PUT", "/api/v1/queues/fg/hold", R"({"held_while":"bg"})").status, 400);  // a loop
  const Json queues = server.get("/api/v1/queues").json()["queues"];
  EXPECT_EQ(queues[0]["held_while"], "fg");
  EXPECT_TRUE(queues[1]["held_while"].is_null());
  EXPECT_EQ(server.request("PUT", "/api/v1/queues/bg/hold", R"({"held_while":null})").json()["held_while"], nullptr);
}

// Retention set over HTTP is merged per state, listed with the queue, and the server's
// maintenance deletes a completed job of a queue that keeps none.
TEST(HttpAdmin, AQueuesRetentionIsSetListedAndHonoured) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult set = server.request("PUT", "/api/v1/queues/scratch/retention", R"({"completed":"0s","failed":"7d"})");
  ASSERT_EQ(set.status, 200) << set.body;
  const Json expected = {{"completed", 0}, {"failed", 604800}, {"canceled", nullptr}, {"expired", nullptr}};
  EXPECT_EQ(set.json(), Json({{"queue", "scratch"}, {"retention", expected}}));
  const HttpResult merged = server.request("PUT", "/api/v1/queues/scratch/retention", R"({"canceled":90.5})");
  EXPECT_EQ(merged.json()["retention"]["canceled"], 90.5);
  EXPECT_EQ(merged.json()["retention"]["failed"], 604800);
  for (const char* body : {R"({})", R"({"completed":"soon"})", R"({"completed":-1})", R"({"running":"1h"})",
                           R"({"completed":true})", R"([])", R"("1h")"}) {
    const HttpResult bad = server.request("PUT", "/api/v1/queues/scratch/retention", body);
    EXPECT_EQ(bad.status, 400) << body << " → " << bad.body;
  }
  const HttpResult forever = server.request("PUT", "/api/v1/queues/scratch/retention", R"({"canceled":null,"failed":"forever"})");
  EXPECT_EQ(forever.json()["retention"], Json({{"completed", 0}, {"failed", nullptr}, {"canceled", nullptr}, {"expired", nullptr}}));
  EXPECT_EQ(server.get("/api/v1/queues").json()["queues"][0]["retention"]["completed"], 0);
  EXPECT_EQ(server.get("/api/v1/stats").json()["queues"][0]["retention"]["completed"], 0);

  const int64_t kept = server.enqueue({{"type", "a"}, {"queue", "keep"}})["id"];
  const int64_t dropped = server.enqueue({{"type", "a"}, {"queue", "scratch"}})["id"];
  const Json leased = server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json();
  ASSERT_EQ(leased["jobs"].size(), 2u);
  for (const Json& job : leased["jobs"]) {
    const std::string done = "/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/complete";
    ASSERT_EQ(server.post(done, {{"attempt", 1}}).status, 200);
  }
  const std::string dropped_path = "/api/v1/jobs/" + std::to_string(dropped);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server.get(dropped_path).status != 404 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(server.get(dropped_path).status, 404);
  EXPECT_EQ(server.get("/api/v1/jobs/" + std::to_string(kept)).json()["state"], "completed");
}

TEST(HttpAdmin, SettingsTakeAValueOrAValueObject) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult missing = server.get("/api/v1/settings/phase.enrich");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_code(), "not_found");

  const HttpResult put_raw = server.request("PUT", "/api/v1/settings/phase.enrich", R"({"enabled":true,"batch":5})");
  ASSERT_EQ(put_raw.status, 200) << put_raw.body;
  EXPECT_EQ(server.get("/api/v1/settings/phase.enrich").json(),
            Json({{"key", "phase.enrich"}, {"value", {{"enabled", true}, {"batch", 5}}}}));

  ASSERT_EQ(server.request("PUT", "/api/v1/settings/limit", R"({"value":42})").status, 200);
  EXPECT_EQ(server.get("/api/v1/settings/limit").json()["value"], 42);
  ASSERT_EQ(server.request("PUT", "/api/v1/settings/name", R"("fast")").status, 200);
  EXPECT_EQ(server.get("/api/v1/settings/name").json()["value"], "fast");
  // The CLI sees what the API wrote.
  EXPECT_EQ(server.cli().run({"config", "get", "limit"}).out, "42\n");

  EXPECT_EQ(server.request("PUT", "/api/v1/settings/x", "{oops").status, 400);
  EXPECT_EQ(server.request("PUT", "/api/v1/settings/x", "").status, 400);
  EXPECT_EQ(server.request("PUT", "/api/v1/settings/a%00b", "1").status, 400);
  EXPECT_EQ(server.request("PUT", "/api/v1/settings/a%FFb", "1").status, 400);
  // A '%' that starts no escape is bad input, not part of a name.
  for (const char* path : {"/api/v1/settings/%ZZ", "/api/v1/settings/a%", "/api/v1/settings/a%4"}) {
    const HttpResult bad = server.request("PUT", path, "1");
    EXPECT_EQ(bad.status, 400) << path;
    EXPECT_EQ(bad.json()["error"]["code"], "invalid_argument") << path;
  }
  EXPECT_EQ(server.request("POST", "/api/v1/queues/%25/pause", "").status, 200);  // the queue "%"
  EXPECT_EQ(server.request("POST", "/api/v1/queues/%ZZ/pause", "").status, 400);
  EXPECT_EQ(server.request("POST", "/api/v1/queues/%/pause", "").status, 400);
  const Json all = server.get("/api/v1/settings").json()["settings"];
  EXPECT_EQ(all["limit"], 42);
  EXPECT_EQ(all.size(), 3u);
  const Json queues = server.get("/api/v1/stats").json();
  EXPECT_EQ(queues.dump().find("%ZZ"), std::string::npos) << queues.dump();
}

// Cron entries over the API: the same entries `quern cron` manages.
TEST(HttpAdmin, CronEntriesAreAddedListedReadAndDeleted) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult added = server.post("/api/v1/cron", {{"name", "nightly"},
                                                        {"schedule", "0 3 * * *"},
                                                        {"command", {"backup.sh", "--full"}},
                                                        {"queue", "backups"},
                                                        {"expires_in", "30m"},
                                                        {"tags", {"db"}}});
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(added.json()["name"], "nightly");
  EXPECT_EQ(added.json()["type"], "shell");
  EXPECT_EQ(added.json()["payload"]["command"], (Json{"backup.sh", "--full"}));
  EXPECT_EQ(added.json()["expires_in_ms"], 30 * 60 * 1000);
  const HttpResult numbered = server.post("/api/v1/cron", {{"schedule", "@hourly"}, {"type", "report"}});
  ASSERT_EQ(numbered.status, 201) << numbered.body;
  EXPECT_EQ(numbered.json()["name"], "1");

  const Json all = server.get("/api/v1/cron").json()["cron"];
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]["name"], "nightly");
  EXPECT_EQ(server.get("/api/v1/cron/nightly").json()["queue"], "backups");
  // The CLI sees what the API wrote.
  EXPECT_NE(server.cli().run({"cron", "ls"}).out.find("backup.sh --full"), std::string::npos);

  for (const Json& bad : {Json{{"type", "t"}}, Json{{"schedule", "61 * * * *"}, {"type", "t"}},
                          Json{{"schedule", "@daily"}, {"type", "t"}, {"delay", "5m"}},
                          Json{{"schedule", "@daily"}, {"type", "t"}, {"depends_on", {1}}},
                          Json{{"schedule", "@daily"}, {"type", "t"}, {"bogus", 1}}, Json{{"schedule", "@daily"}},
                          Json{{"schedule", "@daily"}, {"type", "t"}, {"name", ".."}}}) {
    const HttpResult refused = server.post("/api/v1/cron", bad);
    EXPECT_EQ(refused.status, 400) << bad.dump() << ": " << refused.body;
    EXPECT_EQ(refused.error_code(), "invalid_argument") << bad.dump();
  }
  EXPECT_EQ(server.request("POST", "/api/v1/cron", "{oops").status, 400);

  EXPECT_EQ(server.request("DELETE", "/api/v1/cron/nightly", "").status, 204);
  EXPECT_EQ(server.get("/api/v1/cron/nightly").status, 404);
  EXPECT_EQ(server.request("DELETE", "/api/v1/cron/nightly", "").status, 404);
  EXPECT_EQ(server.get("/api/v1/cron").json()["cron"].size(), 1u);
}

TEST(HttpAdmin, ThroughputHasOneBucketPerMinuteOldestFirst) {
  QuernServer server({"--concurrency", "0"});
  const Json job = server.enqueue({{"type", "a"}});
  const Json leased = server.post("/api/v1/leases", {{"worker", "w"}}).json()["jobs"][0];
  ASSERT_EQ(server.post("/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/complete",
                        {{"attempt", leased["attempt"]}})
                .status,
            200);
  const HttpResult result = server.get("/api/v1/throughput?minutes=10");
  ASSERT_EQ(result.status, 200) << result.body;
  const Json buckets = result.json()["buckets"];
  ASSERT_EQ(buckets.size(), 10u);
  int64_t completed = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const Time minute = parse_rfc3339(buckets[i]["minute"].get<std::string>());
    if (i > 0) {
      EXPECT_EQ(minute - parse_rfc3339(buckets[i - 1]["minute"].get<std::string>()), std::chrono::minutes(1));
    }
    completed += buckets[i]["completed"].get<int64_t>();
    EXPECT_EQ(buckets[i]["failed"], 0);
  }
  EXPECT_EQ(completed, 1);
  EXPECT_EQ(server.get("/api/v1/throughput").json()["buckets"].size(), 60u);
  EXPECT_EQ(server.get("/api/v1/throughput?minutes=0").status, 400);
  EXPECT_EQ(server.get("/api/v1/throughput?minutes=x").status, 400);
}

TEST(HttpAdmin, HealthzAndMetrics) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult health = server.get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json().at("status"), "ok");
  EXPECT_TRUE(health.json().at("leader").is_boolean()) << health.body;
  // The only server on its database becomes its maintenance leader at its first pass.
  EXPECT_TRUE(eventually([&] { return server.get("/healthz").json().value("leader", false); }, 10s));
  EXPECT_NE(server.get("/metrics").body.find("\nquern_maintenance_leader 1\n"), std::string::npos);

  server.enqueue({{"type", "a"}, {"queue", "media"}});
  server.get("/api/v1/jobs/999");
  // A request is counted once its response is sent: the next request may come first.
  HttpResult metrics = server.get("/metrics");
  ASSERT_TRUE(eventually(
      [&] {
        metrics = server.get("/metrics");
        return metrics.body.find("route=\"/api/v1/jobs/{id}\",code=\"404\"") != std::string::npos;
      },
      10s));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("Content-Type").rfind("text/plain", 0), 0u);
  const std::string& text = metrics.body;
  for (const char* line : {"# TYPE quern_jobs gauge", "quern_jobs{queue=\"media\",state=\"available\"} 1",
                           "# TYPE quern_jobs_enqueued_total counter", "quern_jobs_enqueued_total 1",
                           "quern_jobs_completed_total 0", "quern_jobs_failed_total 0",
                           "# TYPE quern_lease_claim_latency_seconds histogram",
                           "quern_lease_claim_latency_seconds_bucket{le=\"+Inf\"} 0", "quern_leases_rescued_total 0",
                           "quern_store_errors_total 0", "# TYPE quern_http_requests_total counter",
                           "quern_http_requests_total{route=\"/api/v1/jobs\",code=\"201\"} 1",
                           "quern_http_requests_total{route=\"/api/v1/jobs/{id}\",code=\"404\"} 1"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

// A canceled run is not a failed one: quern_jobs_failed_total counts the run that exits
// 1, not the one killed by a cancel.
TEST(HttpAdmin, ACanceledRunIsNotCountedAsFailed) {
  QuernServer server({"--concurrency", "1"});
  const Json sleeper = server.enqueue({{"command", {"sleep", "30"}}});
  const std::string path = "/api/v1/jobs/" + std::to_string(sleeper["id"].get<int64_t>());
  ASSERT_TRUE(eventually([&] { return server.get(path).json()["state"] == "running"; }, 10s));
  ASSERT_EQ(server.post(path + "/cancel", Json::object()).status, 200);
  const Json failing = server.enqueue({{"command", {"false"}}, {"max_attempts", 1}});
  const std::string failing_path = "/api/v1/jobs/" + std::to_string(failing["id"].get<int64_t>());
  ASSERT_TRUE(eventually([&] { return server.get(failing_path).json()["state"] == "failed"; }, 20s));
  ASSERT_TRUE(eventually([&] { return server.get("/metrics").body.find("quern_jobs_failed_total 1\n") != std::string::npos; }, 10s))
      << server.get("/metrics").body;
}

// The counters follow the work: a remote worker completes one job and fails another
// for good (two claims timed), while a shell job waits, since a server started with
// --concurrency 0 runs no local slots.
TEST(HttpAdmin, MetricsCountTheWorkDoneAndNoLocalSlotsRunNothing) {
  QuernServer server({"--concurrency", "0"});
  const Json shell = server.enqueue({{"command", {"true"}}});
  server.enqueue({{"type", "t"}});
  server.enqueue({{"type", "t"}});
  std::vector<Json> leased;
  for (int i = 0; i < 2; ++i) {
    const HttpResult lease = server.post("/api/v1/leases", {{"worker", "w"}, {"types", {"t"}}});
    ASSERT_EQ(lease.status, 200) << lease.body;
    ASSERT_EQ(lease.json()["jobs"].size(), 1u) << lease.body;
    leased.push_back(lease.json()["jobs"][0]);
  }
  ASSERT_EQ(server.post(job_path(leased[0], "complete"), {{"attempt", 1}}).status, 200);
  ASSERT_EQ(server.post(job_path(leased[1], "fail"), {{"attempt", 1}, {"error", "bad"}, {"retry", false}}).status, 200);
  const std::string text = server.get("/metrics").body;
  for (const char* line : {"quern_jobs_enqueued_total 3\n", "quern_jobs_completed_total 1\n",
                           "quern_jobs_failed_total 1\n", "quern_lease_claim_latency_seconds_bucket{le=\"+Inf\"} 2\n",
                           "quern_lease_claim_latency_seconds_count 2\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // Once the server's first maintenance pass is done, the shell job is still untouched.
  ASSERT_TRUE(eventually([&] { return server.get("/healthz").json().value("leader", false); }, 10s));
  const HttpResult still = server.get("/api/v1/jobs/" + std::to_string(shell["id"].get<int64_t>()));
  EXPECT_EQ(still.json()["state"], "available") << still.body;
  EXPECT_EQ(still.json()["attempt"], 0) << still.body;
}

TEST(HttpAdmin, JsonLogsAreOneObjectPerLine) {
  QuernServer server({"--concurrency", "0", "--log-format", "json"});
  server.get("/api/v1/jobs/12345");
  ASSERT_TRUE(eventually([&] { return server.log().find("/api/v1/jobs/12345") != std::string::npos; }, 10s));
  ASSERT_EQ(server.stop(), 0);
  std::istringstream lines(server.log());
  std::string line;
  bool saw_request = false, saw_listening = false;
  while (std::getline(lines, line)) {
    const Json entry = Json::parse(line);  // every line is JSON
    EXPECT_TRUE(entry.contains("time") && entry.contains("level") && entry.contains("msg")) << line;
    if (entry["msg"] == "request" && entry.value("path", "") == "/api/v1/jobs/12345") {
      saw_request = true;
      EXPECT_EQ(entry["method"], "GET");
      EXPECT_EQ(entry["status"], 404);
      EXPECT_TRUE(entry["duration_ms"].is_number());
    }
    saw_listening |= entry["msg"].get<std::string>().rfind("listening on http://127.0.0.1:", 0) == 0;
  }
  EXPECT_TRUE(saw_request) << server.log();
  EXPECT_TRUE(saw_listening) << server.log();
}

// Names may hold a slash: sent as "%2F" it stays inside its path segment.
TEST(HttpAdmin, NamesWithASlashAreReachedPercentEncoded) {
  QuernServer server({"--concurrency", "0"});
  ASSERT_EQ(server.request("PUT", "/api/v1/settings/a%2Fb", "7").status, 200);
  const HttpResult setting = server.get("/api/v1/settings/a%2Fb");
  ASSERT_EQ(setting.status, 200) << setting.body;
  EXPECT_EQ(server.cli().run({"config", "get", "a/b"}).out, "7\n");
  server.enqueue({{"type", "t"}, {"queue", "media/video"}});
  ASSERT_EQ(server.post("/api/v1/queues/media%2Fvideo/pause", Json::object()).status, 200);
  const auto stats = server.cli().run({"stats", "--json"});
  bool paused = false;
  const Json parsed = Json::parse(stats.out);
  for (const auto& queue : parsed["queues"]) paused |= queue["name"] == "media/video" && queue["paused"] == true;
  EXPECT_TRUE(paused) << stats.out;
  // The absolute form a proxy sends names the same resource.
  RawHttpConnection raw(server.port());
  ASSERT_TRUE(raw.send_request("GET", "http://localhost/api/v1/settings/a%2Fb", ""));
  EXPECT_EQ(raw.read_response().status, 200);
}

// A request path cannot forge a log line: "%0a" decodes to a newline, which the text
// log writes escaped, inside the request's own line.
TEST(HttpAdmin, TextLogLinesCannotBeForgedThroughThePath) {
  QuernServer server({"--concurrency", "0"});
  server.get("/api/v1/jobs/1%0aquern%20serve:%20FORGED%00");
  ASSERT_TRUE(eventually([&] { return server.log().find("FORGED") != std::string::npos; }, 10s));
  ASSERT_EQ(server.stop(), 0);
  std::istringstream lines(server.log());
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_FALSE(line.rfind("quern serve: FORGED", 0) == 0) << server.log();
    EXPECT_EQ(line.find('\0'), std::string::npos) << "a NUL byte in the log";
    if (line.find("FORGED") != std::string::npos) {
      EXPECT_NE(line.find("path=\"/api/v1/jobs/1\\nquern serve: FORGED\\u0000\""), std::string::npos) << line;
    }
  }
}

// Another process holds SQLite's write lock past the busy timeout (5 s): writes answer
// 503 with the store's error, reads still work (WAL), and the server recovers after.
TEST(HttpAdmin, StoreBusyPastItsTimeoutIs503) {
  QuernServer server({"--concurrency", "0"});
  server.enqueue({{"type", "a"}});
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(server.cli().db().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const HttpResult busy = server.post("/api/v1/jobs", {{"type", "b"}});
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_EQ(busy.error_code(), "unavailable");
  EXPECT_EQ(server.get("/healthz").status, 200);
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(server.post("/api/v1/jobs", {{"type", "b"}}).status, 201);
  // Maintenance passes meanwhile may have met the lock too.
  const std::string metrics = server.get("/metrics").body;
  const size_t at = metrics.find("\nquern_store_errors_total ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(metrics.substr(at + 26)), 1);
}

}  // namespace
}  // namespace quern::http_test
