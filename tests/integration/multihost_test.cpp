// Several hosts on one PostgreSQL server. Under scripts/test-hosts.sh each `quern
// worker` runs in a Linux network namespace of its own and reaches the server only over
// its veth link; a host is cut off by taking its link down, as a pulled cable would,
// while its worker and its jobs' processes run on. Where namespaces cannot be made, the
// script says why and the same scenario runs with plain processes, a host "cut off" by
// freezing its worker (SIGSTOP).
//
// The scenario: three hosts share the work; the maintenance leader is killed -9 and
// another host takes leadership over; then a host that holds jobs is cut off. Its jobs
// are rescued once their leases expire (by the new leader: maintenance went on) and
// finished by the others; when the link comes back, the cut-off worker's late reports
// are refused (fencing), and it says so. Every job ends completed exactly once.
#include "crash_fixture.h"

namespace quern::crash_test {
namespace {

std::vector<std::string> words_of(const char* text) {
  std::vector<std::string> words;
  std::istringstream in(text == nullptr ? "" : text);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The "claimed by <owner>" of each claim in a job's history, by attempt.
std::map<int, std::string> claim_owners(const std::vector<HistoryEntry>& history) {
  std::map<int, std::string> owners;
  for (const auto& e : history) {
    if (e.to == JobState::kRunning && e.detail.rfind("claimed by ", 0) == 0) {
      owners[e.attempt] = e.detail.substr(std::strlen("claimed by "));
    }
  }
  return owners;
}

class MultiHost : public CrashFixture {
 protected:
  void SetUp() override {
    if (!postgres_test::postgres_test_url()) GTEST_SKIP() << "QUERN_TEST_POSTGRES_URL is not set";
    hosts_ = words_of(std::getenv("QUERN_TEST_HOSTS"));
    links_ = words_of(std::getenv("QUERN_TEST_HOST_LINKS"));
    if (const char* address = std::getenv("QUERN_TEST_BRIDGE_ADDRESS")) bridge_address_ = address;
    if (hosts_.empty()) {
      const char* why = std::getenv("QUERN_TEST_HOSTS_UNAVAILABLE");
      std::cout << "[ hosts    ] no network namespaces (" << (why != nullptr ? why : "not run under scripts/test-hosts.sh")
                << "): hosts are plain processes, cut off by SIGSTOP\n";
    } else {
      ASSERT_EQ(hosts_.size(), links_.size());
      ASSERT_FALSE(bridge_address_.empty());
    }
    CrashFixture::SetUp();
  }
  void TearDown() override {
    if (!postgres_test::postgres_test_url()) return;  // skipped: nothing was set up
    for (size_t i = 0; i < links_.size(); ++i) set_link(i, true);
    CrashFixture::TearDown();
  }

  bool on_network() const { return !hosts_.empty(); }
  std::string schema() const { return "multihost_" + std::to_string(getpid()); }
  std::string database_url() const override { return postgres_test::postgres_schema_url(schema()); }
  // A host reaches the server at the bridge address; a connection that gets no answer
  // is given up after 3 s (tcp_user_timeout) rather than Quern's default 30 s.
  std::string worker_database_url(size_t /*index*/) const override {
    std::string url = database_url();
    const std::string loopback = "127.0.0.1";
    if (on_network()) url.replace(url.find(loopback), loopback.size(), bridge_address_);
    return url + "&tcp_user_timeout=3000";
  }
  std::vector<std::string> worker_command_prefix(size_t index) const override {
    if (!on_network()) return {};
    return {"/usr/sbin/ip", "netns", "exec", hosts_.at(index)};
  }
  // Each host has its own temp dirs, as separate machines would.
  fs::path worker_temp_dir(size_t index) const override { return dir_ / ("host-" + std::to_string(index)) / "tmp"; }
  void drop_database() override { postgres_test::drop_postgres_schema(schema()); }

  void set_link(size_t index, bool up) {
    const auto result = cli_test::run_program({"/usr/sbin/ip", "link", "set", links_.at(index), up ? "up" : "down"});
    EXPECT_EQ(result.status, 0) << result.err;
  }
  // Cuts host `index` off the network; without namespaces, freezes its worker.
  void cut_off(size_t index) {
    if (on_network()) {
      set_link(index, false);
    } else {
      workers_.at(index)->signal(SIGSTOP);
      EXPECT_TRUE(workers_.at(index)->wait_until_stopped());
    }
  }
  void reconnect(size_t index) {
    if (on_network()) {
      set_link(index, true);
    } else {
      workers_.at(index)->signal(SIGCONT);
    }
  }

  std::vector<std::string> hosts_;
  std::vector<std::string> links_;
  std::string bridge_address_;
};

TEST_F(MultiHost, CutOffHostLosesItsJobsToTheOthersAndItsLateReportsAreRefused) {
  constexpr int kHosts = 3;
  const int job_count = 60;
  std::vector<NewJob> batch;
  for (int i = 0; i < job_count; ++i) {
    batch.push_back(shell_job("echo \"$QUERN_JOB_ID $QUERN_ATTEMPT\" >> runs.txt; sleep 0.3"));
  }
  std::vector<TestProcess*> workers;
  for (int i = 0; i < kHosts; ++i) workers.push_back(&start_worker({"--concurrency", "2", "--lease", "4s"}));
  ASSERT_TRUE(cli_test::eventually([&] { return leaders_among(workers).size() == 1; })) << "no leader";
  client_->enqueue_many(batch);

  // 1. The leader dies (kill -9, with jobs in hand); another host takes leadership over.
  ASSERT_TRUE(cli_test::eventually([&] { return store_->stats().total(JobState::kCompleted) >= 6; }));
  TestProcess* killed = leaders_among(workers).at(0);
  killed->kill_and_reap();
  std::vector<TestProcess*> survivors;
  for (TestProcess* worker : workers) {
    if (worker != killed) survivors.push_back(worker);
  }
  ASSERT_TRUE(cli_test::eventually([&] { return leaders_among(survivors).size() == 1; }, 20s))
      << "no other host took leadership over";
  TestProcess* leader = leaders_among(survivors).at(0);

  // 2. The other survivor is cut off while it runs jobs; the new leader's rescue of
  //    expired leases returns them, and the leader's host finishes them.
  TestProcess* cut = survivors[0] == leader ? survivors[1] : survivors[0];
  const size_t cut_index = index_of(*cut);
  ASSERT_TRUE(cli_test::eventually([&] {
    JobFilter running;
    running.states = {JobState::kRunning};
    for (const Job& job : store_->list_jobs(running)) {
      if (owned_by(job, cut->pid())) return true;
    }
    return false;
  })) << "the host to cut off never held a job";
  cut_off(cut_index);
  ASSERT_TRUE(cli_test::eventually(
      [&] { return store_->stats().total(JobState::kCompleted) == job_count; }, 120s))
      << "completed " << store_->stats().total(JobState::kCompleted) << " of " << job_count;

  // 3. The link comes back: the cut-off worker reports the runs it finished meanwhile,
  //    and each report is refused (it says so) — the jobs stay completed by the runs
  //    that took over.
  reconnect(cut_index);
  EXPECT_TRUE(cut->wait_for_output_line("quern worker: job ", 60s)) << "no late report\n" << cut->output();
  for (TestProcess* worker : survivors) ASSERT_NO_FATAL_FAILURE(stop_gracefully(*worker));
  std::set<std::pair<JobId, int>> refused;  // (job, attempt) the cut-off host reported too late
  {
    std::istringstream out(cut->output());
    for (std::string line; std::getline(out, line);) {
      JobId id = 0;
      int attempt = 0;
      if (std::sscanf(line.c_str(), "quern worker: job %ld attempt %d ended too late", &id, &attempt) == 2) {
        refused.insert({id, attempt});
      }
    }
  }
  EXPECT_FALSE(refused.empty()) << cut->output();

  // Nothing lost, nothing completed twice; a run was rescued only if it was held by the
  // killed leader or the cut-off host; every run of a job ran once; each refused report
  // was of a run rescued from the cut-off host and completed by a later one.
  JobFilter every;
  every.limit = job_count + 1;
  const std::vector<Job> jobs = store_->list_jobs(every);
  ASSERT_EQ(jobs.size(), static_cast<size_t>(job_count));
  const auto runs = read_runs(dir_ / "runs.txt");
  const std::string killed_pid = std::to_string(killed->pid());
  const std::string cut_pid = std::to_string(cut->pid());
  std::set<std::pair<JobId, int>> rescued_from_cut;
  for (const Job& job : jobs) {
    const auto history = store_->job_history(job.id);
    const HistorySummary summary = check_history(job.id, history);
    EXPECT_EQ(job.state, JobState::kCompleted) << "job " << job.id << describe_history(history);
    EXPECT_EQ(summary.completions, 1) << "job " << job.id << describe_history(history);
    EXPECT_EQ(summary.completed_attempt, job.attempt) << "job " << job.id << describe_history(history);
    EXPECT_TRUE(runs.count({job.id, job.attempt})) << "job " << job.id << " completed without its run";
    const auto owners = claim_owners(history);
    for (int attempt : summary.rescued_attempts) {
      const std::string owner_pid = owner_pid_field(owners.count(attempt) ? owners.at(attempt) : "");
      EXPECT_TRUE(owner_pid == killed_pid || owner_pid == cut_pid)
          << "job " << job.id << " attempt " << attempt << " was rescued from a live, connected host"
          << describe_history(history);
      if (owner_pid == cut_pid) rescued_from_cut.insert({job.id, attempt});
    }
  }
  for (const auto& run : refused) {
    EXPECT_TRUE(rescued_from_cut.count(run)) << "job " << run.first << " attempt " << run.second
                                              << " was refused but not rescued from the cut-off host";
  }
  for (const auto& [run, count] : runs) {
    EXPECT_EQ(count, 1) << "job " << run.first << " attempt " << run.second << " ran " << count << " times";
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    if (workers[i] == killed) continue;  // a killed worker cannot clean up; its host's next worker would
    std::error_code ec;
    const fs::path root = worker_temp_dir(i) / ("quern-" + std::to_string(getuid())) / store_->database_id();
    EXPECT_TRUE(!fs::exists(root, ec) || fs::is_empty(root, ec)) << root;
  }
  std::cout << "[ hosts    ] " << (on_network() ? "network namespaces" : "plain processes") << ": leader "
            << killed->pid() << " killed, " << leader->pid() << " took over; host " << cut->pid() << " cut off: "
            << rescued_from_cut.size() << " runs rescued, " << refused.size() << " late reports refused\n";
}

}  // namespace
}  // namespace quern::crash_test
