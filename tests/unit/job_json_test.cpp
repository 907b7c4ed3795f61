#include "core/job_json.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "core/time_format.h"

namespace quern {
namespace {

using namespace std::chrono_literals;

const Time kCreated = parse_rfc3339("2026-11-25T10:24:00Z");

Job fresh_job() {
  Job job;
  job.id = 42;
  job.queue = "default";
  job.type = "transcode";
  job.payload = Json{{"file", "/media/a.mkv"}};
  job.state = JobState::kAvailable;
  job.run_at = kCreated;
  job.created_at = kCreated;
  job.updated_at = kCreated;
  return job;
}

std::set<std::string> keys_of(const Json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

TEST(JobToJson, HasExactlyTheContractKeys) {
  const std::set<std::string> expected = {
      "id",          "queue",      "type",       "state",       "priority",   "attempt",     "failures",
      "max_attempts", "payload",   "result",     "error",       "progress",   "stage",       "checkpoint",
      "unique_key",  "tags",       "run_at",     "created_at",  "started_at", "finished_at", "expires_at",
      "depends_on",  "timeout_ms", "needs_files", "updated_at", "lease_owner", "lease_expires_at"};
  EXPECT_EQ(keys_of(job_to_json(fresh_job())), expected);
}

TEST(JobToJson, WritesUnsetFieldsAsNull) {
  Json json = job_to_json(fresh_job());
  for (const char* key : {"result", "error", "stage", "checkpoint", "unique_key", "started_at", "finished_at",
                          "expires_at", "timeout_ms", "lease_owner", "lease_expires_at"}) {
    EXPECT_TRUE(json[key].is_null()) << key;
  }
  EXPECT_EQ(json["tags"], Json::array());
  EXPECT_EQ(json["depends_on"], Json::array());
  EXPECT_EQ(json["needs_files"], Json::array());
}

TEST(JobToJson, WritesEveryField) {
  Job job = fresh_job();
  job.state = JobState::kRunning;
  job.priority = 20;
  job.attempt = 2;
  job.failures = 1;
  job.max_attempts = 5;
  job.result = Json{{"ok", true}};
  job.error = "exit status 1";
  job.progress = 0.5;
  job.stage = "transcode";
  job.checkpoint = Json{{"offset", 10}};
  job.unique_key = "/media/a.mkv";
  job.tags = {"film", "4k"};
  job.started_at = kCreated + 1s;
  job.finished_at = kCreated + 2500ms;
  job.expires_at = kCreated + 1h;
  job.depends_on = {7, 9};
  job.timeout = 90s;
  job.needs_files = {"/media/a.mkv"};
  job.updated_at = kCreated + 3s;
  job.lease_owner = "vm/abc/def/4026531836/123/456";
  job.lease_expires_at = kCreated + 31s;

  Json json = job_to_json(job);
  EXPECT_EQ(json["id"], 42);
  EXPECT_EQ(json["queue"], "default");
  EXPECT_EQ(json["type"], "transcode");
  EXPECT_EQ(json["state"], "running");
  EXPECT_EQ(json["priority"], 20);
  EXPECT_EQ(json["attempt"], 2);
  EXPECT_EQ(json["failures"], 1);
  EXPECT_EQ(json["max_attempts"], 5);
  EXPECT_EQ(json["payload"], (Json{{"file", "/media/a.mkv"}}));
  EXPECT_EQ(json["result"], (Json{{"ok", true}}));
  EXPECT_EQ(json["error"], "exit status 1");
  EXPECT_EQ(json["progress"], 0.5);
  EXPECT_EQ(json["stage"], "transcode");
  EXPECT_EQ(json["checkpoint"], (Json{{"offset", 10}}));
  EXPECT_EQ(json["unique_key"], "/media/a.mkv");
  EXPECT_EQ(json["tags"], Json::array({"film", "4k"}));
  EXPECT_EQ(json["run_at"], "2026-11-25T10:24:00Z");
  EXPECT_EQ(json["created_at"], "2026-11-25T10:24:00Z");
  EXPECT_EQ(json["started_at"], "2026-11-25T10:24:01Z");
  EXPECT_EQ(json["finished_at"], "2026-11-25T10:24:02.500Z");
  EXPECT_EQ(json["expires_at"], "2026-11-25T11:24:00Z");
  EXPECT_EQ(json["depends_on"], Json::array({7, 9}));
  EXPECT_EQ(json["timeout_ms"], 90000);
  EXPECT_EQ(json["needs_files"], Json::array({"/media/a.mkv"}));
  EXPECT_EQ(json["updated_at"], "2026-11-25T10:24:03Z");
  EXPECT_EQ(json["lease_owner"], "vm/abc/def/4026531836/123/456");
  EXPECT_EQ(json["lease_expires_at"], "2026-11-25T10:24:31Z");
}

TEST(JobToJson, NamesEveryState) {
  Job job = fresh_job();
  for (JobState s : kAllStates) {
    job.state = s;
    EXPECT_EQ(job_to_json(job)["state"], std::string(state_name(s)));
  }
}

TEST(JobToJson, ReplacesInvalidUtf8SoTheObjectCanBeWritten) {
  Job job = fresh_job();
  job.error = "bad \xff byte";
  job.stage = "\xc3";
  job.tags = {"ok", "\xfe"};
  Json json = job_to_json(job);
  EXPECT_EQ(json["error"], "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(json["stage"], "\xEF\xBF\xBD");
  EXPECT_NO_THROW(json.dump());
}

TEST(HistoryEntryToJson, WritesTheTransition) {
  HistoryEntry entry;
  entry.seq = 17;
  entry.job_id = 42;
  entry.at = kCreated;
  entry.from = JobState::kRunning;
  entry.to = JobState::kScheduled;
  entry.attempt = 1;
  entry.detail = "exit status 1";
  EXPECT_EQ(history_entry_to_json(entry), (Json{{"seq", 17},
                                                {"job_id", 42},
                                                {"at", "2026-11-25T10:24:00Z"},
                                                {"from", "running"},
                                                {"to", "scheduled"},
                                                {"attempt", 1},
                                                {"detail", "exit status 1"}}));
}

TEST(HistoryEntryToJson, WritesNullFromForTheEnqueue) {
  HistoryEntry entry;
  entry.seq = 1;
  entry.job_id = 1;
  entry.at = kCreated;
  entry.to = JobState::kAvailable;
  Json json = history_entry_to_json(entry);
  EXPECT_TRUE(json["from"].is_null());
  EXPECT_TRUE(json["detail"].is_null());
  EXPECT_EQ(json["to"], "available");
}

}  // namespace
}  // namespace quern
