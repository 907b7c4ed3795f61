// The job routes of the HTTP API against a real `quern serve`: enqueue (one, batch,
// shell), list and pagination, one job, its log and history, and the admin actions,
// with every error status they can give.
#include <gtest/gtest.h>

#include "http_harness.h"

namespace quern::http_test {
namespace {

TEST(HttpJobs, EnqueueOneJobAnswers201WithTheJobObject) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult result = server.post(
      "/api/v1/jobs", {{"type", "transcode"},
                       {"payload", {{"file", "/a.mkv"}}},
                       {"queue", "media"},
                       {"priority", "high"},
                       {"max_attempts", 5},
                       {"timeout", "2h"},
                       {"tags", {"x", "y"}},
                       {"unique_key", "file:/a.mkv"}});
  ASSERT_EQ(result.status, 201) << result.body;
  EXPECT_EQ(result.header("Content-Type"), "application/json");
  const Json job = result.json();
  for (const char* key : {"id", "queue", "type", "state", "priority", "attempt", "failures", "max_attempts", "payload",
                          "result", "error", "progress", "stage", "checkpoint", "unique_key", "tags", "run_at",
                          "created_at", "started_at", "finished_at", "expires_at", "depends_on"}) {
    EXPECT_TRUE(job.contains(key)) << key;
  }
  EXPECT_GT(job["id"].get<int64_t>(), 0);
  EXPECT_EQ(job["queue"], "media");
  EXPECT_EQ(job["type"], "transcode");
  EXPECT_EQ(job["state"], "available");
  EXPECT_EQ(job["priority"], 20);
  EXPECT_EQ(job["max_attempts"], 5);
  EXPECT_EQ(job["timeout_ms"], 7200000);
  EXPECT_EQ(job["payload"], Json({{"file", "/a.mkv"}}));
  EXPECT_EQ(job["tags"], Json({"x", "y"}));
  EXPECT_EQ(job["attempt"], 0);
  // The same object as the CLI prints.
  EXPECT_EQ(server.cli().job(job["id"].get<int64_t>()), job);
}

TEST(HttpJobs, ShellJobHasTheSamePayloadAsQuernAdd) {
  QuernServer server({"--concurrency", "0"});
  const std::string dir = server.cli().dir().string();
  const Json job =
      server.enqueue({{"command", {"sh", "-c", "echo hi"}}, {"cwd", dir}, {"env", {{"K", "V"}}}, {"delay", 60}});
  EXPECT_EQ(job["type"], "shell");
  EXPECT_EQ(job["state"], "scheduled");
  const int64_t cli_id =
      server.cli().add({"--delay", "60s", "--cwd", dir, "--env", "K=V", "--", "sh", "-c", "echo hi"});
  EXPECT_EQ(job["payload"], server.cli().job(cli_id)["payload"]);
}

TEST(HttpJobs, BatchIsAllOrNothing) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult ok = server.post("/api/v1/jobs", {{"jobs", {{{"type", "a"}}, {{"command", {"true"}}}}}});
  ASSERT_EQ(ok.status, 201) << ok.body;
  ASSERT_EQ(ok.json()["jobs"].size(), 2u);
  EXPECT_EQ(ok.json()["jobs"][1]["type"], "shell");

