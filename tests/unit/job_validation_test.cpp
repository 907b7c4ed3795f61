#include "core/job_validation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "quern/error.h"

namespace quern {
namespace {

using namespace std::chrono_literals;

NewJob valid_job() {
  NewJob job;
  job.type = "transcode";
  job.payload = Json{{"file", "/media/a.mkv"}};
  return job;
}

Error error_of_validate(const NewJob& job, size_t max_payload_bytes = kDefaultMaxPayloadBytes) {
  try {
    validate_new_job(job, max_payload_bytes);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "validate_new_job accepted the job";
  return Error::internal("no error");
}

void expect_invalid(const NewJob& job, std::string_view message_part) {
  Error e = error_of_validate(job);
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
  EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << e.what();
}

TEST(ValidateNewJob, AcceptsAFullyDescribedJob) {
  NewJob job = valid_job();
  job.queue = "media";
  job.priority = -5;
  job.max_attempts = 1;
  job.timeout = 1ms;
  job.unique_key = "/media/a.mkv";
  job.depends_on = {1, 2};
  job.needs_files = {"/media/a.mkv"};
  job.tags = {"film", "café"};
  EXPECT_NO_THROW(validate_new_job(job, kDefaultMaxPayloadBytes));
}

TEST(ValidateNewJob, RejectsEmptyNames) {
  NewJob job = valid_job();
  job.type = "";
  expect_invalid(job, "invalid job: type is empty");
  job = valid_job();
  job.queue = "";
  expect_invalid(job, "invalid job: queue is empty");
  job = valid_job();
  job.tags = {"ok", ""};
  expect_invalid(job, "invalid job: tag is empty");
}

TEST(ValidateNewJob, RejectsLongNames) {
  NewJob job = valid_job();
  job.type = std::string(200, 't');
  EXPECT_NO_THROW(validate_new_job(job, kDefaultMaxPayloadBytes));
  job.type = std::string(201, 't');
  expect_invalid(job, "is longer than 200 bytes");
  job = valid_job();
  job.queue = std::string(201, 'q');
  expect_invalid(job, "invalid job: queue \"qqq");
}

TEST(ValidateNewJob, RejectsControlCharactersAndInvalidUtf8InNames) {
  NewJob job = valid_job();
  job.type = "trans\ncode";
  expect_invalid(job, "invalid job: type \"trans\\ncode\" contains a control character");
  job.type = "del\x7f";
  expect_invalid(job, "contains a control character");
  job = valid_job();
  job.queue = "bad\xff";
  expect_invalid(job, "invalid job: queue \"bad\\xff\" is not valid UTF-8");
  job.queue = "..";
  expect_invalid(job, "invalid job: queue \"..\" is reserved");
  job.queue = ".";
  expect_invalid(job, "is reserved");
  job.queue = "...";
  EXPECT_NO_THROW(validate_new_job(job, kDefaultMaxPayloadBytes));
}

TEST(ValidateNewJob, RejectsMaxAttemptsBelowOne) {
  NewJob job = valid_job();
  job.max_attempts = 0;
  expect_invalid(job, "invalid job: max_attempts is 0; it must be at least 1");
  job.max_attempts = -3;
  expect_invalid(job, "max_attempts is -3");
}

TEST(ValidateNewJob, RejectsATimeoutThatIsNotPositive) {
  NewJob job = valid_job();
  job.timeout = -1s;
  expect_invalid(job, "invalid job: timeout must be positive");
  job.timeout = 0s;
  expect_invalid(job, "invalid job: timeout must be positive");
}

TEST(ValidateNewJob, RejectsEmptyOrHugeUniqueKeys) {
  NewJob job = valid_job();
  job.unique_key = "";
  expect_invalid(job, "invalid job: unique_key is empty");
  job.unique_key = std::string(2049, 'k');
  expect_invalid(job, "unique_key is longer than 2048 bytes");
  job.unique_key = std::string(2048, 'k');
  EXPECT_NO_THROW(validate_new_job(job, kDefaultMaxPayloadBytes));
}

// PostgreSQL text holds neither, so two different keys could otherwise become one there.
TEST(ValidateNewJob, RejectsUniqueKeysWithNulOrInvalidUtf8) {
  NewJob job = valid_job();
  job.unique_key = std::string("nul\0key", 7);
  expect_invalid(job, "invalid job: unique_key contains a NUL byte");
  job.unique_key = "u\xff";
  expect_invalid(job, "is not valid UTF-8");
  job.unique_key = "u\xef\xbf\xbd";  // U+FFFD itself is fine
  EXPECT_NO_THROW(validate_new_job(job, kDefaultMaxPayloadBytes));
}

TEST(ValidateNewJob, RejectsDependencyIdsBelowOne) {
  NewJob job = valid_job();
  job.depends_on = {3, 0};
  expect_invalid(job, "invalid job: depends_on id 0 is not a positive integer");
  job.depends_on = {-7};
  expect_invalid(job, "depends_on id -7");
}

TEST(ValidateNewJob, RejectsRelativeOrEmptyFilePaths) {
  NewJob job = valid_job();
  job.needs_files = {"media/a.mkv"};
  expect_invalid(job, "invalid job: needs_files path \"media/a.mkv\" is not absolute");
  job.needs_files = {""};
  expect_invalid(job, "is not absolute");
  job.needs_files = {std::string("/a\0b", 4)};
  expect_invalid(job, "contains a NUL byte");
  job.needs_files = {"/media/d\xff"};
  expect_invalid(job, "is not valid UTF-8");
}

TEST(ValidateNewJob, MeasuresThePayloadAsCompactJson) {
  NewJob job = valid_job();
  job.payload = Json{{"s", std::string(100, 'x')}};  // {"s":"xxx…"} is 108 bytes compact
  EXPECT_NO_THROW(validate_new_job(job, 108));
  Error e = error_of_validate(job, 107);
  EXPECT_EQ(e.code(), ErrorCode::kTooLarge);
  EXPECT_STREQ(e.what(), "payload is 108 bytes; the limit is 107");
}

TEST(ValidateNewJob, RejectsPayloadTextThatIsNotUtf8) {
  NewJob job = valid_job();
  job.payload = Json{{"s", "\xff"}};
  expect_invalid(job, "invalid job: payload contains text that is not valid UTF-8");
}

}  // namespace
}  // namespace quern
