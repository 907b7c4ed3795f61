// The shell-job handler end to end with real child processes: exit statuses, the `::`
// protocol, the environment, logs, and stopping a whole process group. The handler
// runs against RecordingContext, a JobContext that records what it is told; tests
// wait on what it records (a stage the command prints), never on time passing. The
// last tests run shell jobs the way `quern worker` does: a WorkerPool on a real SQLite
// file, store time on a SimulatedClock.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "exec/proc_file.h"
#include "exec/shell_handler.h"
#include "exec/shell_payload.h"
#include "quern/client.h"
#include "quern/error.h"
#include "quern/worker_pool.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace quern {
namespace {

class RecordingContext final : public JobContext {
 public:
  RecordingContext(Json payload, fs::path temp_dir) : temp_dir_(std::move(temp_dir)) {
    job_.id = 4217;
    job_.type = std::string(kShellType);
    job_.attempt = 3;
    job_.payload = std::move(payload);
  }

  // --- JobContext ---
  const Job& job() const override { return job_; }
  const Json& checkpoint() const override { return checkpoint_; }
  void progress(double fraction) override {
    std::lock_guard lock(mutex_);
    progress_.push_back(fraction);
  }
  void stage(const std::string& name) override {
    std::lock_guard lock(mutex_);
    stages_.push_back(name);
    changed_.notify_all();
  }
  void save_checkpoint(const Json& checkpoint) override {
    std::lock_guard lock(mutex_);
    saved_checkpoints_.push_back(checkpoint);
    checkpoint_ = checkpoint;
  }
  void log(const std::string& text) override {
    std::lock_guard lock(mutex_);
    ++log_calls_;
    log_bytes_ += text.size();
    largest_log_call_ = std::max(largest_log_call_, text.size());
    if (keep_log_) log_ += text;
    tail_ += text;
    if (tail_.size() > 64) tail_.erase(0, tail_.size() - 64);
  }
  const fs::path& temp_dir() override { return temp_dir_; }
  std::stop_token stop_token() const override { return stop_.get_token(); }
  StopReason stop_reason() const override { return stop_reason_.load(); }
  Client& client() override { throw Error::internal("the shell handler has no use for the client"); }

  // --- test controls ---
  void set_checkpoint(Json checkpoint) { checkpoint_ = std::move(checkpoint); }
  void keep_log(bool keep) { keep_log_ = keep; }
  void request_stop(StopReason reason) {
    stop_reason_ = reason;
    stop_.request_stop();
  }
  // Waits until the command reports a stage (bounded, so a broken test fails instead of hanging).
  std::string wait_for_stage() {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(changed_.wait_for(lock, 10s, [&] { return !stages_.empty(); })) << "no stage reported";
    return stages_.empty() ? std::string() : stages_.front();
  }

  // --- what was recorded ---
  std::string log_text() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  std::vector<double> progress_reports() const {
    std::lock_guard lock(mutex_);
    return progress_;
  }
  std::vector<std::string> stages() const {
    std::lock_guard lock(mutex_);
    return stages_;
  }
  std::vector<Json> saved_checkpoints() const {
    std::lock_guard lock(mutex_);
    return saved_checkpoints_;
  }
  int log_calls() const { return log_calls_; }
  size_t log_bytes() const { return log_bytes_; }
  size_t largest_log_call() const { return largest_log_call_; }
  std::string log_tail() const { return tail_; }

