#include "store_fixture.h"

#include <stdlib.h>

#include <map>

namespace quern::testing {

namespace {

std::string postgres_schema_for(const std::filesystem::path& dir) { return "test_" + dir.filename().string(); }

}  // namespace

std::string postgres_url_for(const std::filesystem::path& dir) {
  // The suite checks behaviour, not fsyncs (the crash tests keep commits synchronous).
  return postgres_schema_url(postgres_schema_for(dir), /*synchronous=*/false);
}

void drop_postgres_schema_for(const std::filesystem::path& dir) { drop_postgres_schema(postgres_schema_for(dir)); }

std::vector<StoreBackend> store_backends() {
  std::vector<StoreBackend> backends = {
      {"Sqlite",
       [](const std::filesystem::path& dir, const StoreOptions& options) {
         return open_store((dir / "quern.db").string(), options);
       },
       nullptr},
  };
  if (postgres_test_url()) {
    backends.push_back({"Postgres",
                        [](const std::filesystem::path& dir, const StoreOptions& options) {
                          return open_store(postgres_url_for(dir), options);
                        },
                        drop_postgres_schema_for});
  }
  return backends;
}

void StoreTest::SetUp() {
  std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "quern-conformance-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
  store_ = GetParam().open(dir_, StoreOptions{});
}

void StoreTest::TearDown() {
  store_.reset();
  if (GetParam().drop) GetParam().drop(dir_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::shared_ptr<Store> StoreTest::open_store_again(const StoreOptions& options) {
  return GetParam().open(dir_, options);
}

NewJob StoreTest::new_job(std::string type, std::string queue) {
  NewJob job;
  job.type = std::move(type);
  job.queue = std::move(queue);
  return job;
}

Job StoreTest::enqueue(const NewJob& job) {
  auto results = store_->enqueue_jobs({job}, now());
  EXPECT_EQ(results.size(), 1u);
  return results.at(0).job;
}

std::vector<Job> StoreTest::claim(int max, std::vector<std::string> queues, std::vector<std::string> types,
                                  Duration lease) {
  ClaimParams params;
  params.queues = std::move(queues);
  params.types = std::move(types);
  params.max = max;
  params.owner = "test-worker";
  params.lease = lease;
  params.now = now();
  return store_->claim_jobs(params);
}

Job StoreTest::claim_one() {
  auto jobs = claim(1);
  EXPECT_EQ(jobs.size(), 1u);
  if (jobs.empty()) throw std::runtime_error("nothing to claim");
  return jobs.front();
}

FinishStatus StoreTest::finish(const Job& job, FinishOutcome outcome, std::string error, std::optional<Time> run_at,
                               Json result) {
  JobFinish item;
  item.id = job.id;
  item.attempt = job.attempt;
  item.outcome = outcome;
  item.error = std::move(error);
  item.run_at = run_at.value_or(now());
  item.result = std::move(result);
  auto statuses = store_->finish_jobs({item}, now());
  EXPECT_EQ(statuses.size(), 1u);
  return statuses.at(0);
}

Job StoreTest::get(JobId id) {
  auto job = store_->get_job(id);
  if (!job) throw std::runtime_error("job " + std::to_string(id) + " not found");
  return *job;
}

std::vector<Job> StoreTest::all_jobs() {
  std::vector<Job> jobs;
  JobFilter filter;
  filter.limit = 500;
  while (true) {
    auto page = store_->list_jobs(filter);
    if (page.empty()) break;
    filter.after_id = page.back().id;
    jobs.insert(jobs.end(), page.begin(), page.end());
  }
  return jobs;
}

std::vector<std::pair<std::optional<JobState>, JobState>> StoreTest::transitions(JobId id) {
  std::vector<std::pair<std::optional<JobState>, JobState>> out;
  for (const auto& e : store_->job_history(id)) out.emplace_back(e.from, e.to);
  return out;
}

void StoreTest::expect_counts_match_jobs() {
  std::map<std::pair<std::string, JobState>, int64_t> counted;
  for (const auto& job : all_jobs()) ++counted[{job.queue, job.state}];
  std::map<std::pair<std::string, JobState>, int64_t> kept;
  for (const auto& q : store_->stats().queues) {
    for (JobState s : kAllStates) {
      if (const int64_t n = q.by_state[static_cast<size_t>(s)]; n != 0) kept[{q.queue, s}] = n;
    }
  }
  EXPECT_EQ(kept, counted);
}

}  // namespace quern::testing
