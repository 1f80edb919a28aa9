#include "app/config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <utility>

#include "app/config_file.hpp"
#include "app/version.hpp"
#include "core/ip_address.hpp"

namespace webhookd::app {

namespace {

// ---------------------------------------------------------------------------------------------
// The settings table: one row per setting, shared by flags, environment and the config file.

struct setting_def {
  const char* key;           // config-file key; the flag is "--" + key
  const char* env;           // environment variable
  const char* default_text;  // shown in --help; nullptr when computed or absent
  const char* help;
  bool is_flag = false;  // boolean: "--key" alone means true
  bool is_list = false;  // comma-separated, or an array in the config file
};

const std::vector<setting_def>& setting_defs() {
  static const std::vector<setting_def> defs = {
      {"listen", "WEBHOOKD_LISTEN", "127.0.0.1:8080",
       "HTTP address HOST:PORT ([IPv6]:PORT); port 0 picks a free port"},
      {"store", "WEBHOOKD_STORE", "sqlite:./webhookd.db", "sqlite:PATH or postgresql://..."},
      {"jwt-secret", "WEBHOOKD_JWT_SECRET", nullptr,
       "HS256 key for management tokens (required; prefer the environment variable)"},
      {"allow-private-targets", "WEBHOOKD_ALLOW_PRIVATE_TARGETS", "",
       "comma-separated CIDRs exempt from the SSRF policy", false, true},
      {"allow-http", "WEBHOOKD_ALLOW_HTTP", "false", "accept http:// callback URLs", true},
      {"node-id", "WEBHOOKD_NODE_ID", nullptr, "this node's cluster name (default: host name)"},
      {"cluster-listen", "WEBHOOKD_CLUSTER_LISTEN", "off",
       "HOST:PORT for node-to-node messaging (PostgreSQL only), or off"},
      {"log-format", "WEBHOOKD_LOG_FORMAT", "text", "text or json (one object per line)"},
      {"log-level", "WEBHOOKD_LOG_LEVEL", "info", "trace, debug, info, warn, error, critical, off"},
      {"http-threads", "WEBHOOKD_HTTP_THREADS", "64",
       "HTTP worker threads (each open keep-alive connection holds one)"},
      {"attempt-backlog", "WEBHOOKD_ATTEMPT_BACKLOG", "4096",
       "attempt outcomes waiting to be written at which new attempts wait (back-pressure)"},
      {"health-interval", "WEBHOOKD_HEALTH_INTERVAL", "1",
       "seconds between two rounds of health checks (fractions allowed)"},
      {"health-deadline", "WEBHOOKD_HEALTH_DEADLINE", "2",
       "seconds an actor or the store may take to answer a health check"},
      {"alert-client-id", "WEBHOOKD_ALERT_CLIENT_ID", "",
       "client whose events the alerts become (empty: alerts are only logged)"},
      {"alert-dlq-threshold", "WEBHOOKD_ALERT_DLQ_THRESHOLD", "10",
       "DLQ entries of one webhook within the alert window that raise an alert (0: never)"},
      {"alert-crash-restarts", "WEBHOOKD_ALERT_CRASH_RESTARTS", "5",
       "restarts of one webhook's endpoint actor within the alert window that raise an alert (0: "
       "never)"},
      {"alert-window", "WEBHOOKD_ALERT_WINDOW", "3600",
       "seconds of the alert window (counts and once-per-window deduplication)"},
  };
  return defs;
}

const setting_def* find_def(const std::string& key) {
  for (const auto& def : setting_defs()) {
    if (key == def.key) return &def;
  }
  return nullptr;
}

const std::vector<std::string>& keys_of(command cmd) {
  static const std::vector<std::string> serve = {
      "listen",          "store",           "jwt-secret",          "allow-private-targets",
      "allow-http",      "node-id",         "cluster-listen",      "log-format",
      "log-level",       "http-threads",    "attempt-backlog",     "health-interval",
      "health-deadline", "alert-client-id", "alert-dlq-threshold", "alert-crash-restarts",
      "alert-window",
  };
  static const std::vector<std::string> migrate = {"store", "log-format", "log-level"};
  static const std::vector<std::string> token = {"jwt-secret"};
  static const std::vector<std::string> none;
  switch (cmd) {
    case command::serve:
      return serve;
    case command::migrate:
      return migrate;
    case command::version:
      return none;
    case command::token:
      return token;
  }
  return none;
}

const char* config_env = "WEBHOOKD_CONFIG";

// ---------------------------------------------------------------------------------------------
// Small strict parsers.

std::optional<unsigned long> parse_unsigned(const std::string& text, unsigned long max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  unsigned long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

// Seconds, fractions allowed ("0.25"), within [min_ms, max_ms] once in milliseconds.
std::optional<std::chrono::milliseconds> parse_seconds(const std::string& text, int64_t min_ms,
                                                       int64_t max_ms) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  int64_t whole = 0;
  int64_t millis = 0;
  int fraction_digits = -1;  // -1: no '.' seen
  for (char c : text) {
    if (c == '.') {
      if (fraction_digits >= 0) return std::nullopt;
      fraction_digits = 0;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (fraction_digits < 0) {
      whole = whole * 10 + (c - '0');
    } else if (++fraction_digits <= 3) {
      millis = millis * 10 + (c - '0');
    }
  }
  if (fraction_digits == 0 || text.front() == '.') return std::nullopt;
  for (int d = std::max(fraction_digits, 0); d < 3; ++d) millis *= 10;
  int64_t total = whole * 1000 + millis;
  if (total < min_ms || total > max_ms) return std::nullopt;
  return std::chrono::milliseconds{total};
}

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::optional<bool> parse_bool(const std::string& text) {
  std::string t = to_lower(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::string trim(const std::string& text) {
  auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

bool is_ipv4_literal(const std::string& host) {
  in_addr addr{};
  return ::inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool is_ipv6_literal(const std::string& host) {
  in6_addr addr{};
  return ::inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

std::optional<std::string> check_host_name(const std::string& host) {
  if (host.size() > 253) return "host name is longer than 253 characters";
  std::size_t label = 0;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return "'" + host + "' is not a valid host name";
    if (c == '.') {
      if (label == 0) return "'" + host + "' is not a valid host name";
      label = 0;
    } else if (++label > 63) {
      return "'" + host + "' is not a valid host name";
    }
  }
  bool numeric = host.find_first_not_of("0123456789.") == std::string::npos;
  if (numeric) return "'" + host + "' is not a valid IPv4 address";
  return std::nullopt;
}

std::optional<std::string> check_store_url(const std::string& url) {
  if (starts_with(url, "sqlite:")) {
    if (url.size() == std::string("sqlite:").size()) {
      return std::string("sqlite: needs a file path, e.g. sqlite:./webhookd.db");
    }
    return std::nullopt;
  }
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (starts_with(url, scheme)) {
      if (url.size() == std::string(scheme).size()) {
        return std::string("the PostgreSQL URL names no server");
      }
      return std::nullopt;
    }
  }
  return std::string("must be sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE");
}

std::optional<std::string> check_node_id(const std::string& id) {
  if (id.empty()) return std::string("must not be empty");
  if (id.size() > 128) return std::string("must be at most 128 characters");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return std::string("may contain only letters, digits, '.', '-' and '_'");
  }
  return std::nullopt;
}

std::optional<spdlog::level::level_enum> parse_log_level(const std::string& text) {
  using spdlog::level::level_enum;
  static const std::map<std::string, level_enum> levels = {
      {"trace", level_enum::trace},       {"debug", level_enum::debug},  {"info", level_enum::info},
      {"warn", level_enum::warn},         {"warning", level_enum::warn}, {"error", level_enum::err},
      {"critical", level_enum::critical}, {"off", level_enum::off}};
  auto it = levels.find(to_lower(text));
  if (it == levels.end()) return std::nullopt;
  return it->second;
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return trim(text);
}

// ---------------------------------------------------------------------------------------------
// Resolving one setting: flag, then environment, then file, then default.

enum class origin { flag, env, file, fallback };

struct raw_setting {
  std::string text;
  origin from = origin::fallback;
  int file_line = 0;
};

struct usage_error {
  std::string message;
};

class resolver {
 public:
  resolver(const config_inputs& inputs, const std::map<std::string, std::string>& flag_text,
           const std::map<std::string, CLI::Option*>& options, const config_file_entries& file,
           std::string file_path)
      : inputs_(inputs),
        flag_text_(flag_text),
        options_(options),
        file_(file),
        file_path_(std::move(file_path)) {}

  // The raw value of `key`, or nullopt when no source sets it. Fails only for a config-file
  // array given to a single-valued setting.
  std::variant<std::optional<raw_setting>, usage_error> get(const std::string& key) const {
    const setting_def& def = *find_def(key);
    auto opt = options_.find(key);
    if (opt != options_.end() && opt->second->count() > 0) {
      return std::optional<raw_setting>(raw_setting{flag_text_.at(key), origin::flag, 0});
    }
    if (inputs_.env) {
      if (auto value = inputs_.env(def.env)) {
        return std::optional<raw_setting>(raw_setting{*value, origin::env, 0});
      }
    }
    auto entry = file_.find(key);
    if (entry != file_.end()) {
      const config_file_value& value = entry->second;
      if (value.is_array && !def.is_list) {
        return usage_error{"invalid " + key + " in config file " + file_path_ + " line " +
                           std::to_string(value.line) + ": expected a single value, not an array"};
      }
      std::string joined;
      for (const auto& item : value.items) {
        if (!joined.empty()) joined += ",";
        joined += item;
      }
      return std::optional<raw_setting>(raw_setting{joined, origin::file, value.line});
    }
    return std::optional<raw_setting>();
  }

  // "invalid --listen 'x': reason", naming where the value came from.
  std::string invalid(const std::string& key, const raw_setting& raw, const std::string& reason,
                      bool show_value = true) const {
    const setting_def& def = *find_def(key);
    std::string name;
    std::string suffix;
    switch (raw.from) {
      case origin::flag:
        name = std::string("--") + key;
        break;
      case origin::env:
        name = def.env;
        break;
      case origin::file:
        name = key;
        suffix = " in config file " + file_path_ + " line " + std::to_string(raw.file_line);
        break;
      case origin::fallback:
        name = "default " + key;
        break;
    }
    std::string shown = show_value ? " '" + raw.text + "'" : "";
    return "invalid " + name + shown + suffix + ": " + reason;
  }

 private:
  const config_inputs& inputs_;
  const std::map<std::string, std::string>& flag_text_;
  const std::map<std::string, CLI::Option*>& options_;
  const config_file_entries& file_;
  std::string file_path_;
};

// Fills the settings of one command. Returns the first problem.
std::optional<usage_error> fill(config& cfg, const resolver& settings,
                                const config_inputs& inputs) {
  const auto& wanted = keys_of(cfg.cmd);
  auto wants = [&](const char* key) {
    return std::find(wanted.begin(), wanted.end(), key) != wanted.end();
  };
  // The value of `key`, its default when unset (fallback_text may be empty = no default).
  std::optional<usage_error> failure;
  auto value_of = [&](const char* key, const std::string& fallback_text,
                      bool has_default = true) -> std::optional<raw_setting> {
    auto got = settings.get(key);
    if (auto* err = std::get_if<usage_error>(&got)) {
      failure = *err;
      return std::nullopt;
    }
    auto& raw = std::get<std::optional<raw_setting>>(got);
    if (raw) return raw;
    if (!has_default) return std::nullopt;
    return raw_setting{fallback_text, origin::fallback, 0};
  };

  if (wants("log-format")) {
    auto raw = value_of("log-format", "text");
    if (failure) return failure;
    std::string t = to_lower(raw->text);
    if (t == "text") {
      cfg.log.format = log_format::text;
    } else if (t == "json") {
      cfg.log.format = log_format::json;
    } else {
      return usage_error{settings.invalid("log-format", *raw, "must be text or json")};
    }
  }
  if (wants("log-level")) {
    auto raw = value_of("log-level", "info");
    if (failure) return failure;
    auto level = parse_log_level(raw->text);
    if (!level) {
      return usage_error{settings.invalid(
          "log-level", *raw, "must be trace, debug, info, warn, error, critical or off")};
    }
    cfg.log.level = *level;
  }
  if (wants("store")) {
    auto raw = value_of("store", "sqlite:./webhookd.db");
    if (failure) return failure;
    if (auto reason = check_store_url(raw->text)) {
      raw->text = redact_store_url(raw->text);
      return usage_error{settings.invalid("store", *raw, *reason)};
    }
    cfg.store.url = raw->text;
  }
  if (wants("listen")) {
    auto raw = value_of("listen", "127.0.0.1:8080");
    if (failure) return failure;
    auto parsed = parse_host_port(raw->text);
    if (auto* reason = std::get_if<std::string>(&parsed)) {
      return usage_error{settings.invalid("listen", *raw, *reason)};
    }
    auto& hp = std::get<host_port>(parsed);
    cfg.http.host = hp.host;
    cfg.http.port = hp.port;
  }
  if (wants("http-threads")) {
    auto raw = value_of("http-threads", "64");
    if (failure) return failure;
    auto threads = parse_unsigned(raw->text, 1024);
    if (!threads || *threads == 0) {
      return usage_error{settings.invalid("http-threads", *raw, "must be a number 1-1024")};
    }
    cfg.http.threads = static_cast<int>(*threads);
  }
  if (wants("attempt-backlog")) {
    auto raw = value_of("attempt-backlog", "4096");
    if (failure) return failure;
    auto limit = parse_unsigned(raw->text, engine_config::max_attempt_backlog);
    if (!limit || *limit < engine_config::min_attempt_backlog) {
      return usage_error{settings.invalid(
          "attempt-backlog", *raw,
          "must be a number from " + std::to_string(engine_config::min_attempt_backlog) + " to " +
              std::to_string(engine_config::max_attempt_backlog))};
    }
    cfg.engine.attempt_backlog = *limit;
  }
  if (wants("health-interval")) {
    auto raw = value_of("health-interval", "1");
    if (failure) return failure;
    auto interval = parse_seconds(raw->text, 10, 3'600'000);
    if (!interval) {
      return usage_error{
          settings.invalid("health-interval", *raw, "must be seconds from 0.01 to 3600")};
    }
    cfg.health.interval = *interval;
  }
  if (wants("health-deadline")) {
    auto raw = value_of("health-deadline", "2");
    if (failure) return failure;
    auto deadline = parse_seconds(raw->text, 10, 3'600'000);
    if (!deadline) {
      return usage_error{
          settings.invalid("health-deadline", *raw, "must be seconds from 0.01 to 3600")};
    }
    cfg.health.deadline = *deadline;
  }
  if (wants("alert-client-id")) {
    auto raw = value_of("alert-client-id", "");
    if (failure) return failure;
    if (raw->text.size() > 256) {
      return usage_error{
          settings.invalid("alert-client-id", *raw, "must be at most 256 characters")};
    }
    cfg.alerts.client_id = trim(raw->text);
  }
  if (wants("alert-dlq-threshold")) {
    auto raw = value_of("alert-dlq-threshold", "10");
    if (failure) return failure;
    auto threshold = parse_unsigned(raw->text, 1'000'000'000);
    if (!threshold) {
      return usage_error{settings.invalid("alert-dlq-threshold", *raw,
                                          "must be a number 0-1000000000 (0: never)")};
    }
    cfg.alerts.dlq_threshold = *threshold;
  }
  if (wants("alert-crash-restarts")) {
    auto raw = value_of("alert-crash-restarts", "5");
    if (failure) return failure;
    auto restarts = parse_unsigned(raw->text, 1'000'000'000);
    if (!restarts) {
      return usage_error{settings.invalid("alert-crash-restarts", *raw,
                                          "must be a number 0-1000000000 (0: never)")};
    }
    cfg.alerts.crash_restarts = *restarts;
  }
  if (wants("alert-window")) {
    auto raw = value_of("alert-window", "3600");
    if (failure) return failure;
    auto window = parse_unsigned(raw->text, 30 * 86'400);
    if (!window || *window == 0) {
      return usage_error{
          settings.invalid("alert-window", *raw, "must be whole seconds from 1 to 2592000")};
    }
    cfg.alerts.window = std::chrono::seconds{*window};
  }
  if (wants("jwt-secret")) {
    auto raw = value_of("jwt-secret", "", false);
    if (failure) return failure;
    if (!raw || raw->text.empty()) {
      if (raw) {
        return usage_error{settings.invalid("jwt-secret", *raw, "must not be empty", false)};
      }
      return usage_error{
          "missing JWT secret: set --jwt-secret or WEBHOOKD_JWT_SECRET (or jwt-secret in the "
          "config file)"};
    }
    cfg.auth.jwt_secret = raw->text;
  }
  if (wants("allow-private-targets")) {
    auto raw = value_of("allow-private-targets", "");
    if (failure) return failure;
    std::stringstream list(raw->text);
    std::string entry;
    while (std::getline(list, entry, ',')) {
      entry = trim(entry);
      if (entry.empty()) continue;
      // The parser the SSRF policy uses, so what passes here is what the server accepts.
      if (auto block = cidr::parse(entry); !block) {
        return usage_error{settings.invalid("allow-private-targets", *raw, block.err().message)};
      }
      cfg.targets.allow_private_targets.push_back(entry);
    }
  }
  if (wants("allow-http")) {
    auto raw = value_of("allow-http", "false");
    if (failure) return failure;
    auto on = parse_bool(raw->text);
    if (!on) return usage_error{settings.invalid("allow-http", *raw, "must be true or false")};
    cfg.targets.allow_http = *on;
  }
  if (wants("node-id")) {
    auto raw = value_of("node-id", inputs.hostname);
    if (failure) return failure;
    if (auto reason = check_node_id(raw->text)) {
      return usage_error{settings.invalid("node-id", *raw, *reason)};
    }
    cfg.cluster.node_id = raw->text;
  }
  if (wants("cluster-listen")) {
    auto raw = value_of("cluster-listen", "off");
    if (failure) return failure;
    if (!raw->text.empty() && to_lower(raw->text) != "off") {
      auto parsed = parse_host_port(raw->text);
      if (auto* reason = std::get_if<std::string>(&parsed)) {
        return usage_error{settings.invalid("cluster-listen", *raw, *reason)};
      }
      if (starts_with(cfg.store.url, "sqlite:")) {
        return usage_error{
            settings.invalid("cluster-listen", *raw, "clustering needs a postgresql:// store")};
      }
      cfg.cluster.enabled = true;
      cfg.cluster.listen_host = std::get<host_port>(parsed).host;
      cfg.cluster.listen_port = std::get<host_port>(parsed).port;
    }
  }
  return std::nullopt;
}

struct command_def {
  const char* name;
  command cmd;
  const char* help;
};

const std::vector<command_def>& command_defs() {
  static const std::vector<command_def> defs = {
      {"serve", command::serve, "run the server"},
      {"migrate", command::migrate, "apply schema migrations to the store and print the version"},
      {"version", command::version, "print the version"},
      {"token", command::token,
       "print a management API token (JWT) signed with the configured --jwt-secret"},
  };
  return defs;
}

std::string option_help(const setting_def& def, const std::string& hostname) {
  std::string text = std::string(def.help) + " [env " + def.env;
  if (def.default_text != nullptr && *def.default_text != '\0') {
    text += ", default " + std::string(def.default_text);
  } else if (std::string(def.key) == "node-id") {
    text += ", default " + hostname;
  }
  return text + "]";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::variant<config, early_exit> parse_config(const config_inputs& inputs) {
  const std::string commands_hint = "serve, migrate, token or version; see webhookd --help";
  if (inputs.args.empty()) return early_exit{exit_usage, "missing command (" + commands_hint + ")"};
  const std::string& first = inputs.args.front();
  if (!starts_with(first, "-")) {
    bool known = std::any_of(command_defs().begin(), command_defs().end(),
                             [&](const command_def& c) { return first == c.name; });
    if (!known) {
      return early_exit{exit_usage, "unknown command '" + first + "' (" + commands_hint + ")"};
    }
  }

  CLI::App app{"webhookd: a webhook delivery server", "webhookd"};
  app.require_subcommand(1, 1);
  app.set_version_flag("--version", std::string("webhookd ") + version());
  app.footer(
      "Settings come from flags, then WEBHOOKD_* environment variables, then the --config file "
      "(TOML subset: top-level `key = value` lines, keys are the flag names without --).");

  std::map<std::string, std::string> flag_text;
  std::map<std::string, std::map<std::string, CLI::Option*>> options;  // command -> key -> option
  std::map<std::string, std::string> config_path_flag;
  std::map<std::string, CLI::App*> subcommands;
  for (const auto& cd : command_defs()) {
    CLI::App* sub = app.add_subcommand(cd.name, cd.help);
    subcommands[cd.name] = sub;
    const auto& keys = keys_of(cd.cmd);
    if (keys.empty()) continue;
    sub->add_option("--config", config_path_flag[cd.name],
                    "read settings from this file [env WEBHOOKD_CONFIG]")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    for (const auto& key : keys) {
      const setting_def& def = *find_def(key);
      std::string flag = "--" + key;
      std::string help = option_help(def, inputs.hostname);
      CLI::Option* opt = nullptr;
      if (def.is_flag) {
        opt = sub->add_flag(flag + "{true}", flag_text[key], help)->expected(0, 1);
      } else {
        opt = sub->add_option(flag, flag_text[key], help);
      }
      opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      options[cd.name][key] = opt;
    }
  }

  // `token`'s own options (not settings: no environment or file counterpart).
  std::string token_client;
  bool token_admin = false;
  std::string token_ttl = "86400";
  {
    CLI::App* sub = subcommands["token"];
    sub->add_option("--client", token_client, "client id, the token's sub")->required();
    sub->add_flag("--admin", token_admin, "grant scope admin (event types, sources)");
    sub->add_option("--ttl", token_ttl, "lifetime in seconds, 1-31536000 [default 86400]");
  }

  std::vector<std::string> reversed(inputs.args.rbegin(), inputs.args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      std::ostringstream out;
      std::ostringstream err;
      app.exit(e, out, err);
      return early_exit{exit_ok, out.str()};
    }
    std::string hint = "see webhookd --help";
    for (const auto& [name, sub] : subcommands) {
      if (sub->parsed()) hint = "see webhookd " + name + " --help";
    }
    return early_exit{exit_usage, one_line(e.what()) + " (" + hint + ")"};
  }

  config cfg;
  std::string chosen;
  for (const auto& cd : command_defs()) {
    if (subcommands[cd.name]->parsed()) {
      cfg.cmd = cd.cmd;
      chosen = cd.name;
    }
  }

  // The config file, if any: from the flag, else the environment.
  config_file_entries file;
  if (!keys_of(cfg.cmd).empty()) {
    std::string path = config_path_flag[chosen];
    if (path.empty() && inputs.env) {
      if (auto from_env = inputs.env(config_env)) path = *from_env;
    }
    if (!path.empty()) {
      auto read = read_config_file(path);
      if (auto* err = std::get_if<config_file_error>(&read)) {
        return early_exit{exit_usage, one_line(err->message)};
      }
      file = std::move(std::get<config_file_entries>(read));
      for (const auto& [key, value] : file) {
        if (find_def(key) == nullptr) {
          return early_exit{exit_usage, "unknown key '" + key + "' in config file " + path +
                                            " line " + std::to_string(value.line)};
        }
      }
      cfg.config_file = path;
    }
  }

  resolver settings(inputs, flag_text, options[chosen], file, cfg.config_file);
  if (auto problem = fill(cfg, settings, inputs)) {
    return early_exit{exit_usage, one_line(problem->message)};
  }
  if (cfg.cmd == command::token) {
    bool printable =
        !token_client.empty() && token_client.size() <= 256 &&
        std::all_of(token_client.begin(), token_client.end(), [](char c) {
          return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
        });
    if (!printable) {
      return early_exit{exit_usage, "invalid --client '" + one_line(token_client) +
                                        "': must be 1-256 printable characters without spaces"};
    }
    auto ttl = parse_unsigned(token_ttl, 31536000);
    if (!ttl || *ttl == 0) {
      return early_exit{exit_usage, "invalid --ttl '" + one_line(token_ttl) +
                                        "': must be a number of seconds, 1-31536000"};
    }
    cfg.token.client_id = token_client;
    cfg.token.admin = token_admin;
    cfg.token.ttl_seconds = static_cast<int64_t>(*ttl);
  }
  return cfg;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string local_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string redact_store_url(const std::string& url) {
  std::string out = url;
  auto scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    auto authority_begin = scheme_end + 3;
    auto authority_end = out.find_first_of("/?#", authority_begin);
    if (authority_end == std::string::npos) authority_end = out.size();
    auto at = out.rfind('@', authority_end);
    if (at != std::string::npos && at >= authority_begin) {
      auto colon = out.find(':', authority_begin);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // libpq also takes the password as a query parameter.
  for (std::size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    bool at_param_start = pos > 0 && (out[pos - 1] == '?' || out[pos - 1] == '&');
    if (!at_param_start) continue;
    auto value_begin = pos + std::string("password=").size();
    auto value_end = out.find('&', value_begin);
    if (value_end == std::string::npos) value_end = out.size();
    out.replace(value_begin, value_end - value_begin, "***");
  }
  return out;
}

std::variant<host_port, std::string> parse_host_port(const std::string& text) {
  const std::string expected = "expected HOST:PORT, e.g. 127.0.0.1:8080";
  host_port out;
  std::string port_text;
  if (starts_with(text, "[")) {
    auto close = text.find(']');
    if (close == std::string::npos) return std::string("missing ']' after the IPv6 address");
    out.host = text.substr(1, close - 1);
    if (!is_ipv6_literal(out.host)) return "'" + out.host + "' is not a valid IPv6 address";
    if (close + 1 >= text.size() || text[close + 1] != ':') return expected;
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return expected;
    out.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (out.host.empty()) return std::string("the host is empty (0.0.0.0 listens everywhere)");
    if (out.host.find(':') != std::string::npos) {
      return std::string("an IPv6 host needs brackets, e.g. [::1]:8080");
    }
    if (!is_ipv4_literal(out.host)) {
      if (auto reason = check_host_name(out.host)) return *reason;
    }
  }
  if (port_text.empty()) return std::string("the port is missing");
  if (port_text.find_first_not_of("0123456789") != std::string::npos) {
    return std::string("port must be a number 0-65535");
  }
  auto port = parse_unsigned(port_text, 65535);
  if (!port) return std::string("port must be 0-65535");
  out.port = static_cast<uint16_t>(*port);
  return out;
}

}  // namespace webhookd::app
