#include "exec/shell_payload.h"

#include <array>
#include <string_view>

#include <fmt/format.h>

#include "quern/error.h"

namespace quern {

namespace {

// Set by Quern for every shell job; a payload may not override them.
constexpr std::array<std::string_view, 4> kReservedEnvNames = {"QUERN_JOB_ID", "QUERN_ATTEMPT",
                                                               "QUERN_CHECKPOINT", "QUERN_TMPDIR"};

Error payload_error(std::string_view what) { return Error::invalid_argument(fmt::format("shell payload: {}", what)); }

// execve takes C strings: an embedded NUL would silently cut an argument short.
bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

std::vector<std::string> parse_command(const Json& command) {
  if (!command.is_array() || command.empty()) {
    throw payload_error("\"command\" must be a non-empty array of strings");
  }
  std::vector<std::string> argv;
  argv.reserve(command.size());
  for (size_t i = 0; i < command.size(); ++i) {
    if (!command[i].is_string()) {
      throw payload_error(fmt::format("\"command\"[{}] must be a string", i));
    }
    const auto& arg = command[i].get_ref<const std::string&>();
    if (has_nul(arg)) throw payload_error(fmt::format("\"command\"[{}] contains a NUL byte", i));
    argv.push_back(arg);
  }
  if (argv[0].empty()) throw payload_error("\"command\"[0], the program, must not be empty");
  return argv;
}

std::optional<std::string> parse_cwd(const Json& cwd) {
  if (cwd.is_null()) return std::nullopt;
  if (!cwd.is_string()) throw payload_error("\"cwd\" must be a string");
  const auto& dir = cwd.get_ref<const std::string&>();
  if (dir.empty() || dir.front() != '/') {
    throw payload_error(fmt::format("\"cwd\" must be an absolute path, got \"{}\"", dir));
  }
  if (has_nul(dir)) throw payload_error("\"cwd\" contains a NUL byte");
  return dir;
}

std::map<std::string, std::string> parse_env(const Json& env) {
  if (env.is_null()) return {};
  if (!env.is_object()) throw payload_error("\"env\" must be an object of strings");
  std::map<std::string, std::string> vars;
  for (const auto& [name, value] : env.items()) {
    if (name.empty() || name.find('=') != std::string::npos || has_nul(name)) {
      throw payload_error(fmt::format("\"env\" name \"{}\" is not a valid variable name", name));
    }
    for (std::string_view reserved : kReservedEnvNames) {
      if (name == reserved) throw payload_error(fmt::format("\"env\" may not set {}: Quern sets it", name));
    }
    if (!value.is_string()) throw payload_error(fmt::format("\"env\" value of {} must be a string", name));
    const auto& text = value.get_ref<const std::string&>();
    if (has_nul(text)) throw payload_error(fmt::format("\"env\" value of {} contains a NUL byte", name));
    vars.emplace(name, text);
  }
  return vars;
}

}  // namespace

ShellCommand parse_shell_payload(const Json& payload) {
  if (!payload.is_object()) throw payload_error("must be an object with a \"command\" array");
  for (const auto& [key, value] : payload.items()) {
    if (key != "command" && key != "cwd" && key != "env") {
      throw payload_error(fmt::format("unknown key \"{}\" (expected command, cwd, env)", key));
    }
  }
  auto command = payload.find("command");
  if (command == payload.end()) throw payload_error("\"command\" is missing");

  ShellCommand parsed;
  parsed.argv = parse_command(*command);
  if (auto cwd = payload.find("cwd"); cwd != payload.end()) parsed.cwd = parse_cwd(*cwd);
  if (auto env = payload.find("env"); env != payload.end()) parsed.env = parse_env(*env);
  return parsed;
}

Json make_shell_payload(const ShellCommand& command) {
  Json payload = Json::object();
  payload["command"] = command.argv;
  if (command.cwd) payload["cwd"] = *command.cwd;
  if (!command.env.empty()) payload["env"] = command.env;
  parse_shell_payload(payload);  // the same checks as a payload from outside
  return payload;
}

}  // namespace quern