 private:
  Job job_;
  Json checkpoint_;
  fs::path temp_dir_;
  std::stop_source stop_;
  std::atomic<StopReason> stop_reason_{StopReason::kNone};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<double> progress_;
  std::vector<std::string> stages_;
  std::vector<Json> saved_checkpoints_;
  bool keep_log_ = true;
  std::string log_;
  std::string tail_;
  int log_calls_ = 0;
  size_t log_bytes_ = 0;
  size_t largest_log_call_ = 0;
};

// Gone, or a zombie: killed, but left unreaped by an init that does not reap.
bool process_gone(pid_t pid) {
  const std::string text = read_proc_file("/proc/" + std::to_string(pid) + "/stat").value_or("");
  if (text.empty()) return true;
  size_t after_comm = text.rfind(')');
  return after_comm != std::string::npos && text.size() > after_comm + 2 && text[after_comm + 2] == 'Z';
}

size_t open_descriptor_count() {
  return static_cast<size_t>(std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

class ShellJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quern-shell-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tmp");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<RecordingContext> context(std::vector<std::string> argv) {
    return context_with_payload(make_shell_payload({std::move(argv), std::nullopt, {}}));
  }
  std::unique_ptr<RecordingContext> context_with_payload(Json payload) {
    return std::make_unique<RecordingContext>(std::move(payload), dir_ / "tmp");
  }
  static std::vector<std::string> sh(std::string script) { return {"sh", "-c", std::move(script)}; }

  Outcome run(RecordingContext& ctx, ShellHandlerOptions options = {}) { return make_shell_handler(options)(ctx); }

  fs::path dir_;
};

// --- exit statuses ---

TEST_F(ShellJobTest, ExitZeroCompletesWithTheLastResult) {
  auto ctx = context(sh(R"(echo '::result {"frames": 1}'; echo '::result {"frames": 1200}'; exit 0)"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(outcome.result, Json({{"frames", 1200}}));
}

TEST_F(ShellJobTest, ExitZeroWithoutResultCompletesWithNull) {
  auto ctx = context({"true"});
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  EXPECT_TRUE(outcome.result.is_null());
}

TEST_F(ShellJobTest, AResultLineWithoutANewlineStillCounts) {
  auto ctx = context({"printf", "::result 5"});
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(outcome.result, Json(5));
}

TEST_F(ShellJobTest, Exit75SnoozesForThePrintedDuration) {
  auto ctx = context(sh("echo '::snooze 2m'; echo '::snooze 5m'; exit 75"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kSnooze);
  EXPECT_EQ(outcome.snooze_for, Duration(5min));
}

TEST_F(ShellJobTest, Exit75WithoutSnoozeLineSnoozesOneSecond) {
  auto ctx = context(sh("exit 75"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kSnooze);
  EXPECT_EQ(outcome.snooze_for, Duration(1s));
}

TEST_F(ShellJobTest, SnoozeLineMeansNothingWithAnotherExitStatus) {
  auto ctx = context(sh("echo '::snooze 5m'; exit 1"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "exit status 1");
}

TEST_F(ShellJobTest, Exit65FailsWithoutRetry) {
  auto ctx = context(sh("exit 65"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kFail);
  EXPECT_EQ(outcome.error, "exit status 65");
}

TEST_F(ShellJobTest, OtherExitStatusIsAFailedAttempt) {
  auto ctx = context(sh("echo '::result 1'; exit 3"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "exit status 3");
  EXPECT_TRUE(outcome.result.is_null());
}

TEST_F(ShellJobTest, DeathBySignalIsAFailedAttempt) {
  auto ctx = context(sh("kill -KILL $$"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "killed by signal 9 (SIGKILL)");
}

// --- the :: protocol ---

TEST_F(ShellJobTest, ProgressAndStageReachTheContext) {
  auto ctx = context(sh("echo '::stage download'; echo '::progress 0.25'; echo '::stage transcode'; "
                        "echo '::progress 75%'"));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->stages(), (std::vector<std::string>{"download", "transcode"}));
  EXPECT_EQ(ctx->progress_reports(), (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(ctx->log_text(), "") << "protocol lines are not log text";
}

TEST_F(ShellJobTest, CheckpointIsSavedThroughTheContext) {
  auto ctx = context(sh(R"(echo '::checkpoint {"offset": 3}'; echo '::checkpoint {"offset": 9}')"));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->saved_checkpoints(), (std::vector<Json>{{{"offset", 3}}, {{"offset", 9}}}));
}

TEST_F(ShellJobTest, MalformedCommandIsLoggedAndIgnored) {
  auto ctx = context(sh("echo '::progress lots'; echo '::checkpoint {oops'; echo '::1 localhost'"));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_TRUE(ctx->progress_reports().empty());
  EXPECT_TRUE(ctx->saved_checkpoints().empty());
  std::string log = ctx->log_text();
  EXPECT_NE(log.find("quern: ignored malformed ::progress line \"::progress lots\""), std::string::npos) << log;
  EXPECT_NE(log.find("quern: ignored malformed ::checkpoint line \"::checkpoint {oops\""), std::string::npos) << log;
  EXPECT_NE(log.find("::1 localhost\n"), std::string::npos) << log;
}

// --- environment, cwd, log ---

TEST_F(ShellJobTest, EnvironmentNamesTheJob) {
  auto ctx = context(sh(R"(echo "id=$QUERN_JOB_ID attempt=$QUERN_ATTEMPT tmp=$QUERN_TMPDIR cp=[$QUERN_CHECKPOINT]")"));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->log_text(), "id=4217 attempt=3 tmp=" + (dir_ / "tmp").string() + " cp=[]\n");
}

TEST_F(ShellJobTest, EnvironmentCarriesTheSavedCheckpoint) {
  auto ctx = context(sh(R"(echo "$QUERN_CHECKPOINT"; echo "${QUERN_CHECKPOINT+set}")"));
  ctx->set_checkpoint({{"operation", "op-7"}, {"polls", 2}});
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->log_text(), "{\"operation\":\"op-7\",\"polls\":2}\nset\n");
}

TEST_F(ShellJobTest, EnvironmentInheritsTheWorkersAndAddsThePayloads) {
  ASSERT_EQ(::setenv("QUERN_SHELL_TEST_INHERITED", "from-worker", 1), 0);
  ASSERT_EQ(::setenv("QUERN_SHELL_TEST_OVERRIDDEN", "from-worker", 1), 0);
  auto ctx = context_with_payload(make_shell_payload(
      {sh(R"(echo "$QUERN_SHELL_TEST_INHERITED $QUERN_SHELL_TEST_OVERRIDDEN $GREETING")"),
       std::nullopt,
       {{"QUERN_SHELL_TEST_OVERRIDDEN", "from-payload"}, {"GREETING", "hello world"}}}));
  Outcome outcome = run(*ctx);
  ::unsetenv("QUERN_SHELL_TEST_INHERITED");
  ::unsetenv("QUERN_SHELL_TEST_OVERRIDDEN");
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->log_text(), "from-worker from-payload hello world\n");
}

TEST_F(ShellJobTest, RunsInTheGivenDirectory) {
  fs::create_directories(dir_ / "work dir");
  auto ctx = context_with_payload(make_shell_payload({{"pwd"}, (dir_ / "work dir").string(), {}}));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->log_text(), (dir_ / "work dir").string() + "\n");
}

TEST_F(ShellJobTest, StderrGoesToTheLogAndIsNotParsed) {
  auto ctx = context(sh("echo out; echo err >&2; echo '::progress 0.5' >&2"));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  std::string log = ctx->log_text();
  EXPECT_NE(log.find("out\n"), std::string::npos) << log;
  EXPECT_NE(log.find("err\n"), std::string::npos) << log;
  EXPECT_NE(log.find("::progress 0.5\n"), std::string::npos) << log;
  EXPECT_TRUE(ctx->progress_reports().empty());
}

TEST_F(ShellJobTest, StdinIsEmpty) {
  auto ctx = context(sh("wc -c"));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->log_text(), "0\n");
}

TEST_F(ShellJobTest, ArgumentsAreNotInterpretedByAShell) {
  auto ctx = context({"echo", "$HOME", "a;b", "*"});
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->log_text(), "$HOME a;b *\n");
}

TEST_F(ShellJobTest, TheWorkersSignalMaskAndIgnoredSignalsAreNotInherited) {
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  auto ctx = context(sh("grep -E '^(SigBlk|SigIgn):' /proc/self/status"));
  Outcome outcome = run(*ctx);
  ::signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  std::istringstream lines(ctx->log_text());
  std::string line;
  int seen = 0;
  while (std::getline(lines, line)) {
    uint64_t mask = std::stoull(line.substr(line.find(':') + 1), nullptr, 16);
    if (line.starts_with("SigBlk:")) {
      EXPECT_EQ(mask, 0u) << line;
    }
    if (line.starts_with("SigIgn:")) {
      EXPECT_EQ(mask & (1ull << (SIGPIPE - 1)), 0u) << line;
      EXPECT_EQ(mask & (1ull << (SIGTERM - 1)), 0u) << line;
    }
    ++seen;
  }
  EXPECT_EQ(seen, 2) << ctx->log_text();
}

TEST_F(ShellJobTest, OnlyTheStandardDescriptorsAreInherited) {
  int leaky = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as careless code might
  ASSERT_GE(leaky, 0);
  auto ctx = context(sh("ls /proc/$$/fd"));
  Outcome outcome = run(*ctx);
  ::close(leaky);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(ctx->log_text(), "0\n1\n2\n");
}

TEST_F(ShellJobTest, NoDescriptorIsLeftOpenAfterAJob) {
  size_t before = open_descriptor_count();
  for (auto argv : {sh("echo hi; echo err >&2"), std::vector<std::string>{"quern-no-such-program"}}) {
    auto ctx = context(argv);
    run(*ctx);
  }
  auto ctx = context({"sleep", "100"});
  ctx->request_stop(StopReason::kCanceled);
  run(*ctx);
  EXPECT_EQ(open_descriptor_count(), before);
}

// --- commands that cannot run ---

TEST_F(ShellJobTest, CommandNotFoundIsAFailedAttempt) {
  auto ctx = context({"quern-no-such-program", "arg"});
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "command not found: quern-no-such-program");
  EXPECT_EQ(ctx->log_text(), "quern: command not found: quern-no-such-program\n");
}

TEST_F(ShellJobTest, CommandNotExecutableIsAFailedAttempt) {
  fs::path script = dir_ / "script.sh";
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_write);
  auto ctx = context({script.string()});
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "command not executable: " + script.string() + " (Permission denied)");
  EXPECT_NE(ctx->log_text().find("command not executable"), std::string::npos);
}

