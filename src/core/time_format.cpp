#include "core/time_format.h"

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "core/printable_text.h"
#include "quern/error.h"

namespace quern {

namespace {

using std::chrono::days;
using std::chrono::sys_days;

// RFC 3339 years have four digits; a time outside them has no RFC 3339 form.
constexpr Time kMinTime = sys_days(std::chrono::year(0) / 1 / 1);
constexpr Time kMaxTime = sys_days(std::chrono::year(9999) / 12 / 31) + days(1) - Duration(1);

[[noreturn]] void throw_malformed(std::string_view text) {
  throw Error::invalid_argument("invalid time " + quote_for_message(text) +
                                ": expected RFC 3339, e.g. 2026-11-25T10:24:00Z or 2026-11-25T12:24:00+02:00");
}

// A strict left-to-right reader: each step checks the exact characters it expects.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  // Exactly `count` digits as a number.
  int digits(size_t count) {
    if (pos_ + count > text_.size()) throw_malformed(text_);
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
      char c = text_[pos_ + i];
      if (c < '0' || c > '9') throw_malformed(text_);
      value = value * 10 + (c - '0');
    }
    pos_ += count;
    return value;
  }

  void expect(char c) {
    if (!accept(c)) throw_malformed(text_);
  }

  bool accept(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // One or more digits after a '.': a second's fraction as microseconds (truncated).
  int64_t fraction_micros() {
    size_t start = pos_;
    int64_t micros = 0;
    int64_t scale = 100'000;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      micros += (text_[pos_] - '0') * scale;
      scale /= 10;
      ++pos_;
    }
    size_t count = pos_ - start;
    if (count == 0 || count > 9) throw_malformed(text_);
    return micros;
  }

  bool at_end() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Time parse_rfc3339(std::string_view text) {
  Reader in(text);
  int year = in.digits(4);
  in.expect('-');
  int month = in.digits(2);
  in.expect('-');
  int day = in.digits(2);
  if (!in.accept('T')) in.expect('t');
  int hour = in.digits(2);
  in.expect(':');
  int minute = in.digits(2);
  in.expect(':');
  int second = in.digits(2);
  int64_t fraction = in.accept('.') ? in.fraction_micros() : 0;
  int offset_minutes = 0;
  if (!in.accept('Z') && !in.accept('z')) {
    int sign = 1;
    if (in.accept('-')) {
      sign = -1;
    } else {
      in.expect('+');
    }
    int offset_hour = in.digits(2);
    in.expect(':');
    int offset_minute = in.digits(2);
    if (offset_hour > 23 || offset_minute > 59) throw_malformed(text);
    offset_minutes = sign * (offset_hour * 60 + offset_minute);
  }
  if (!in.at_end()) throw_malformed(text);

  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  // Leap seconds (:60) cannot be represented in Unix time, so they are rejected too.
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) {
    throw Error::invalid_argument("invalid time " + quote_for_message(text) + ": no such date or time of day");
  }
  Time t = sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
           std::chrono::seconds(second) + Duration(fraction) - std::chrono::minutes(offset_minutes);
  if (t < kMinTime || t > kMaxTime) {
    throw Error::invalid_argument("invalid time " + quote_for_message(text) + ": outside the years 0000 to 9999 in UTC");
  }
  return t;
}

std::string format_rfc3339(Time t) {
  if (t < kMinTime) t = kMinTime;
  if (t > kMaxTime) t = kMaxTime;
  const auto day_start = std::chrono::floor<days>(t);
  const std::chrono::year_month_day date{day_start};
  const std::chrono::hh_mm_ss<Duration> time_of_day{t - day_start};
  const auto micros = time_of_day.subseconds().count();

  char buffer[40];
  int n = std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02lld", static_cast<int>(date.year()),
                        static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                        static_cast<int>(time_of_day.hours().count()),
                        static_cast<int>(time_of_day.minutes().count()),
                        static_cast<long long>(time_of_day.seconds().count()));
  std::string out(buffer, static_cast<size_t>(n));
  if (micros % 1000 == 0 && micros != 0) {
    std::snprintf(buffer, sizeof buffer, ".%03lld", static_cast<long long>(micros / 1000));
    out += buffer;
  } else if (micros != 0) {
    std::snprintf(buffer, sizeof buffer, ".%06lld", static_cast<long long>(micros));
    out += buffer;
  }
  out += 'Z';
  return out;
}

}  // namespace quern