  const HttpResult bad = server.post("/api/v1/jobs", {{"jobs", {{{"type", "a"}}, {{"type", "b"}, {"priority", "urgent"}}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_code(), "invalid_argument");
  EXPECT_NE(bad.json()["error"]["message"].get<std::string>().find("jobs[1]"), std::string::npos) << bad.body;
  const HttpResult missing_dependency =
      server.post("/api/v1/jobs", {{"jobs", {{{"type", "a"}}, {{"type", "b"}, {"depends_on", {999}}}}}});
  EXPECT_EQ(missing_dependency.status, 404) << missing_dependency.body;
  EXPECT_EQ(server.cli().job_count(), 2u);
}

// As with `quern add --after 4 --after 4`: an item given twice counts once.
TEST(HttpJobs, RepeatedDependenciesTagsAndFilesCountOnce) {
  QuernServer server({"--concurrency", "0"});
  const Json parent = server.enqueue({{"type", "a"}});
  const Json child = server.enqueue({{"type", "b"},
                                     {"depends_on", {parent["id"], parent["id"]}},
                                     {"tags", {"x", "y", "x"}},
                                     {"needs_files", {"/tmp/f", "/tmp/f"}}});
  EXPECT_EQ(child["depends_on"], Json::array({parent["id"]}));
  EXPECT_EQ(child["tags"], Json::array({"x", "y"}));
  EXPECT_EQ(child["needs_files"], Json::array({"/tmp/f"}));
}

TEST(HttpJobs, UniqueKeyReturnsTheLiveJob) {
  QuernServer server({"--concurrency", "0"});
  const Json first = server.enqueue({{"type", "scan"}, {"unique_key", "scan:/media"}});
  const Json second = server.enqueue({{"type", "scan"}, {"unique_key", "scan:/media"}});
  EXPECT_EQ(first["id"], second["id"]);
  EXPECT_EQ(server.cli().job_count(), 1u);
}

TEST(HttpJobs, BadBodiesAre400AndChangeNothing) {
  QuernServer server({"--concurrency", "0"});
  const std::vector<std::string> bodies = {
      "{not json",
      "[1,2]",
      R"({"payload":{}})",                           // no type
      R"({"type":7})",                               // wrong type
      R"({"type":"a","priority":"urgent"})",         // bad priority
      R"({"type":"a","priority":1.5})",
      R"({"type":"a","delay":"soon"})",              // bad duration
      R"({"type":"a","delay":-1})",
      R"({"type":"a","run_at":"tomorrow"})",
      R"({"type":"a","delay":"1s","run_at":"2030-01-01T00:00:00Z"})",
      R"({"type":"a","max_attempts":0})",
      R"({"type":"a","timeout":0})",
      R"({"type":"a","depends_on":[0]})",
      R"({"type":"a","needs_files":["relative/path"]})",
      R"({"type":"a","tags":[1]})",
      R"({"type":"a","tags":"nightly"})",            // a string is not a list
      R"({"type":"a","payload":{"n":123456789012345678901234567890}})",  // would lose digits
      R"({"type":"a","needs_files":"/tmp/x"})",
      R"({"type":"a","on_dependency_failure":"explode"})",
      R"({"type":"a","typo_field":1})",
      R"({"type":"a","type":"b"})",                  // a member named twice
      R"({"type":"a","payload":{"n":1,"n":2}})",
      R"({"command":[]})",
      R"({"command":["ls"],"cwd":"relative"})",
      R"({"command":["ls"],"payload":{}})",
      R"({"command":["ls"],"type":"other"})",
      R"({"type":"shell","payload":{"no":"command"}})",
      R"({"jobs":[]})",
      R"({"type":"a","queue":""})",
      R"({"type":"a","queue":".."})",                  // no URL path can name it
      R"({"type":"a","unique_key":"nul\u0000key"})",  // PostgreSQL text holds no NUL
      R"({"type":"a","needs_files":["/tmp/nul\u0000"]})",
  };
  for (const auto& body : bodies) {
    const HttpResult result = server.request("POST", "/api/v1/jobs", body);
    EXPECT_EQ(result.status, 400) << body << " → " << result.body;
    EXPECT_EQ(result.error_code(), "invalid_argument") << body;
  }
  EXPECT_EQ(server.cli().job_count(), 0u);
}

// Brotli at cpp-httplib's quality took seconds for a large list; a browser, which
// accepts "gzip, deflate, br", gets gzip.
TEST(HttpJobs, ResponsesAreGzipNeverBrotli) {
  QuernServer server({"--concurrency", "0"});
  Json jobs = Json::array();
  for (int i = 0; i < 50; ++i) jobs.push_back({{"type", "t"}, {"payload", {{"text", std::string(500, 'a' + i % 26)}}}});
  ASSERT_EQ(server.post("/api/v1/jobs", {{"jobs", jobs}}).status, 201);
  const HttpResult browser = server.get("/api/v1/jobs?limit=50", {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_EQ(browser.status, 200);
  EXPECT_EQ(browser.header("Content-Encoding"), "gzip");
  EXPECT_EQ(browser.json()["jobs"].size(), 50u);
  const HttpResult only_brotli = server.get("/api/v1/jobs?limit=50", {{"Accept-Encoding", "br"}});
  ASSERT_EQ(only_brotli.status, 200);
  EXPECT_EQ(only_brotli.header("Content-Encoding"), "");
  EXPECT_EQ(only_brotli.json()["jobs"].size(), 50u);
  EXPECT_EQ(server.get("/", {{"Accept-Encoding", "br;q=1, gzip;q=0.5"}}).header("Content-Encoding"), "gzip");
}

TEST(HttpJobs, PayloadOverTheLimitIs413) {
  QuernServer server({"--concurrency", "0"});
  // Within the body limit (payload limit + slack) but over the payload limit.
  const std::string payload(1100 * 1024, 'x');
  const HttpResult result = server.post("/api/v1/jobs", {{"type", "a"}, {"payload", payload}});
  EXPECT_EQ(result.status, 413) << result.body.substr(0, 200);
  EXPECT_EQ(result.error_code(), "too_large");
  EXPECT_EQ(server.cli().job_count(), 0u);
}

TEST(HttpJobs, OversizeBodyGetsACleanJson413) {
  QuernServer server({"--concurrency", "0"});
  const std::string body = R"({"type":"a","payload":")" + std::string(3 << 20, 'x') + "\"}";
  const HttpResult result = server.request("POST", "/api/v1/jobs", body);
  EXPECT_EQ(result.status, 413);
  EXPECT_EQ(result.error_code(), "too_large");
  // The connection stayed usable and nothing was written.
  EXPECT_EQ(server.get("/healthz").status, 200);
  EXPECT_EQ(server.cli().job_count(), 0u);

  // A chunked body over the limit too (httplib's own limit only sees Content-Length).
  RawHttpConnection raw(server.port());
  std::string chunked = "POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(1 << 20, 'y');
  for (int i = 0; i < 3; ++i) chunked += "100000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(raw.send(chunked));
  const HttpResult chunked_result = raw.read_response();
  EXPECT_EQ(chunked_result.status, 413);
  EXPECT_EQ(chunked_result.error_code(), "too_large");
}

TEST(HttpJobs, GetOneJobUnknownIs404AndBadIdIs400) {
  QuernServer server({"--concurrency", "0"});
  const Json job = server.enqueue({{"type", "a"}});
  const HttpResult found = server.get("/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()));
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(found.json(), job);
  for (const std::string path : {"/api/v1/jobs/999", "/api/v1/jobs/999/log", "/api/v1/jobs/999/history"}) {
    const HttpResult result = server.get(path);
    EXPECT_EQ(result.status, 404) << path;
    EXPECT_EQ(result.error_code(), "not_found") << path;
  }
  for (const std::string id : {"abc", "0", "-1", "1.5", "99999999999999999999"}) {
    const HttpResult result = server.get("/api/v1/jobs/" + id);
    EXPECT_EQ(result.status, 400) << id;
    EXPECT_EQ(result.error_code(), "invalid_argument") << id;
  }
  EXPECT_EQ(server.request("POST", "/api/v1/jobs/999/retry").status, 404);
  EXPECT_EQ(server.request("POST", "/api/v1/jobs/999/cancel").status, 404);
  EXPECT_EQ(server.request("DELETE", "/api/v1/jobs/999").status, 404);
  EXPECT_EQ(server.request("POST", "/api/v1/jobs/x/cancel").status, 400);
}

TEST(HttpJobs, UnknownRouteIs404WithTheErrorBody) {
  QuernServer server({"--concurrency", "0"});
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/nothing"}, {"POST", "/api/v1/jobs/1/explode"}, {"PUT", "/api/v1/jobs"},
           {"DELETE", "/api/v1/stats"}, {"GET", "/api/v2/jobs"}, {"GET", "/api/v1/jobs/"}}) {
    const HttpResult result = server.request(method, path, method == "GET" ? "" : "{}");
    EXPECT_EQ(result.status, 404) << method << " " << path;
    EXPECT_EQ(result.error_code(), "not_found") << method << " " << path;
  }
}

TEST(HttpJobs, ListFiltersAndPagesWithACursor) {
  QuernServer server({"--concurrency", "0"});
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(server.enqueue({{"type", i % 2 ? "odd" : "even"}, {"tags", {"t" + std::to_string(i)}}})["id"]);
  server.enqueue({{"type", "even"}, {"queue", "other"}});

  Json page = server.get("/api/v1/jobs?limit=2").json();
  ASSERT_EQ(page["jobs"].size(), 2u);
  EXPECT_EQ(page["jobs"][0]["id"], ids[0]);
  ASSERT_TRUE(page["next_cursor"].is_string());
  std::vector<int64_t> seen;
  std::string cursor;
  while (true) {
    const Json next = server.get("/api/v1/jobs?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor)).json();
    for (const auto& job : next["jobs"]) seen.push_back(job["id"]);
    if (next["next_cursor"].is_null()) break;
    cursor = next["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  const Json newest = server.get("/api/v1/jobs?order=desc&limit=3").json();
  ASSERT_EQ(newest["jobs"].size(), 3u);
  EXPECT_GT(newest["jobs"][0]["id"].get<int64_t>(), newest["jobs"][1]["id"].get<int64_t>());
  const Json older = server.get("/api/v1/jobs?order=desc&limit=3&cursor=" + newest["next_cursor"].get<std::string>()).json();
  ASSERT_EQ(older["jobs"].size(), 3u);
  EXPECT_EQ(older["jobs"][2]["id"], ids[0]);
  EXPECT_TRUE(older["next_cursor"].is_null());

  EXPECT_EQ(server.get("/api/v1/jobs?type=odd").json()["jobs"].size(), 2u);
  EXPECT_EQ(server.get("/api/v1/jobs?queue=other").json()["jobs"].size(), 1u);
  EXPECT_EQ(server.get("/api/v1/jobs?tag=t3").json()["jobs"].size(), 1u);
  server.request("POST", "/api/v1/jobs/" + std::to_string(ids[0]) + "/cancel");
  EXPECT_EQ(server.get("/api/v1/jobs?state=canceled").json()["jobs"].size(), 1u);
  EXPECT_EQ(server.get("/api/v1/jobs?state=canceled,available").json()["jobs"].size(), 6u);
  EXPECT_EQ(server.get("/api/v1/jobs?state=running").json()["jobs"].size(), 0u);

  for (const std::string query : {"state=nope", "limit=0", "limit=abc", "limit=100000", "cursor=x", "order=sideways"}) {
    const HttpResult result = server.get("/api/v1/jobs?" + query);
    EXPECT_EQ(result.status, 400) << query;
    EXPECT_EQ(result.error_code(), "invalid_argument") << query;
  }
}

TEST(HttpJobs, LogAndHistoryOfAShellJob) {
  QuernServer server;  // with its worker pool
  const Json job = server.enqueue({{"command", {"sh", "-c", "echo first; echo ::stage two; echo second"}}});
  const int64_t id = job["id"];
  ASSERT_TRUE(server.wait_for_state(id, "completed"));
  const Json log = server.get("/api/v1/jobs/" + std::to_string(id) + "/log").json();
  std::string text;
  int64_t last_seq = 0;
  for (const auto& chunk : log["log"]) {
    EXPECT_TRUE(chunk.contains("seq") && chunk.contains("at") && chunk.contains("attempt"));
    text += chunk["text"].get<std::string>();
    last_seq = chunk["seq"];
  }
  EXPECT_EQ(text, "first\nsecond\n");
  const Json after = server.get("/api/v1/jobs/" + std::to_string(id) + "/log?after=" + std::to_string(last_seq)).json();
  EXPECT_TRUE(after["log"].empty());

  const Json history = server.get("/api/v1/jobs/" + std::to_string(id) + "/history").json()["history"];
  ASSERT_GE(history.size(), 3u);
  EXPECT_TRUE(history[0]["from"].is_null());
  EXPECT_EQ(history[0]["to"], "available");
  EXPECT_EQ(history.back()["from"], "running");
  EXPECT_EQ(history.back()["to"], "completed");
  for (const auto& entry : history) {
    for (const char* key : {"seq", "at", "from", "to", "attempt", "detail"}) EXPECT_TRUE(entry.contains(key)) << key;
  }
  const std::string path = "/api/v1/jobs/" + std::to_string(id) + "/history?after=";
  const Json newer = server.get(path + history[0]["seq"].dump()).json()["history"];
  ASSERT_EQ(newer.size(), history.size() - 1);
  EXPECT_EQ(newer[0], history[1]);
  EXPECT_TRUE(server.get(path + history.back()["seq"].dump()).json()["history"].empty());
  EXPECT_EQ(server.get(path + "-1").status, 400);
}

// A list of jobs with megabyte payloads stays small when asked to.
TEST(HttpJobs, ListLeavesOutPayloadsOverMaxPayloadBytes) {
  QuernServer server({"--concurrency", "0"});
  const Json big = server.enqueue({{"type", "t"}, {"payload", {{"text", std::string(10000, 'x')}}}});
  const Json small = server.enqueue({{"type", "t"}, {"payload", {{"n", 1}}}});
  const Json jobs = server.get("/api/v1/jobs?max_payload_bytes=100").json()["jobs"];
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0]["id"], big["id"]);
  EXPECT_TRUE(jobs[0]["payload"].is_null());
  EXPECT_EQ(jobs[0]["omitted"], Json({{"payload", 10011}}));
  EXPECT_EQ(jobs[1]["payload"], Json({{"n", 1}}));
  EXPECT_FALSE(jobs[1].contains("omitted"));
  // Without the parameter (or with it empty) every payload comes whole.
  EXPECT_EQ(server.get("/api/v1/jobs").json()["jobs"][0]["payload"]["text"].get<std::string>().size(), 10000u);
  EXPECT_FALSE(server.get("/api/v1/jobs?max_payload_bytes=").json()["jobs"][0]["payload"].is_null());
  EXPECT_EQ(server.get("/api/v1/jobs?max_payload_bytes=x").status, 400);

  // A large result and checkpoint are left out alike, a small payload kept.
  const Json leased = server.post("/api/v1/leases", {{"worker", "w"}, {"max", 2}}).json()["jobs"][1];
  ASSERT_EQ(leased["id"], small["id"]);
  const Json attempt = leased["attempt"];
  ASSERT_EQ(server.post(job_path(leased, "heartbeat"), {{"attempt", attempt}, {"checkpoint", {{"c", std::string(500, 'c')}}}})
                .status,
            200);
  ASSERT_EQ(server.post(job_path(leased, "complete"), {{"attempt", attempt}, {"result", {{"r", std::string(300, 'r')}}}})
                .status,
            200);
  const Json done = server.get("/api/v1/jobs?max_payload_bytes=100&state=completed").json()["jobs"].at(0);
  EXPECT_EQ(done["payload"], Json({{"n", 1}}));
  EXPECT_TRUE(done["result"].is_null());
  EXPECT_TRUE(done["checkpoint"].is_null());
  EXPECT_EQ(done["omitted"], Json({{"result", 308}, {"checkpoint", 508}}));
}

TEST(HttpJobs, RetryCancelDeleteAndTheirConflicts) {
  QuernServer server({"--concurrency", "0"});
  const int64_t id = server.enqueue({{"type", "a"}})["id"];
  const std::string path = "/api/v1/jobs/" + std::to_string(id);

  const HttpResult retry_available = server.request("POST", path + "/retry", "{}");
  EXPECT_EQ(retry_available.status, 409);
  EXPECT_EQ(retry_available.error_code(), "failed_precondition");

  const HttpResult canceled = server.request("POST", path + "/cancel");
  ASSERT_EQ(canceled.status, 200) << canceled.body;
  EXPECT_EQ(canceled.json()["state"], "canceled");
  EXPECT_EQ(server.request("POST", path + "/cancel").status, 409);

  const HttpResult retried = server.request("POST", path + "/retry", "{}");
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.json()["state"], "available");

  // A running job cannot be deleted; leased by a remote worker here.
  const Json leased = server.post("/api/v1/leases", {{"worker", "w"}}).json();
  ASSERT_EQ(leased["jobs"].size(), 1u);
  const HttpResult delete_running = server.request("DELETE", path);
  EXPECT_EQ(delete_running.status, 409);
  EXPECT_EQ(delete_running.error_code(), "failed_precondition");
  server.request("POST", path + "/cancel");

  const HttpResult deleted = server.request("DELETE", path);
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_EQ(server.get(path).status, 404);
}

TEST(HttpJobs, PriorityRetryFailedAndClear) {
  QuernServer server({"--concurrency", "0"});
  const int64_t id = server.enqueue({{"type", "a"}})["id"];
  const std::string path = "/api/v1/jobs/" + std::to_string(id);
  const HttpResult named = server.post(path + "/priority", {{"priority", "critical"}});
  ASSERT_EQ(named.status, 200) << named.body;
  EXPECT_EQ(named.json()["priority"], 30);
  EXPECT_EQ(server.post(path + "/priority", {{"priority", 5}}).json()["priority"], 5);
  EXPECT_EQ(server.post(path + "/priority", {{"priority", "soon"}}).status, 400);
  EXPECT_EQ(server.post(path + "/priority", Json::object()).status, 400);
  EXPECT_EQ(server.post("/api/v1/jobs/999/priority", {{"priority", 1}}).status, 404);

  // Two jobs fail for good through a remote worker; one is in another queue.
  const int64_t other = server.enqueue({{"type", "a"}, {"queue", "q2"}})["id"];
  const Json leased = server.post("/api/v1/leases", {{"worker", "w"}, {"max", 10}}).json()["jobs"];
  ASSERT_EQ(leased.size(), 2u);
  for (const auto& job : leased) {
    const HttpResult failed = server.post("/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/fail",
                                          {{"attempt", job["attempt"]}, {"error", "boom"}, {"retry", false}});
    ASSERT_EQ(failed.status, 200) << failed.body;
    EXPECT_EQ(failed.json()["state"], "failed");
    EXPECT_EQ(failed.json()["error"], "boom");
  }
  const HttpResult retried = server.post("/api/v1/jobs/retry-failed", {{"queue", "q2"}});
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.json()["retried"], 1);
  EXPECT_EQ(server.job(other)["state"], "available");
  EXPECT_EQ(server.job(id)["state"], "failed");

  EXPECT_EQ(server.post("/api/v1/jobs/clear", {{"states", {"available"}}}).status, 400);
  EXPECT_EQ(server.post("/api/v1/jobs/clear", {{"states", {"nope"}}}).status, 400);
  EXPECT_EQ(server.post("/api/v1/jobs/clear", Json::object()).status, 400);
  EXPECT_EQ(server.post("/api/v1/jobs/clear", {{"states", {"completed"}}, {"queue", 7}}).status, 400);
  EXPECT_EQ(server.post("/api/v1/jobs/clear", {{"states", {"completed"}}, {"queue", "nope"}}).json()["deleted"], 0);
  const HttpResult cleared = server.post("/api/v1/jobs/clear", {{"states", {"failed", "completed"}}});
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(cleared.json()["deleted"], 1);
  EXPECT_EQ(server.get(path).status, 404);
  EXPECT_EQ(server.post("/api/v1/jobs/retry-failed", Json::object()).json()["retried"], 0);
}

}  // namespace
}  // namespace quern::http_test
