#pragma once

#include <httplib.h>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace webhookd::http {

/// Settings of the inbound HTTP server (filled by app/config from `--listen`, `--http-threads`).
struct http_settings {
  std::string host = "127.0.0.1";  ///< address to bind: an IPv4/IPv6 literal or a host name
  uint16_t port = 8080;            ///< 0 = any free port (see server::port())
  int threads = 64;                ///< worker threads; a keep-alive connection holds one for its life
  std::chrono::seconds keep_alive_timeout{5};   ///< idle keep-alive connections close after this
  std::size_t keep_alive_max_requests = 10000;  ///< requests served on one connection at most
  std::chrono::seconds read_timeout{10};        ///< reading one request
  std::chrono::seconds write_timeout{10};       ///< writing one response
  std::size_t max_payload_bytes = 4 * 1024 * 1024;  ///< larger request bodies get 413
  /// Connections the kernel queues before they are accepted (cpp-httplib's own is 5: a burst of
  /// more clients connecting at once would wait out a 1 s SYN retransmit). Capped by the
  /// kernel's net.core.somaxconn.
  int listen_backlog = 4096;
};

/// What GET /readyz reports: ready, or not ready with a reason for operators and the names of
/// the checks that failed ("store", actor names).
struct readiness {
  bool ready = false;
  std::string reason;                      ///< why not ready (ignored when ready)
  std::vector<std::string> not_answering;  ///< what failed (ignored when ready)
};

/// Answers whether the service can take traffic. Called on an HTTP worker thread for every
/// GET /readyz, so it must be thread-safe and return within a bounded time.
using readiness_check = std::function<readiness()>;

/// Outcome of server::start(): the bound port, or why binding failed.
struct [[nodiscard]] start_result {
  bool ok = false;
  uint16_t port = 0;     ///< the port actually bound (meaningful when ok)
  std::string error;     ///< one line (meaningful when !ok)
};

/// The inbound HTTP server: a thin owner of an httplib::Server with our defaults (TCP_NODELAY,
/// a sized worker pool, keep-alive and payload limits, JSON error bodies). It serves
/// GET /healthz and GET /readyz itself; other modules add their routes through routes() before
/// start(). Lifecycle: construct -> add routes -> start() -> stop() (also done by the destructor).
class server {
public:
  /// `check` decides GET /readyz. `log` receives handler failures (error) and one line per
  /// request (debug); it may be null.
  server(http_settings settings, readiness_check check, std::shared_ptr<spdlog::logger> log);
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The route table, for registering handlers before start(). Handlers run on worker threads;
  /// keep them short and reply with write_json / write_error (http/response.hpp).
  httplib::Server& routes() { return server_; }

  /// Binds settings.host:settings.port and serves in a background thread. Returns once the
  /// accept loop runs. Precondition: not started yet.
  start_result start();

  /// Stops accepting, lets handlers that are running finish, and joins the serving thread.
  /// Idempotent; safe to call when start() failed or was never called.
  void stop();

  /// The bound port (0 before a successful start()).
  uint16_t port() const { return port_; }

  /// True if the accept loop ended without stop() being called (e.g. the socket failed).
  bool failed() const;

private:
  void install_default_routes();
  void install_error_handlers();

  http_settings settings_;
  readiness_check readiness_;
  std::shared_ptr<spdlog::logger> log_;
  httplib::Server server_;
  std::atomic<int> listen_socket_{-1};  ///< the listening socket, recorded when httplib makes it
  std::thread thread_;
  uint16_t port_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool loop_started_ = false;  ///< the accept loop has begun (httplib's stop() works from then on)
  bool loop_ended_ = false;
  bool stopping_ = false;
};

}  // namespace webhookd::http