// exec's ENOENT for a script whose interpreter is missing is not "command not found".
TEST_F(ShellJobTest, ScriptWhoseInterpreterIsMissingSaysSo) {
  fs::path script = dir_ / "script.sh";
  std::ofstream(script) << "#!/quern/no/such/interpreter\necho hi\n";
  fs::permissions(script, fs::perms::owner_all);
  auto ctx = context({script.string()});
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "cannot run " + script.string() +
                               ": the interpreter its #! line names (or a library it needs) was not found");
  // Relative to the job's directory, too.
  auto relative = context_with_payload(make_shell_payload({{"./script.sh"}, dir_.string(), {}}));
  EXPECT_NE(run(*relative).error.find("the interpreter its #! line names"), std::string::npos);
}

TEST_F(ShellJobTest, MissingDirectoryIsAFailedAttempt) {
  auto ctx = context_with_payload(make_shell_payload({{"true"}, (dir_ / "nowhere").string(), {}}));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "cannot change to directory " + (dir_ / "nowhere").string() + ": No such file or directory");
}

TEST_F(ShellJobTest, InvalidPayloadFailsForGood) {
  auto ctx = context_with_payload(Json({{"command", "echo hi"}}));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kFail);
  EXPECT_NE(outcome.error.find("\"command\" must be a non-empty array of strings"), std::string::npos) << outcome.error;
}

