#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "http/server.hpp"
#include "storage/store.hpp"

namespace webhookd::app {

/// Exit codes of the webhookd binary.
enum exit_code : int {
  exit_ok = 0,
  exit_failure = 1,  ///< a failure after start (the server stopped on its own)
  exit_usage = 2,    ///< bad command line, environment or config file; a store that can't be
                     ///< opened; a listen address that can't be bound
};

/// The subcommand to run.
enum class command { serve, migrate, version, token };

/// Log output: human-readable text lines or one JSON object per line, on stdout.
enum class log_format { text, json };

struct log_settings {
  log_format format = log_format::text;
  spdlog::level::level_enum level = spdlog::level::info;
};

/// Management API authentication.
struct auth_settings {
  std::string jwt_secret;  ///< HS256 key for management tokens (required by serve)
};

/// Which callback URLs deliveries may target (the SSRF policy's exemptions).
struct target_policy_settings {
  /// CIDRs ("10.0.0.0/8", "::1/128") exempt from the private-address ban; syntax checked.
  std::vector<std::string> allow_private_targets;
  bool allow_http = false;  ///< accept http:// callback URLs
};

/// `webhookd token`: what the minted management token says.
struct token_settings {
  std::string client_id;        ///< --client: the token's sub
  bool admin = false;           ///< --admin: scope "admin"
  int64_t ttl_seconds = 86400;  ///< --ttl: lifetime, 1 s to 1 year
};

/// Cluster membership (PostgreSQL stores only).
struct cluster_settings {
  std::string node_id;      ///< this node's name in `nodes` (default: the host name)
  bool enabled = false;     ///< --cluster-listen was given
  std::string listen_host;  ///< where peers reach this node's actors (when enabled)
  uint16_t listen_port = 0;
};

/// The delivery engine (docs/engine.md).
struct engine_config {
  static constexpr uint64_t min_attempt_backlog = 64;
  static constexpr uint64_t max_attempt_backlog = 1'000'000;
  /// --attempt-backlog: attempt outcomes outstanding at the store writer at which endpoint
  /// actors start no new attempt ("Back-pressure from the store writer").
  uint64_t attempt_backlog = 4096;
};

/// Health checks of the monitor actor (docs/operations.md, "Health").
struct health_config {
  std::chrono::milliseconds interval{1'000};  ///< --health-interval: time between two rounds
  std::chrono::milliseconds deadline{2'000};  ///< --health-deadline: a ping's deadline
};

/// Alerts (docs/operations.md, "Alerts").
struct alert_config {
  std::string client_id;        ///< --alert-client-id: alerts become this client's events
  uint64_t dlq_threshold = 10;  ///< --alert-dlq-threshold: DLQ entries of a webhook per window
  uint64_t crash_restarts = 5;  ///< --alert-crash-restarts: restarts of one webhook per window
  std::chrono::milliseconds window{std::chrono::hours(1)};  ///< --alert-window
};

/// Everything webhookd was told, validated, split into one small struct per module. Only the
/// settings of `cmd` are filled in; the others keep their defaults.
struct config {
  command cmd = command::serve;
  std::string config_file;  ///< the --config file read, empty if none
  log_settings log;
  http::http_settings http;
  storage::store_settings store;
  auth_settings auth;
  target_policy_settings targets;
  cluster_settings cluster;
  token_settings token;
  engine_config engine;
  health_config health;
  alert_config alerts;
};

/// The process must end without running a command: help or version text (code 0, `text` for
/// stdout), or a usage error (code exit_usage, `text` is one line without the "webhookd: "
/// prefix, for stderr).
struct early_exit {
  int code = exit_usage;
  std::string text;
};

/// Looks up an environment variable; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// What parse_config reads, injected so tests need no real environment or host name.
struct config_inputs {
  std::vector<std::string> args;  ///< the command line without the program name
  env_lookup env;                 ///< WEBHOOKD_* variables
  std::string hostname;           ///< default node id
};

/// Parses and validates the command line, `WEBHOOKD_*` environment and the optional config file
/// (`--config PATH` or WEBHOOKD_CONFIG; format in app/config_file.hpp, keys are the long flag
/// names without "--"). Precedence per setting: flag, then environment, then file, then default.
/// An unknown flag, an unknown file key or a bad value is an early_exit with exit_usage and a
/// message naming the setting, where it came from and what is wrong, e.g.
/// "invalid --listen '127.0.0.1:70000': port must be 0-65535".
std::variant<config, early_exit> parse_config(const config_inputs& inputs);

/// The real process environment (::getenv).
std::optional<std::string> process_env(const std::string& name);

/// This machine's host name ("localhost" if it has none).
std::string local_hostname();

/// `url` with any password replaced by "***" (postgresql://user:***@host/db), for logs and
/// error messages.
std::string redact_store_url(const std::string& url);

/// A parsed "HOST:PORT" or "[IPv6]:PORT" (host without brackets).
struct host_port {
  std::string host;
  uint16_t port = 0;
};

/// Parses "HOST:PORT" / "[IPv6]:PORT" with PORT 0-65535; the string is the reason on failure.
std::variant<host_port, std::string> parse_host_port(const std::string& text);

}  // namespace webhookd::app
