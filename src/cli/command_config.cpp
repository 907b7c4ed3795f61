// `quern config get KEY`, `config set KEY VALUE`, `config ls`: the settings that
// handlers read at run time, stored as JSON values.
#include <iostream>
#include <limits>
#include <memory>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "core/job_validation.h"
#include "core/payload.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct ConfigArguments {
  std::string key;
  std::string value;
};

std::string compact(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

// `config set retries 5` stores the number 5, `config set mode fast` the string "fast".
// JSON that would not come back as given (an integer over 64 bits, nesting past 512
// levels) is kept as the string it is, like any text that is not JSON.
Json setting_value_from_text(const std::string& text) {
  try {
    return parse_payload(text, std::numeric_limits<size_t>::max());  // a setting has no payload limit
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidArgument) throw;
    return Json(text);
  }
}

// Before the database is opened (bad input changes nothing, not even by creating it).
void check_key(const std::string& key) {
  if (key.empty()) throw Error::invalid_argument("a setting needs a non-empty key");
  check_name("setting key", key);
}

}  // namespace

void add_config_command(CLI::App& app, CliContext& context) {
  CLI::App* config = app.add_subcommand("config", "Read and change settings (JSON values)");
  config->require_subcommand(1);

  auto get_args = std::make_shared<ConfigArguments>();
  CLI::App* get = config->add_subcommand("get", "Print a setting's JSON value");
  get->add_option("key", get_args->key, "Setting key")->required();
  get->callback([&context, get_args] {
    context.action = [&context, get_args] {
      check_key(get_args->key);
      auto client = open_client(context.global);
      const std::optional<Json> value = client->setting(get_args->key);
      if (!value) throw Error::not_found("setting '" + get_args->key + "' not found");
      if (context.global.json) {
        print_json(*value);
      } else {
        std::cout << compact(*value) << '\n';
      }
      return 0;
    };
  });

  auto set_args = std::make_shared<ConfigArguments>();
  CLI::App* set = config->add_subcommand("set", "Set a setting: VALUE as JSON if it parses, else as a string");
  set->add_option("key", set_args->key, "Setting key")->required();
  set->add_option("value", set_args->value, "Value")->required();
  set->callback([&context, set_args] {
    context.action = [&context, set_args] {
      check_key(set_args->key);
      const Json value = setting_value_from_text(set_args->value);
      auto client = open_client(context.global);
      client->set_setting(set_args->key, value);
      if (context.global.json) {
        print_json({{set_args->key, value}});
      } else {
        std::cout << "set " << set_args->key << '=' << compact(value) << '\n';
      }
      return 0;
    };
  });

  CLI::App* ls = config->add_subcommand("ls", "List settings as KEY=VALUE");
  ls->callback([&context] {
    context.action = [&context] {
      auto client = open_client(context.global);
      const auto settings = client->settings();
      if (context.global.json) {
        Json object = Json::object();
        for (const auto& [key, value] : settings) object[key] = value;
        print_json(object);
      } else {
        for (const auto& [key, value] : settings) std::cout << key << '=' << compact(value) << '\n';
      }
      return 0;
    };
  });
}

}  // namespace quern::cli