// --- stopping ---

TEST_F(ShellJobTest, StopKillsTheWholeProcessGroup) {
  auto ctx = context(sh(R"(sleep 100 & echo "::stage $$ $!"; sleep 100)"));
  ShellHandlerOptions options;
  options.kill_grace = 30s;  // SIGTERM alone must do it
  auto started = std::chrono::steady_clock::now();
  auto outcome = std::async(std::launch::async, [&] { return run(*ctx, options); });

  std::istringstream pids(ctx->wait_for_stage());
  pid_t shell = 0, grandchild = 0;
  pids >> shell >> grandchild;
  ASSERT_GT(shell, 0);
  ASSERT_GT(grandchild, 0);
  EXPECT_FALSE(process_gone(grandchild));
  ctx->request_stop(StopReason::kCanceled);

  Outcome result = outcome.get();
  EXPECT_EQ(result.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(result.error, "stopped: canceled");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
  EXPECT_TRUE(process_gone(shell));
  EXPECT_TRUE(process_gone(grandchild));
  std::string log = ctx->log_text();
  EXPECT_NE(log.find("quern: stop requested; sent SIGTERM to its process group"), std::string::npos) << log;
  EXPECT_NE(log.find("quern: stopped: canceled (killed by signal 15 (SIGTERM))"), std::string::npos) << log;
  EXPECT_EQ(log.find("SIGKILL"), std::string::npos) << log;
}

// A process that left the job's group (setsid) is found by the run's QUERN_TMPDIR and
// stopped with it, as a rescue after kill -9 would.
TEST_F(ShellJobTest, StopKillsProcessesThatLeftTheGroupToo) {
  auto ctx = context(sh(R"(setsid sh -c 'echo "::stage $$"; exec sleep 100' & sleep 100)"));
  ShellHandlerOptions options;
  options.kill_grace = 30s;
  auto outcome = std::async(std::launch::async, [&] { return run(*ctx, options); });
  const pid_t escaped = std::stoi(ctx->wait_for_stage());
  EXPECT_FALSE(process_gone(escaped));
  ctx->request_stop(StopReason::kShutdown);
  EXPECT_EQ(outcome.get().error, "stopped: shutdown");
  for (int i = 0; i < 500 && !process_gone(escaped); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(process_gone(escaped));
  EXPECT_NE(ctx->log_text().find("quern: killed 1 process(es) of the job outside its process group"), std::string::npos)
      << ctx->log_text();
}

TEST_F(ShellJobTest, ACommandIgnoringSigtermIsKilledAfterTheGrace) {
  auto ctx = context(sh(R"(trap "" TERM; sleep 100 & echo "::stage $!"; wait)"));
  ASSERT_EQ(ShellHandlerOptions{}.kill_grace, Duration(2s));
  auto outcome = std::async(std::launch::async, [&] { return run(*ctx); });

  pid_t grandchild = std::stoi(ctx->wait_for_stage());
  auto stop_at = std::chrono::steady_clock::now();
  ctx->request_stop(StopReason::kTimeout);
  Outcome result = outcome.get();
  auto took = std::chrono::steady_clock::now() - stop_at;

  EXPECT_EQ(result.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(result.error, "stopped: timeout");
  EXPECT_GE(took, 2s);
  EXPECT_LT(took, 10s);
  EXPECT_TRUE(process_gone(grandchild));
  std::string log = ctx->log_text();
  EXPECT_NE(log.find("quern: still running 2s after SIGTERM; sent SIGKILL to its process group"), std::string::npos)
      << log;
  EXPECT_NE(log.find("(killed by signal 9 (SIGKILL))"), std::string::npos) << log;
}

TEST_F(ShellJobTest, AStopRequestedBeforeTheStartStopsAtOnce) {
  auto ctx = context({"sleep", "100"});
  ctx->request_stop(StopReason::kShutdown);
  ShellHandlerOptions options;
  options.kill_grace = 30s;
  Outcome outcome = run(*ctx, options);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(outcome.error, "stopped: shutdown");
}

TEST_F(ShellJobTest, ProcessesLeftRunningWhenTheCommandExitsAreStopped) {
  // The background sleep keeps stdout open too: the handler must not wait for EOF.
  auto ctx = context(sh(R"(sleep 100 & echo "::stage $!"; echo '::result "done"'; exit 0)"));
  ShellHandlerOptions options;
  options.kill_grace = 30s;
  auto started = std::chrono::steady_clock::now();
  Outcome outcome = run(*ctx, options);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);

  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  EXPECT_EQ(outcome.result, Json("done"));
  ASSERT_EQ(ctx->stages().size(), 1u);
  EXPECT_TRUE(process_gone(std::stoi(ctx->stages()[0])));
  EXPECT_NE(ctx->log_text().find("quern: the command exited but left processes running; sent SIGTERM"),
            std::string::npos)
      << ctx->log_text();
}

// --- output volume ---

TEST_F(ShellJobTest, ALongLineIsLoggedInBoundedPieces) {
  constexpr size_t kLineBytes = 3 * 1024 * 1024 + 5;
  auto ctx = context(sh("head -c " + std::to_string(kLineBytes) + " /dev/zero | tr '\\0' x; echo; echo after"));
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  std::string log = ctx->log_text();
  EXPECT_EQ(static_cast<size_t>(std::count(log.begin(), log.end(), 'x')), kLineBytes);
  EXPECT_TRUE(log.ends_with("\nafter\n"));
  EXPECT_LE(ctx->largest_log_call(), (1u << 20) + 64 * 1024 + 1);
}

// Neither acted on nor logged as text: a megabyte of ::result would push the rest of
// the log out. The warning stays, and the lines around it.
TEST_F(ShellJobTest, ALongProtocolLineIsDroppedWithAWarning) {
  auto ctx = context(sh("echo before; printf '::result \"'; head -c 1100000 /dev/zero | tr '\\0' x; echo '\"'; echo after"));
  Outcome outcome = run(*ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCompleted);
  EXPECT_TRUE(outcome.result.is_null());
  EXPECT_EQ(ctx->log_text(), "before\nquern: ignored a ::result line longer than 1048576 bytes\nafter\n");
}

TEST_F(ShellJobTest, LogTextIsBatchedNotWrittenPerLine) {
  auto ctx = context({"seq", "1", "20000"});
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  std::string log = ctx->log_text();
  EXPECT_TRUE(log.starts_with("1\n2\n3\n"));
  EXPECT_TRUE(log.ends_with("\n19999\n20000\n"));
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 20000);
  EXPECT_LE(ctx->log_calls(), 10) << "20000 lines, ~110 KB: a couple of 64 KiB batches";
}

TEST_F(ShellJobTest, LargeOutputVolumeStaysInBoundedMemory) {
  constexpr size_t kLines = 2'000'000;  // 64 MB
  auto ctx = context(sh("yes 0123456789012345678901234567890 | head -n " + std::to_string(kLines) + "; echo last"));
  ctx->keep_log(false);
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  EXPECT_EQ(run(*ctx).kind, Outcome::Kind::kCompleted);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);

  EXPECT_EQ(ctx->log_bytes(), kLines * 32 + 5);
  EXPECT_TRUE(ctx->log_tail().ends_with("0123456789012345678901234567890\nlast\n"));
  EXPECT_LE(ctx->largest_log_call(), 64u * 1024 + 32);
  EXPECT_GE(ctx->log_calls(), static_cast<int>(kLines * 32 / (64 * 1024 + 32)));
#if !defined(__SANITIZE_ADDRESS__)  // ASan holds freed memory in quarantine, so RSS says nothing there
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 32 * 1024) << "peak RSS grew by over 32 MiB (ru_maxrss is in KiB)";
#endif
}

