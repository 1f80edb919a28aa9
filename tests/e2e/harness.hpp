#pragma once

// The end-to-end test harness: runs the real webhookd binary as a child process with chosen
// arguments and environment, captures its output, talks HTTP to it and signals it. Failures to
// set a test up throw std::runtime_error with the child's output attached, so Catch2 reports
// them with everything needed to debug.

#include <httplib.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace webhookd::e2e {

using std::chrono::milliseconds;

/// Deadlines used when a test does not pass its own.
inline constexpr milliseconds default_startup_timeout{20'000};
inline constexpr milliseconds default_exit_timeout{15'000};

/// The webhookd binary under test (the build's target file).
const std::string& webhookd_binary();

/// A fresh directory under the system temp dir, removed with its contents on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// path() / name, as a string.
  std::string file(const std::string& name) const;
  /// Writes `text` to path() / name and returns that path.
  std::string write_file(const std::string& name, const std::string& text) const;

private:
  std::filesystem::path path_;
};

/// How a child process ended.
struct exit_status {
  bool exited = false;  ///< ended by exit(); otherwise killed by `signal`
  int code = -1;        ///< exit code (when exited)
  int signal = 0;       ///< terminating signal (when !exited)
};

/// "exit code 2" / "killed by signal 9".
std::string to_string(const exit_status& status);

/// What to run.
struct process_options {
  /// `process_options{{"serve", "--listen", "127.0.0.1:0"}, {{"WEBHOOKD_STORE", url}}}`.
  process_options(std::vector<std::string> args_ = {},
                  std::map<std::string, std::string> env_ = {})
      : args(std::move(args_)), env(std::move(env_)) {}

  std::vector<std::string> args;            ///< arguments after the program name
  std::map<std::string, std::string> env;   ///< variables to set (on top of the inherited ones)
  /// Drop every inherited WEBHOOKD_* variable (except WEBHOOKD_TEST_*), so the developer's
  /// environment never changes what a test sees. Variables in `env` are set afterwards.
  bool clear_webhookd_env = true;
  /// Working directory of the child; empty = a fresh temporary directory owned by the process.
  std::string working_dir;
};

/// A child process whose stdout and stderr go to files. Destroying it kills (SIGKILL) and reaps
/// the child if it is still running, then removes the files.
class process {
public:
  /// Starts `binary`; throws std::runtime_error if it can't be started.
  process(const std::string& binary, process_options options);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const { return pid_; }
  const process_options& options() const { return options_; }
  /// The child's working directory.
  const std::string& working_dir() const { return working_dir_; }

  /// True until the child has ended (reaps it when it has).
  bool running();
  /// Sends `signal` to the child; no-op after it ended.
  void send_signal(int signal);
  /// Waits until the child ends or `timeout` passes; nullopt on timeout (the child keeps
  /// running).
  std::optional<exit_status> wait_exit(milliseconds timeout = default_exit_timeout);

  /// Everything written so far.
  std::string stdout_text() const;
  std::string stderr_text() const;
  std::vector<std::string> stdout_lines() const;
  std::vector<std::string> stderr_lines() const;

  /// Waits until a stdout line contains `needle` and returns that line; nullopt when the child
  /// ends or `timeout` passes first.
  std::optional<std::string> wait_for_stdout_line(const std::string& needle,
                                                  milliseconds timeout);

  /// The command line, how it ended (if it did) and its output, for failure messages.
  std::string describe();

private:
  bool try_reap();

  std::string binary_;
  process_options options_;
  std::unique_ptr<temp_dir> files_;  // captured output, and the default working directory
  std::string working_dir_;
  std::string stdout_path_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  std::optional<exit_status> status_;
};

/// A command that ran to its end (`version`, `migrate`, a rejected configuration).
struct run_result {
  exit_status status;
  std::string out;
  std::string err;
  std::vector<std::string> err_lines;
  std::string description;  ///< command line, exit and output, for failure messages
};

/// Runs webhookd with `options` and waits for it to end; throws std::runtime_error (after
/// killing it) if it is still running after `timeout`.
run_result run_webhookd(process_options options, milliseconds timeout = default_exit_timeout);

/// What webhookd_server adds to a `serve` command line unless told not to.
struct serve_defaults {
  /// Listen on 127.0.0.1:0 (any free port) unless the args or env set --listen/WEBHOOKD_LISTEN.
  /// Turn off to let a config file decide the address.
  bool any_free_port = true;
  /// Set WEBHOOKD_JWT_SECRET to a random value unless the args or env set a secret.
  bool jwt_secret = true;
  milliseconds startup_timeout = default_startup_timeout;
};

/// A running `webhookd serve`.
class webhookd_server {
public:
  /// Starts `webhookd serve` with `options.args` appended after "serve" (the store defaults to
  /// ./webhookd.db in a fresh working directory; pass "--store" or WEBHOOKD_STORE to change it),
  /// then waits for the "listening on http://HOST:PORT" log line. Throws std::runtime_error with
  /// the command line and output if it doesn't come within defaults.startup_timeout.
  explicit webhookd_server(process_options options, serve_defaults defaults = {});

  /// The bound address, as logged.
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  /// "http://HOST:PORT".
  std::string base_url() const;
  /// A client for this server (TCP_NODELAY, 5 s connect and 10 s read timeouts).
  httplib::Client client() const;
  /// The JWT secret the server was started with.
  const std::string& jwt_secret() const { return jwt_secret_; }

  process& proc() { return *process_; }

  /// Sends `signal` and waits for the exit; throws std::runtime_error if it doesn't end in time.
  exit_status stop(int signal = SIGTERM, milliseconds timeout = default_exit_timeout);

private:
  std::unique_ptr<process> process_;
  std::string jwt_secret_;
  std::string host_;
  uint16_t port_ = 0;
};

/// Parses "listening on http://HOST:PORT" out of a log line (text or JSON); nullopt if absent.
std::optional<std::pair<std::string, uint16_t>> parse_listening_line(const std::string& line);

/// WEBHOOKD_TEST_PG_URL (an admin URL of a throwaway server); throws with instructions when it is
/// not set.
std::string require_pg_admin_url();

/// A scratch PostgreSQL database for one test, dropped on destruction.
class pg_database {
public:
  /// Creates a fresh database on the server of require_pg_admin_url().
  pg_database();
  ~pg_database();
  pg_database(const pg_database&) = delete;
  pg_database& operator=(const pg_database&) = delete;

  /// Its URL, usable as --store.
  const std::string& url() const { return url_; }

  /// Drops the database now, terminating its connections (e.g. to make a store unreachable);
  /// throws std::runtime_error on failure. The destructor then does nothing.
  void drop();

private:
  bool dropped_ = false;
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

/// A loopback TCP port that was free a moment ago (bound to port 0, then released).
uint16_t free_loopback_port();

}  // namespace webhookd::e2e
