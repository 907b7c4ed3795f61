// Remote workers over HTTP: leasing (immediate and long-poll), heartbeat, complete and
// fail under the fencing rules, and a stale worker after its lease was rescued.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "core/time_format.h"
#include "http_harness.h"

namespace quern::http_test {
namespace {

// A lease request in the background; its answer and how long it took.
struct PendingLease {
  std::future<HttpResult> answer;
  SteadyClock::time_point started;
};

PendingLease lease_in_background(const QuernServer& server, const Json& body) {
  PendingLease pending;
  pending.started = SteadyClock::now();
  pending.answer = std::async(std::launch::async, [&server, body] { return server.post("/api/v1/leases", body); });
  return pending;
}

TEST(HttpLeases, LeaseGivesRunningJobsWithTheirAttempt) {
  QuernServer server({"--concurrency", "0"});
  const int64_t id = server.enqueue({{"type", "transcribe"}, {"payload", {{"file", "a.wav"}}}})["id"];
  server.enqueue({{"type", "other"}});
  const HttpResult result = server.post("/api/v1/leases", {{"worker", "gpu-1"}, {"types", {"transcribe"}}, {"max", 5}});
  ASSERT_EQ(result.status, 200) << result.body;
  const Json jobs = result.json()["jobs"];
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["id"], id);
  EXPECT_EQ(jobs[0]["state"], "running");
  EXPECT_EQ(jobs[0]["attempt"], 1);
  EXPECT_EQ(jobs[0]["payload"], Json({{"file", "a.wav"}}));
  EXPECT_EQ(jobs[0]["lease_owner"].get<std::string>().rfind("remote:gpu-1@", 0), 0u);
  // Nothing more of that type: an answer at once without `wait`.
  EXPECT_TRUE(server.post("/api/v1/leases", {{"worker", "gpu-1"}, {"types", {"transcribe"}}}).json()["jobs"].empty());
}

TEST(HttpLeases, BadLeaseRequestsAre400) {
  QuernServer server({"--concurrency", "0"});
  for (const Json& body : {Json({{"worker", ""}}), Json({{"worker", 7}}), Json({{"worker", "w"}, {"max", 0}}),
                           Json({{"worker", "w"}, {"wait", "forever"}}), Json({{"worker", "w"}, {"lease", "1ms"}}),
                           Json({{"worker", "w"}, {"types", 3}}), Json({{"worker", "w"}, {"types", "t"}}),
                           Json({{"worker", "w"}, {"queues", "default"}}), Json({{"worker", "w"}, {"colour", "red"}})}) {
    const HttpResult result = server.post("/api/v1/leases", body);
    EXPECT_EQ(result.status, 400) << body.dump() << " → " << result.body;
  }
}

// The enqueue wakes the waiting lease itself: the hand-over (the job's created_at to its
// started_at, both taken in the server) is far below the broker's 500 ms recheck, every
// time, not only when a recheck happens to fall just after the enqueue.
TEST(HttpLeases, AWaitingLeaseGetsAJobEnqueuedLaterAtOnce) {
  QuernServer server({"--concurrency", "0"});
  for (int round = 0; round < 3; ++round) {
    PendingLease pending = lease_in_background(server, {{"worker", "w"}, {"types", {"rip"}}, {"wait", "10s"}});
    // The lease is waiting (nothing to claim) when the job comes.
    ASSERT_EQ(pending.answer.wait_for(200ms), std::future_status::timeout);
    const Json job = server.enqueue({{"type", "rip"}});
    const HttpResult result = pending.answer.get();
    ASSERT_EQ(result.status, 200) << result.body;
    ASSERT_EQ(result.json()["jobs"].size(), 1u);
    const Json leased = result.json()["jobs"][0];
    EXPECT_EQ(leased["id"], job["id"]);
    const auto hand_over = std::chrono::duration_cast<std::chrono::milliseconds>(
        parse_rfc3339(leased["started_at"].get<std::string>()) - parse_rfc3339(leased["created_at"].get<std::string>()));
    EXPECT_LT(hand_over, 250ms) << "round " << round << ": the lease was not woken by the enqueue";
    std::cout << "[ info ] enqueued → claimed for the waiting lease: " << hand_over.count() << " ms\n";
  }
}

TEST(HttpLeases, AJobAddedByAnotherProcessIsHandedOverWithinMilliseconds) {
  QuernServer server({"--concurrency", "0"});
  PendingLease pending = lease_in_background(server, {{"worker", "w"}, {"types", {"rip"}}, {"wait", "20s"}});
  ASSERT_EQ(pending.answer.wait_for(200ms), std::future_status::timeout);
  const int64_t id = server.cli().add({"--type", "rip"});
  ASSERT_EQ(pending.answer.wait_for(5s), std::future_status::ready);
  const HttpResult result = pending.answer.get();
  ASSERT_EQ(result.json()["jobs"].size(), 1u);
  const Json job = result.json()["jobs"][0];
  EXPECT_EQ(job["id"], id);
  // From the enqueue (its time, taken in `quern add` just before the commit) to the
  // claim for the waiting lease (taken in the server): the server polls the change
  // counter every 2 ms. The bound is generous for loaded machines and sanitizer builds.
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      parse_rfc3339(job["started_at"].get<std::string>()) - parse_rfc3339(job["created_at"].get<std::string>()));
  EXPECT_LT(latency, 1000ms);
  std::cout << "[ info ] enqueued by quern add → claimed for the waiting lease: " << latency.count() << " ms\n";
}