// --- in a WorkerPool ---

class ShellJobInPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quern-shell-pool-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    clock_ = std::make_shared<SimulatedClock>();
    client_ = std::make_shared<Client>(open_store((dir_ / "q.db").string()), clock_);
  }
  void TearDown() override {
    pool_.reset();
    fs::remove_all(dir_);
  }

  WorkerPool& start_pool(Duration grace = 100ms) {
    WorkerPoolOptions options;
    options.concurrency = 1;
    options.lease = 5s;
    options.grace = grace;
    options.temp_root = dir_ / "tmp";
    pool_ = std::make_unique<WorkerPool>(client_, options);
    pool_->handle(std::string(kShellType), make_shell_handler());
    pool_->start();
    return *pool_;
  }

  JobId add(std::string script) {
    NewJob job;
    job.type = std::string(kShellType);
    job.payload = make_shell_payload({{"sh", "-c", std::move(script)}, std::nullopt, {}});
    return client_->enqueue(job).job.id;
  }

  // Polls (real time) until the job is in `state` or 10 s pass.
  Job wait_for_state(JobId id, JobState state) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    Job job = client_->get(id);
    while (job.state != state && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
      job = client_->get(id);
    }
    EXPECT_EQ(job.state, state) << "job " << id << " error: " << job.error;
    return job;
  }

  std::string log_of(JobId id) {
    std::string log;
    for (const auto& chunk : client_->store()->read_log(id, 0)) log += chunk.text;
    return log;
  }

  // Polls (real time) until the job's log holds `text` or 10 s pass.
  std::string wait_for_log(JobId id, std::string_view text) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string log = log_of(id);
    while (log.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
      log = log_of(id);
    }
    EXPECT_NE(log.find(text), std::string::npos) << log;
    return log;
  }

  fs::path dir_;
  std::shared_ptr<SimulatedClock> clock_;
  std::shared_ptr<Client> client_;
  std::unique_ptr<WorkerPool> pool_;
};

