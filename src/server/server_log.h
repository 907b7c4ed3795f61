// The log lines of `quern serve` on stderr: readable text, or with --log-format json
// one JSON object per line ({"time","level","msg", …fields}) for a log collector.
// Each line is one write, so lines from many threads never interleave.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "quern/job.h"

namespace quern::server {

enum class LogFormat { kText, kJson };

// "text" or "json"; anything else is kInvalidArgument.
LogFormat parse_log_format(std::string_view text);

class ServerLog {
 public:
  explicit ServerLog(LogFormat format, std::FILE* out = stderr) : format_(format), out_(out) {}

  // `fields` is a JSON object; text lines show them as key=value after the message.
  void info(std::string_view message, const Json& fields = Json::object()) { write("info", message, fields); }
  void warn(std::string_view message, const Json& fields = Json::object()) { write("warn", message, fields); }
  void error(std::string_view message, const Json& fields = Json::object()) { write("error", message, fields); }

  LogFormat format() const { return format_; }

 private:
  void write(std::string_view level, std::string_view message, const Json& fields);

  const LogFormat format_;
  std::FILE* const out_;
  std::mutex mutex_;
};

}  // namespace quern::server
