// The event stream (GET /api/v1/events): state transitions with their history seq as
// id (also other processes' changes), progress and queue events, and resuming with
// Last-Event-ID.
#include <gtest/gtest.h>

#include "http_harness.h"

namespace quern::http_test {
namespace {

// An open event stream.
class EventStream {
 public:
  explicit EventStream(const QuernServer& server, const std::vector<std::string>& headers = {},
                       const std::string& path = "/api/v1/events")
      : connection_(server.port()) {
    EXPECT_TRUE(connection_.send_request("GET", path, "", headers));
    EXPECT_TRUE(wait_for([](const std::string& body) { return body.find(": quern events") != std::string::npos; }));
  }

  HttpResult head() const {
    auto parsed = RawHttpConnection::parse_response(connection_.received().substr(0, connection_.received().find("\r\n\r\n") + 4) +
                                                   "0\r\n\r\n");
    return parsed ? parsed->first : HttpResult{};
  }

  std::vector<StreamEvent> events() const { return parse_events(connection_.stream_body()); }

  // Waits until an event matches.
  std::optional<StreamEvent> wait_for_event(const std::function<bool(const StreamEvent&)>& match,
                                            std::chrono::milliseconds deadline = 10s) {
    std::optional<StreamEvent> found;
    wait_for(
        [&](const std::string& body) {
          for (auto& event : parse_events(body)) {
            if (match(event)) {
              found = event;
              return true;
            }
          }
          return false;
        },
        deadline);
    return found;
  }

 private:
  bool wait_for(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds deadline = 10s) {
    return connection_.read_until(
        [&](const std::string& text) {
          const size_t end = text.find("\r\n\r\n");
          return end != std::string::npos && done(RawHttpConnection::dechunk(text.substr(end + 4), nullptr));
        },
        deadline);
  }

  RawHttpConnection connection_;
};

std::function<bool(const StreamEvent&)> transition(int64_t id, const std::string& to) {
  return [id, to](const StreamEvent& e) { return e.event == "job" && e.data["job_id"] == id && e.data["to"] == to; };
}

TEST(HttpEvents, StreamsEveryTransitionWithItsSeq) {
  QuernServer server;
  EventStream stream(server);
  EXPECT_EQ(stream.head().status, 200);
  EXPECT_EQ(stream.head().header("Content-Type"), "text/event-stream");
  const int64_t id = server.enqueue({{"command", {"true"}}, {"queue", "media"}})["id"];
  const auto completed = stream.wait_for_event(transition(id, "completed"));
  ASSERT_TRUE(completed) << server.log();

  std::vector<std::string> states;
  int64_t last_seq = 0;
  for (const auto& event : stream.events()) {
    if (event.event != "job" || event.data["job_id"] != id) continue;
    for (const char* key : {"seq", "job_id", "queue", "type", "from", "to", "attempt", "at", "detail"}) {
      EXPECT_TRUE(event.data.contains(key)) << key;
    }
    EXPECT_EQ(event.id, std::to_string(event.data["seq"].get<int64_t>()));
    EXPECT_GT(event.data["seq"].get<int64_t>(), last_seq);
    last_seq = event.data["seq"];
    EXPECT_EQ(event.data["queue"], "media");
    EXPECT_EQ(event.data["type"], "shell");
    states.push_back(event.data["to"]);
  }
  EXPECT_EQ(states, (std::vector<std::string>{"available", "running", "completed"}));
  // The same seqs as the job's history.
  const Json history = server.get("/api/v1/jobs/" + std::to_string(id) + "/history").json()["history"];
  EXPECT_EQ(history.back()["seq"], last_seq);
}

TEST(HttpEvents, SeesAnotherProcessesChanges) {
  QuernServer server({"--concurrency", "0"});
  EventStream stream(server);
  const int64_t id = server.cli().add({"--type", "x"});
  EXPECT_TRUE(stream.wait_for_event(transition(id, "available")));
  server.cli().run({"cancel", std::to_string(id)});
  EXPECT_TRUE(stream.wait_for_event(transition(id, "canceled")));
}

TEST(HttpEvents, ProgressAndQueueEvents) {
  QuernServer server({"--concurrency", "0"});
  EventStream stream(server);
  server.enqueue({{"type", "t"}});
  const Json job = server.post("/api/v1/leases", {{"worker", "w"}}).json()["jobs"][0];
  server.post("/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/heartbeat",
              {{"attempt", job["attempt"]}, {"progress", 0.25}, {"stage", "download"}});
  const auto progress = stream.wait_for_event([&](const StreamEvent& e) { return e.event == "progress"; });
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->data, Json({{"job_id", job["id"]}, {"progress", 0.25}, {"stage", "download"}}));
  EXPECT_TRUE(progress->id.empty());