TEST_F(ShellJobInPoolTest, CompletesWithItsResultAndKeepsItsLog) {
  JobId id = add(R"(echo '::stage work'; echo hello; echo oops >&2; echo '::result {"ok": true}')");
  start_pool();
  Job job = wait_for_state(id, JobState::kCompleted);
  pool_->stop();
  EXPECT_EQ(job.result, Json({{"ok", true}}));
  EXPECT_EQ(job.attempt, 1);
  std::string log = log_of(id);
  EXPECT_NE(log.find("hello\n"), std::string::npos) << log;
  EXPECT_NE(log.find("oops\n"), std::string::npos) << log;
}

TEST_F(ShellJobInPoolTest, Exit65FailsAtOnce) {
  JobId id = add("exit 65");
  start_pool();
  Job job = wait_for_state(id, JobState::kFailed);
  pool_->stop();
  EXPECT_EQ(job.error, "exit status 65");
  EXPECT_EQ(job.attempt, 1);
}

TEST_F(ShellJobInPoolTest, SnoozedJobResumesFromItsCheckpointWithAFreshTempDir) {
  JobId id = add(R"(touch "$QUERN_TMPDIR/scratch" && echo "tmp=$QUERN_TMPDIR"
if [ -z "$QUERN_CHECKPOINT" ]; then
  echo '::checkpoint {"operation": "op-7"}'; echo '::snooze 30s'; exit 75
fi
echo "::result $QUERN_CHECKPOINT")");
  start_pool();
  Job job = wait_for_state(id, JobState::kScheduled);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.run_at, clock_->now() + 30s);
  EXPECT_EQ(job.checkpoint, Json({{"operation", "op-7"}}));

  clock_->advance(31s);
  pool_->notify();
  job = wait_for_state(id, JobState::kCompleted);
  pool_->stop();
  EXPECT_EQ(job.result, Json({{"operation", "op-7"}}));
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(job.failures, 0);
  std::string log = log_of(id);
  size_t at = 0;
  int temp_dirs = 0;
  while ((at = log.find("tmp=", at)) != std::string::npos) {
    size_t end = log.find('\n', at);
    fs::path temp_dir = log.substr(at + 4, end - at - 4);
    EXPECT_FALSE(fs::exists(temp_dir)) << temp_dir << " outlived its job";
    ++temp_dirs;
    at = end;
  }
  EXPECT_EQ(temp_dirs, 2) << log;
}

TEST_F(ShellJobInPoolTest, CancelKillsTheWholeProcessGroup) {
  JobId id = add(R"(sleep 100 & echo "pids $$ $!"; sleep 100)");
  WorkerPool& pool = start_pool(/*grace=*/30s);  // so that only the cancel can stop it in time
  std::string log = wait_for_log(id, "pids ");
  std::istringstream pids(log.substr(log.find("pids ") + 5));
  pid_t shell = 0, grandchild = 0;
  pids >> shell >> grandchild;
  ASSERT_GT(grandchild, 0);

  client_->cancel(id);
  // Polls (real time) until both are gone, or 10 s pass; the pool's 30 s grace has not.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(process_gone(shell) && process_gone(grandchild)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_TRUE(process_gone(shell));
  EXPECT_TRUE(process_gone(grandchild));
  pool.stop();
  EXPECT_EQ(client_->get(id).state, JobState::kCanceled);
}

}  // namespace
}  // namespace quern
