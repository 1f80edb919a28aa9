#include "tests/e2e/harness.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "storage/pg_test_support.hpp"

extern char** environ;

namespace webhookd::e2e {

namespace {

// How often conditions on another process (its output, its exit) are re-checked.
constexpr milliseconds poll_interval{5};

std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  std::ostringstream out;
  out << ::getpid() << "_" << counter++ << "_" << std::hex << rd();
  return out.str();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string quote_args(const std::string& binary, const std::vector<std::string>& args) {
  std::string line = std::filesystem::path(binary).filename().string();
  for (const auto& arg : args) {
    bool plain = !arg.empty() && arg.find_first_of(" \t'\"") == std::string::npos;
    line += " " + (plain ? arg : "'" + arg + "'");
  }
  return line;
}

// The child's environment: the inherited one, filtered, plus the options' variables.
std::vector<std::string> child_environment(const process_options& options) {
  std::map<std::string, std::string> vars;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string kv = *entry;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string name = kv.substr(0, eq);
    bool ours = name.rfind("WEBHOOKD_", 0) == 0 && name.rfind("WEBHOOKD_TEST_", 0) != 0;
    if (options.clear_webhookd_env && ours) continue;
    vars[name] = kv.substr(eq + 1);
  }
  for (const auto& [name, value] : options.env) vars[name] = value;
  std::vector<std::string> out;
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

// posix_spawn attribute and file-action objects, released on scope exit.
struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  spawn_setup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
  }
  ~spawn_setup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

const std::string& webhookd_binary() {
  static const std::string path = WEBHOOKD_BINARY;
  return path;
}

// --- temp_dir ---------------------------------------------------------------------------------

temp_dir::temp_dir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "webhookd-e2e-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  }
  path_ = buffer.data();
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::file(const std::string& name) const { return (path_ / name).string(); }

std::string temp_dir::write_file(const std::string& name, const std::string& text) const {
  std::string target = file(name);
  std::ofstream out(target, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + target);
  return target;
}

std::string to_string(const exit_status& status) {
  if (status.exited) return "exit code " + std::to_string(status.code);
  return "killed by signal " + std::to_string(status.signal);
}

// --- process ----------------------------------------------------------------------------------

process::process(const std::string& binary, process_options options)
    : binary_(binary), options_(std::move(options)), files_(std::make_unique<temp_dir>()) {
  working_dir_ = options_.working_dir.empty() ? files_->path().string() : options_.working_dir;
  stdout_path_ = files_->file(".stdout");
  stderr_path_ = files_->file(".stderr");

  spawn_setup setup;
  ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&setup.actions, STDOUT_FILENO, stdout_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::posix_spawn_file_actions_addopen(&setup.actions, STDERR_FILENO, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::posix_spawn_file_actions_addchdir_np(&setup.actions, working_dir_.c_str());
  // The child starts with no blocked signals and default dispositions, whatever the test
  // runner did to its own.
  sigset_t none;
  sigset_t all;
  ::sigemptyset(&none);
  ::sigfillset(&all);
  ::posix_spawnattr_setsigmask(&setup.attr, &none);
  ::posix_spawnattr_setsigdefault(&setup.attr, &all);
  ::posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_text{binary};
  argv_text.insert(argv_text.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_text) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_text = child_environment(options_);
  std::vector<char*> envp;
  for (auto& entry : env_text) envp.push_back(entry.data());
  envp.push_back(nullptr);

  int rc = ::posix_spawn(&pid_, binary.c_str(), &setup.actions, &setup.attr, argv.data(),
                         envp.data());
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + quote_args(binary, options_.args) + ": " +
                             std::strerror(rc));
  }
}

process::~process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int raw = 0;
    while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
  }
}

bool process::try_reap() {
  if (status_) return true;
  int raw = 0;
  pid_t got = ::waitpid(pid_, &raw, WNOHANG);
  if (got != pid_) return false;
  exit_status status;
  if (WIFEXITED(raw)) {
    status.exited = true;
    status.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    status.signal = WTERMSIG(raw);
  }
  status_ = status;
  return true;
}

bool process::running() { return !try_reap(); }

void process::send_signal(int signal) {
  if (running()) ::kill(pid_, signal);
}

std::optional<exit_status> process::wait_exit(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!try_reap()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(poll_interval);
  }
  return status_;
}

std::string process::stdout_text() const { return read_file(stdout_path_); }
std::string process::stderr_text() const { return read_file(stderr_path_); }
std::vector<std::string> process::stdout_lines() const { return split_lines(stdout_text()); }
std::vector<std::string> process::stderr_lines() const { return split_lines(stderr_text()); }

std::optional<std::string> process::wait_for_stdout_line(const std::string& needle,
                                                         milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool ended = try_reap();  // check before reading, so output written before exit is seen
    for (const auto& line : stdout_lines()) {
      if (line.find(needle) != std::string::npos) return line;
    }
    if (ended || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(poll_interval);
  }
}

std::string process::describe() {
  try_reap();
  std::ostringstream out;
  out << "$ " << quote_args(binary_, options_.args) << "\n";
  for (const auto& [name, value] : options_.env) out << "  env " << name << "=" << value << "\n";
  out << "  pid " << pid_ << ", " << (status_ ? to_string(*status_) : "still running") << "\n";
  out << "--- stdout ---\n" << stdout_text() << "--- stderr ---\n" << stderr_text();
  return out.str();
}