  server.request("POST", "/api/v1/queues/bg/pause");
  const auto paused = stream.wait_for_event([](const StreamEvent& e) { return e.event == "queue"; });
  ASSERT_TRUE(paused);
  EXPECT_EQ(paused->data, Json({{"queue", "bg"}, {"paused", true}}));
  server.cli().run({"resume", "bg"});  // another process
  EXPECT_TRUE(stream.wait_for_event([](const StreamEvent& e) { return e.event == "queue" && e.data["paused"] == false; }));
}

// The poller looks every 100 ms: a pause and resume between two looks are both news.
TEST(HttpEvents, APauseAndResumeBetweenTwoPollsAreBothSent) {
  QuernServer server({"--concurrency", "0"});
  EventStream stream(server);
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    server.request("POST", "/api/v1/queues/bg/pause");
    server.request("POST", "/api/v1/queues/bg/resume");
  }
  auto queue_events = [&] {
    std::vector<Json> seen;
    for (const StreamEvent& e : stream.events()) {
      if (e.event == "queue") seen.push_back(e.data);
    }
    return seen;
  };
  stream.wait_for_event([&](const StreamEvent&) { return queue_events().size() >= 2 * kRounds; });
  std::vector<Json> expected;
  for (int round = 0; round < kRounds; ++round) {
    expected.push_back({{"queue", "bg"}, {"paused", true}});
    expected.push_back({{"queue", "bg"}, {"paused", false}});
  }
  EXPECT_EQ(queue_events(), expected);
}

TEST(HttpEvents, LastEventIdResumesWithWhatWasMissed) {
  QuernServer server({"--concurrency", "0"});
  int64_t resume_from = 0;
  {
    EventStream first(server);
    const int64_t id = server.enqueue({{"type", "a"}})["id"];
    const auto seen = first.wait_for_event(transition(id, "available"));
    ASSERT_TRUE(seen);
    resume_from = std::stoll(seen->id);
  }
  // While no one listens: three more transitions.
  const int64_t second = server.enqueue({{"type", "b"}})["id"];
  server.request("POST", "/api/v1/jobs/" + std::to_string(second) + "/cancel");
  const int64_t third = server.enqueue({{"type", "c"}})["id"];

  std::vector<std::pair<int64_t, std::string>> expected = {{second, "available"}, {second, "canceled"}, {third, "available"}};
  for (const bool header : {true, false}) {
    auto stream = header ? std::make_unique<EventStream>(server, std::vector<std::string>{"Last-Event-ID: " + std::to_string(resume_from)})
                         : std::make_unique<EventStream>(server, std::vector<std::string>{},
                                                         "/api/v1/events?last_event_id=" + std::to_string(resume_from));
    EventStream& resumed = *stream;
    ASSERT_TRUE(resumed.wait_for_event(transition(third, "available")));
    std::vector<std::pair<int64_t, std::string>> got;
    for (const auto& event : resumed.events()) {
      if (event.event == "job") got.emplace_back(event.data["job_id"].get<int64_t>(), event.data["to"].get<std::string>());
    }
    EXPECT_EQ(got, expected);
    // And live events follow.
    const int64_t fourth = server.enqueue({{"type", "d"}})["id"];
    EXPECT_TRUE(resumed.wait_for_event(transition(fourth, "available")));
    expected.emplace_back(fourth, "available");
  }
  EXPECT_EQ(server.request("GET", "/api/v1/events", "", {{"Last-Event-ID", "abc"}}).status, 400);
}

// An id ahead of this database's history (kept from another database) does not hold
// back the stream: it goes on from now.
TEST(HttpEvents, AnIdFromTheFutureStartsFromNow) {
  QuernServer server({"--concurrency", "0"});
  server.enqueue({{"type", "a"}});
  EventStream stream(server, {"Last-Event-ID: 999999"});
  const int64_t id = server.enqueue({{"type", "b"}})["id"];
  EXPECT_TRUE(stream.wait_for_event(transition(id, "available")));
}

}  // namespace
}  // namespace quern::http_test