TEST(HttpLeases, AWaitEndsEmptyAfterItsDuration) {
  QuernServer server({"--concurrency", "0"});
  const auto started = SteadyClock::now();
  const HttpResult result = server.post("/api/v1/leases", {{"worker", "w"}, {"wait", 0.3}});
  EXPECT_GE(SteadyClock::now() - started, 300ms);
  ASSERT_EQ(result.status, 200);
  EXPECT_TRUE(result.json()["jobs"].empty());
}

TEST(HttpLeases, HeartbeatCompleteAndStaleAttempts) {
  QuernServer server({"--concurrency", "0"});
  server.enqueue({{"type", "t"}});
  const Json job = server.post("/api/v1/leases", {{"worker", "w"}}).json()["jobs"][0];
  const int attempt = job["attempt"];

  const HttpResult beat = server.post(job_path(job, "heartbeat"),
                                      {{"attempt", attempt}, {"progress", 0.5}, {"stage", "encode"}, {"checkpoint", {{"frame", 10}}}});
  ASSERT_EQ(beat.status, 200) << beat.body;
  EXPECT_EQ(beat.json()["progress"], 0.5);
  EXPECT_EQ(beat.json()["stage"], "encode");
  EXPECT_EQ(beat.json()["checkpoint"], Json({{"frame", 10}}));
  EXPECT_EQ(server.post(job_path(job, "heartbeat"), {{"attempt", attempt}, {"progress", 2}}).status, 400);
  EXPECT_EQ(server.post(job_path(job, "heartbeat"), Json::object()).status, 400);

  const HttpResult stale = server.post(job_path(job, "complete"), {{"attempt", attempt + 1}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.error_code(), "aborted");
  EXPECT_EQ(server.job(job["id"])["state"], "running");

  const HttpResult done = server.post(job_path(job, "complete"), {{"attempt", attempt}, {"result", {{"words", 12}}}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.json()["state"], "completed");
  EXPECT_EQ(done.json()["result"], Json({{"words", 12}}));
  // Once finished, every call of that worker is stale and changes nothing.
  EXPECT_EQ(server.post(job_path(job, "complete"), {{"attempt", attempt}}).status, 409);
  EXPECT_EQ(server.post(job_path(job, "heartbeat"), {{"attempt", attempt}}).status, 409);
  EXPECT_EQ(server.post(job_path(job, "fail"), {{"attempt", attempt}, {"error", "late"}}).status, 409);
  EXPECT_EQ(server.job(job["id"])["state"], "completed");
  EXPECT_EQ(server.post("/api/v1/jobs/999/heartbeat", {{"attempt", 1}}).status, 404);
}

// The server's default lease is 30 s; a worker that leased for 90 s and heartbeats
// without naming a lease keeps 90 s, or a beat every minute would lose the job.
TEST(HttpLeases, AHeartbeatWithoutALeaseKeepsTheLeasedLength) {
  QuernServer server({"--concurrency", "0"});
  server.enqueue({{"type", "t"}});
  const Json job = server.post("/api/v1/leases", {{"worker", "w"}, {"lease", "90s"}}).json()["jobs"][0];
  auto seconds_left = [](const Json& j) {
    return std::chrono::duration_cast<std::chrono::seconds>(parse_rfc3339(j["lease_expires_at"].get<std::string>()) -
                                                            std::chrono::system_clock::now())
        .count();
  };
  EXPECT_GT(seconds_left(job), 80);
  const HttpResult beat = server.post(job_path(job, "heartbeat"), {{"attempt", job["attempt"]}});
  ASSERT_EQ(beat.status, 200) << beat.body;
  EXPECT_GT(seconds_left(beat.json()), 80);
  const HttpResult shorter = server.post(job_path(job, "heartbeat"), {{"attempt", job["attempt"]}, {"lease", "10s"}});
  EXPECT_LE(seconds_left(shorter.json()), 10);
  const HttpResult again = server.post(job_path(job, "heartbeat"), {{"attempt", job["attempt"]}});
  EXPECT_LE(seconds_left(again.json()), 10);
  EXPECT_GT(seconds_left(again.json()), 5);
}

TEST(HttpLeases, FailRetriesFailsForGoodOrSnoozes) {
  QuernServer server({"--concurrency", "0"});
  server.enqueue({{"type", "t"}, {"max_attempts", 3}});
  Json job = server.post("/api/v1/leases", {{"worker", "w"}}).json()["jobs"][0];

  // An error text over the payload limit is refused like an oversized result.
  const HttpResult huge = server.post(job_path(job, "fail"), {{"attempt", job["attempt"]}, {"error", std::string((1 << 20) + 1, 'e')}});
  EXPECT_EQ(huge.status, 413) << huge.body;
  EXPECT_EQ(server.job(job["id"])["state"], "running");

  // A counted failure, retried after a backoff.
  HttpResult failed = server.post(job_path(job, "fail"), {{"attempt", job["attempt"]}, {"error", "exit 1"}});
  ASSERT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(failed.json()["state"], "scheduled");
  EXPECT_EQ(failed.json()["failures"], 1);
  EXPECT_EQ(failed.json()["error"], "exit 1");

  // A snooze is no failure.
  ASSERT_TRUE(eventually([&] {
    const Json jobs = server.post("/api/v1/leases", {{"worker", "w"}}).json()["jobs"];
    if (!jobs.empty()) job = jobs[0];
    return !jobs.empty();
  }, 10s));
  EXPECT_EQ(job["attempt"], 2);
  HttpResult snoozed = server.post(job_path(job, "fail"), {{"attempt", 2}, {"snooze", "100ms"}});
  ASSERT_EQ(snoozed.status, 200) << snoozed.body;
  EXPECT_EQ(snoozed.json()["state"], "scheduled");
  EXPECT_EQ(snoozed.json()["failures"], 1);

  // retry=false: failed at once.
  ASSERT_TRUE(eventually([&] {
    const Json jobs = server.post("/api/v1/leases", {{"worker", "w"}}).json()["jobs"];
    if (!jobs.empty()) job = jobs[0];
    return !jobs.empty();
  }, 10s));
  EXPECT_EQ(server.post(job_path(job, "fail"), {{"attempt", job["attempt"]}, {"retry", false}, {"snooze", 1}}).status, 400);
  HttpResult permanent = server.post(job_path(job, "fail"), {{"attempt", job["attempt"]}, {"error", "bad input"}, {"retry", false}});
  ASSERT_EQ(permanent.status, 200) << permanent.body;
  EXPECT_EQ(permanent.json()["state"], "failed");
  EXPECT_EQ(permanent.json()["failures"], 2);
}

// A worker whose lease expired (it stopped heartbeating) is fenced off: the rescuer
// gave the job back, another worker took it, and the late worker changes nothing.
TEST(HttpLeases, StaleRemoteWorkerIsFencedAfterItsLeaseIsRescued) {
  QuernServer server({"--concurrency", "0"});
  const int64_t id = server.enqueue({{"type", "t"}})["id"];
  const Json stale = server.post("/api/v1/leases", {{"worker", "slow"}, {"lease", "300ms"}}).json()["jobs"][0];
  ASSERT_EQ(stale["attempt"], 1);
  // The server's maintenance rescues it once the lease has expired (a failure counted).
  ASSERT_TRUE(eventually([&] { return server.job(id)["state"] == "available"; }, 15s)) << server.job(id).dump();
  EXPECT_EQ(server.job(id)["failures"], 1);
  const Json fresh = server.post("/api/v1/leases", {{"worker", "fast"}}).json()["jobs"][0];
  EXPECT_EQ(fresh["attempt"], 2);

  for (const auto& [action, body] : std::vector<std::pair<std::string, Json>>{
           {"complete", {{"attempt", 1}}}, {"fail", {{"attempt", 1}, {"error", "late"}}}, {"heartbeat", {{"attempt", 1}}}}) {
    const HttpResult result = server.post(job_path(stale, action), body);
    EXPECT_EQ(result.status, 409) << action << ": " << result.body;
    EXPECT_EQ(result.error_code(), "aborted");
  }
  const Json now = server.job(id);
  EXPECT_EQ(now["state"], "running");
  EXPECT_EQ(now["attempt"], 2);
  EXPECT_EQ(server.post(job_path(fresh, "complete"), {{"attempt", 2}}).json()["state"], "completed");
  // Counted once the rescue pass has done its after-work (temp dirs, leftover processes).
  EXPECT_TRUE(eventually([&] { return server.get("/metrics").body.find("quern_leases_rescued_total 1") != std::string::npos; }, 10s));
}

TEST(HttpLeases, SigtermEndsWaitingLeasesAndStreamsPromptly) {
  QuernServer server;
  PendingLease pending = lease_in_background(server, {{"worker", "w"}, {"types", {"none"}}, {"wait", "60s"}});
  RawHttpConnection events(server.port());
  ASSERT_TRUE(events.send_request("GET", "/api/v1/events"));
  ASSERT_TRUE(events.read_until([](const std::string& text) { return text.find("quern events") != std::string::npos; }, 10s));
  // The lease must be waiting in the server, not still on its way, when SIGTERM comes.
  ASSERT_TRUE(eventually([&] { return metric_value(server.get("/metrics").body, "quern_leases_waiting") == 1; }, 10s));
  const auto stopping = SteadyClock::now();
  const auto status = server.stop(SIGTERM, 20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << server.log();
  EXPECT_LT(SteadyClock::now() - stopping, 5s);
  ASSERT_EQ(pending.answer.wait_for(5s), std::future_status::ready);
  const HttpResult answer = pending.answer.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_TRUE(answer.json()["jobs"].empty());
  // The stream ended cleanly (the last chunk came) and the connection closed.
  const auto closing = SteadyClock::now();
  events.read_until([](const std::string&) { return false; }, 10s);
  EXPECT_FALSE(events.connected());
  EXPECT_LT(SteadyClock::now() - closing, 5s);
  EXPECT_NE(events.received().find("\r\n0\r\n\r\n"), std::string::npos);
  EXPECT_NE(server.log().find("stopped"), std::string::npos);
}

}  // namespace
}  // namespace quern::http_test
