#include "exec/shell_handler.h"

#include <string>
#include <variant>

#include <fmt/format.h>

#include "exec/child_process.h"
#include "exec/log_batcher.h"
#include "exec/orphaned_runs.h"
#include "exec/shell_payload.h"
#include "exec/shell_protocol.h"
#include "quern/error.h"

namespace quern {

namespace {

// The exit statuses of the contract (sysexits.h names them EX_TEMPFAIL, EX_DATAERR).
constexpr int kExitSnooze = 75;
constexpr int kExitPermanentFailure = 65;
constexpr Duration kDefaultSnooze = std::chrono::seconds(1);

constexpr size_t kLogBatchBytes = 64 * 1024;
// A ::checkpoint or ::result as large as a payload may be still fits on one line;
// longer lines are logged in pieces of this size.
constexpr size_t kMaxLineBytes = kDefaultMaxPayloadBytes;

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

std::string_view stop_reason_text(StopReason reason) {
  switch (reason) {
    case StopReason::kShutdown: return "shutdown";
    case StopReason::kCanceled: return "canceled";
    case StopReason::kTimeout: return "timeout";
    case StopReason::kLeaseLost: return "lease lost";
    case StopReason::kNone: break;
  }
  return "stop requested";
}

// Turns the command's output into calls on its JobContext: `::` lines on stdout into
// progress, stage, checkpoint, result and snooze; everything else into batched log text.
class ShellJobObserver final : public ChildObserver {
 public:
  ShellJobObserver(JobContext& ctx, Duration log_flush_interval)
      : ctx_(ctx), log_([&ctx](const std::string& text) { ctx.log(text); }, kLogBatchBytes, log_flush_interval) {}

  void on_output(OutputStream stream, const LinePiece& piece) override {
    if (stream == OutputStream::kStdout) {
      if (piece.whole_line()) return on_stdout_line(piece.text);
      // A `::` command too long to act on is dropped with a warning, not logged as
      // text: a megabyte of ::result would push the rest of the log out.
      if (const std::string_view command = shell_command_of(piece.text); piece.starts_line && !command.empty()) {
        log_.add_line(fmt::format("quern: ignored a {} line longer than {} bytes", command, kMaxLineBytes));
        dropping_long_directive_ = true;
      }
      if (dropping_long_directive_) {
        if (piece.ends_line) dropping_long_directive_ = false;
        return;
      }
    }
    log_.add_line(piece.text);
  }

  void on_note(std::string_view note) override { log_.add_line(note); }
  std::optional<SteadyTime> timer_deadline() const override { return log_.deadline(); }
  void on_timer(SteadyTime now) override { log_.flush_if_due(now); }

  void note(std::string_view text) { log_.add_line(text); }
  void flush_log() { log_.flush(); }
  const Json& result() const { return result_; }
  Duration snooze() const { return snooze_.value_or(kDefaultSnooze); }

 private:
  void on_stdout_line(std::string_view line) {
    ShellLine parsed = parse_shell_line(line);
    std::visit(Overloaded{
                   [&](const shell_line::Log& log) { log_.add_line(log.text); },
                   [&](const shell_line::Progress& progress) { ctx_.progress(progress.fraction); },
                   [&](const shell_line::Stage& stage) { ctx_.stage(stage.name); },
                   [&](const shell_line::Checkpoint& checkpoint) { ctx_.save_checkpoint(checkpoint.value); },
                   [&](shell_line::Result& result) { result_ = std::move(result.value); },
                   [&](const shell_line::Snooze& snooze) { snooze_ = snooze.duration; },
                   [&](const shell_line::Malformed& malformed) { log_.add_line(malformed.warning); },
               },
               parsed);
  }

  JobContext& ctx_;
  LogBatcher log_;
  Json result_;  // the last ::result, null if none
  std::optional<Duration> snooze_;  // the last ::snooze
  bool dropping_long_directive_ = false;  // inside an overlong `::` line on stdout
};

std::map<std::string, std::string> job_environment(JobContext& ctx, const ShellCommand& command) {
  std::map<std::string, std::string> env = command.env;
  const Json& checkpoint = ctx.checkpoint();
  env["QUERN_JOB_ID"] = std::to_string(ctx.job().id);
  env["QUERN_ATTEMPT"] = std::to_string(ctx.attempt());
  env["QUERN_CHECKPOINT"] =
      checkpoint.is_null() ? std::string() : checkpoint.dump(-1, ' ', false, Json::error_handler_t::replace);
  env["QUERN_TMPDIR"] = ctx.temp_dir().string();
  return env;
}

Outcome outcome_of_exit(const ExitStatus& status, const ShellJobObserver& observer) {
  if (status.signal != 0 || status.code < 0) return Outcome::retry(status.describe());
  switch (status.code) {
    case 0: return Outcome::completed(observer.result());
    case kExitSnooze: return Outcome::snooze(observer.snooze());
    case kExitPermanentFailure: return Outcome::fail(status.describe());
    default: return Outcome::retry(status.describe());
  }
}

Outcome run_shell_job(JobContext& ctx, const ShellHandlerOptions& options) {
  ShellCommand command;
  try {
    command = parse_shell_payload(ctx.payload());
  } catch (const Error& e) {
    // Running it again cannot help.
    ctx.log(fmt::format("quern: {}\n", e.what()));
    return Outcome::fail(e.what());
  }

  ChildSpec spec{command.argv, command.cwd, environment_with(job_environment(ctx, command))};
  std::unique_ptr<ChildProcess> child;
  try {
    child = ChildProcess::spawn(spec);
  } catch (const SpawnError& e) {
    // Like a shell's exit 127: a failed attempt, since a missing program or directory
    // may yet appear.
    ctx.log(fmt::format("quern: {}\n", e.what()));
    return Outcome::retry(e.what());
  }

  ShellJobObserver observer(ctx, options.log_flush_interval);
  ChildRunResult run;
  try {
    run = run_child(*child, observer, ctx.stop_token(), {options.kill_grace, kMaxLineBytes});
  } catch (...) {
    child.reset();  // kills the group before the job's end is recorded
    try {
      observer.flush_log();
    } catch (...) {
      // The first error is the one to report.
    }
    throw;
  }
  child.reset();

  if (run.stopped) {
    // A process that left the group (setsid) still carries the run's QUERN_TMPDIR: a
    // stopped job stops whole, as a rescued one does.
    if (const int escaped = kill_processes_of_run(ctx.temp_dir()); escaped > 0) {
      observer.note(fmt::format("quern: killed {} process(es) of the job outside its process group", escaped));
    }
    std::string error = fmt::format("stopped: {}", stop_reason_text(ctx.stop_reason()));
    observer.note(fmt::format("quern: {} ({})", error, run.status.describe()));
    observer.flush_log();
    return Outcome::retry(error);
  }
  observer.flush_log();
  return outcome_of_exit(run.status, observer);
}

}  // namespace

Handler make_shell_handler(ShellHandlerOptions options) {
  return [options](JobContext& ctx) { return run_shell_job(ctx, options); };
}

}  // namespace quern
