// CronSchedule::parse on any bytes: returns a schedule whose normalised text parses back
// to the same schedule, or throws kInvalidArgument. For a time derived from the bytes
// (years 1970 to 2200), next_after is a later whole minute, and every time from there up
// to just before it leads to that same minute.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/cron_schedule.h"
#include "fuzz_check.h"

namespace {

using namespace std::chrono;

constexpr quern::Time kFirst = sys_days{year{1970} / January / 1};
constexpr quern::Time kEnd = sys_days{year{2200} / January / 1};
// Past any gap between two matches (parse rejects schedules that never fire).
constexpr quern::Duration kLongestGap = days(401 * 366);

// FNV-1a: spreads the bytes over the years 1970 to 2200 (to the microsecond).
quern::Time time_from(const uint8_t* data, size_t size) {
  uint64_t hash = 14'695'981'039'346'656'037u;
  for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1'099'511'628'211u;
  const auto span = static_cast<uint64_t>((kEnd - kFirst).count());
  return kFirst + quern::Duration(static_cast<int64_t>(hash % span));
}

void check_next(const quern::CronSchedule& schedule, const quern::CronSchedule& again, quern::Time t) {
  const quern::Time next = schedule.next_after(t);
  FUZZ_CHECK(next > t);
  FUZZ_CHECK(next - t <= kLongestGap);
  FUZZ_CHECK(next == floor<minutes>(next));
  FUZZ_CHECK(again.next_after(t) == next);
  FUZZ_CHECK(schedule.next_after(next - microseconds(1)) == next);
  // Nothing matches in between, as far as next_after itself can tell.
  FUZZ_CHECK(schedule.next_after(t + (next - t) / 2) == next);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Only the parse under test may throw; an exception from a check is a finding.
  std::optional<quern::CronSchedule> schedule;
  try {
    schedule = quern::CronSchedule::parse(text);
  } catch (const quern::Error& e) {
    quern::fuzz::check_error(e, quern::ErrorCode::kInvalidArgument);
  }
  if (!schedule) return 0;

  const std::string& normalised = schedule->text();
  FUZZ_CHECK(!normalised.empty() && normalised.size() <= size);
  FUZZ_CHECK(normalised.front() != ' ' && normalised.back() != ' ');
  FUZZ_CHECK(normalised.find("  ") == std::string::npos);
  FUZZ_CHECK(normalised.find('\t') == std::string::npos);
  const quern::CronSchedule again = quern::CronSchedule::parse(normalised);
  FUZZ_CHECK(again.text() == normalised);

  // A derived time, then the next few matches after it.
  quern::Time t = time_from(data, size);
  for (int i = 0; i < 3 && t < kEnd; ++i) {
    check_next(*schedule, again, t);
    t = schedule->next_after(t);
  }
  return 0;
}
