#include "server/server_log.h"

#include "core/printable_text.h"
#include "core/time_format.h"
#include "quern/error.h"

namespace quern::server {

LogFormat parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  throw Error::invalid_argument("--log-format takes text or json, not " + quote_for_message(text));
}

namespace {

// Text as it goes in a text log line: as is, or JSON-quoted if it holds a control
// character, so a request path with "%0a" in it cannot forge a line of its own.
std::string one_line_text(std::string_view text) {
  std::string utf8 = valid_utf8(text);
  if (!has_control_character(utf8)) return utf8;
  return Json(utf8).dump();
}

}  // namespace

void ServerLog::write(std::string_view level, std::string_view message, const Json& fields) {
  std::string line;
  if (format_ == LogFormat::kJson) {
    // Keys in the order a person scans them: time, level, msg, then the fields.
    nlohmann::ordered_json object = {{"time", format_rfc3339(system_clock()->now())}, {"level", level}, {"msg", valid_utf8(message)}};
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) object[key] = value;
    }
    line = object.dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    line = "quern serve: ";
    if (level != "info") line += std::string(level) + ": ";
    line += one_line_text(message);
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) {
        line += " " + key + "=" + (value.is_string() ? one_line_text(value.get<std::string>())
                                                      : value.dump(-1, ' ', false, Json::error_handler_t::replace));
      }
    }
  }
  line += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace quern::server