// --- run_webhookd -----------------------------------------------------------------------------

run_result run_webhookd(process_options options, milliseconds timeout) {
  process child(webhookd_binary(), std::move(options));
  auto status = child.wait_exit(timeout);
  if (!status) {
    std::string what = child.describe();
    throw std::runtime_error("webhookd did not exit within " + std::to_string(timeout.count()) +
                             " ms:\n" + what);
  }
  run_result result;
  result.status = *status;
  result.out = child.stdout_text();
  result.err = child.stderr_text();
  result.err_lines = split_lines(result.err);
  result.description = child.describe();
  return result;
}

// --- webhookd_server --------------------------------------------------------------------------

std::optional<std::pair<std::string, uint16_t>> parse_listening_line(const std::string& line) {
  const std::string marker = "listening on http://";
  auto begin = line.find(marker);
  if (begin == std::string::npos) return std::nullopt;
  begin += marker.size();
  auto end = line.find_first_of(" \t\"", begin);
  std::string authority = line.substr(begin, end == std::string::npos ? end : end - begin);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos || colon + 1 >= authority.size()) return std::nullopt;
  std::string host = authority.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  for (char c : authority.substr(colon + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return std::nullopt;
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

webhookd_server::webhookd_server(process_options options, serve_defaults defaults) {
  auto has_flag = [&](const std::string& flag) {
    for (const auto& arg : options.args) {
      if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
    }
    return false;
  };
  std::vector<std::string> args{"serve"};
  if (defaults.any_free_port && !has_flag("--listen") &&
      options.env.count("WEBHOOKD_LISTEN") == 0) {
    args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  }
  args.insert(args.end(), options.args.begin(), options.args.end());
  options.args = std::move(args);
  if (defaults.jwt_secret && options.env.count("WEBHOOKD_JWT_SECRET") == 0 &&
      !has_flag("--jwt-secret")) {
    options.env["WEBHOOKD_JWT_SECRET"] = "e2e-test-secret-" + unique_suffix();
  }
  for (std::size_t i = 0; i + 1 < options.args.size(); ++i) {
    if (options.args[i] == "--jwt-secret") jwt_secret_ = options.args[i + 1];
  }
  if (jwt_secret_.empty() && options.env.count("WEBHOOKD_JWT_SECRET") != 0) {
    jwt_secret_ = options.env["WEBHOOKD_JWT_SECRET"];
  }

  process_ = std::make_unique<process>(webhookd_binary(), std::move(options));
  const milliseconds startup_timeout = defaults.startup_timeout;
  auto line = process_->wait_for_stdout_line("listening on http://", startup_timeout);
  std::optional<std::pair<std::string, uint16_t>> address;
  if (line) address = parse_listening_line(*line);
  if (!address) {
    throw std::runtime_error("webhookd serve did not report 'listening on http://HOST:PORT' "
                             "within " +
                             std::to_string(startup_timeout.count()) + " ms:\n" +
                             process_->describe());
  }
  host_ = address->first;
  port_ = address->second;
}

std::string webhookd_server::base_url() const {
  bool ipv6 = host_.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

httplib::Client webhookd_server::client() const {
  httplib::Client client(host_, port_);
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  client.set_write_timeout(std::chrono::seconds(10));
  return client;
}

exit_status webhookd_server::stop(int signal, milliseconds timeout) {
  process_->send_signal(signal);
  auto status = process_->wait_exit(timeout);
  if (!status) {
    throw std::runtime_error("webhookd did not exit within " + std::to_string(timeout.count()) +
                             " ms of signal " + std::to_string(signal) + ":\n" +
                             process_->describe());
  }
  return *status;
}

// --- PostgreSQL -------------------------------------------------------------------------------

std::string require_pg_admin_url() {
  const char* url = std::getenv("WEBHOOKD_TEST_PG_URL");
  if (url == nullptr || *url == '\0') {
    throw std::runtime_error(
        "WEBHOOKD_TEST_PG_URL is not set: PostgreSQL end-to-end tests need a throwaway server; "
        "run them through scripts/with-postgres.sh, e.g. scripts/with-postgres.sh ctest "
        "--test-dir build -L e2e");
  }
  return url;
}

pg_database::pg_database()
    : admin_url_(require_pg_admin_url()), name_("webhookd_e2e_" + unique_suffix()) {
  auto created = storage::create_scratch_database_blocking(admin_url_, name_);
  if (!created.ok()) {
    throw std::runtime_error("creating scratch database " + name_ + " failed: " +
                             created.err().message);
  }
  url_ = created.value();
}

void pg_database::drop() {
  auto dropped = storage::drop_scratch_database_blocking(admin_url_, name_);
  if (!dropped.ok()) {
    throw std::runtime_error("dropping scratch database " + name_ + " failed: " +
                             dropped.err().message);
  }
  dropped_ = true;
}

pg_database::~pg_database() {
  if (dropped_) return;
  auto dropped = storage::drop_scratch_database_blocking(admin_url_, name_);
  if (!dropped.ok()) {
    std::cerr << "e2e: could not drop scratch database " << name_ << ": "
              << dropped.err().message << "\n";
  }
}

// --- ports ------------------------------------------------------------------------------------

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) throw std::runtime_error("binding port 0 failed: " + std::string(std::strerror(saved)));
  return ntohs(addr.sin_port);
}

}  // namespace webhookd::e2e
