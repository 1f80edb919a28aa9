#pragma once

#include "sink_state.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace webhookd::sink {

/// Settings of one sink server.
struct server_settings {
  std::string host = "127.0.0.1";
  int port = 0;                          ///< 0 = any free port
  std::size_t threads = 256;             ///< worker threads = concurrent connections served
  std::size_t keep_alive_max = 1000000;  ///< requests per keep-alive connection
  int keep_alive_timeout_s = 5;          ///< idle keep-alive connection lifetime
  int read_timeout_s = 5;                ///< per read of a request
  std::vector<std::string> keys;         ///< global HMAC keys (decoded secrets)
  std::size_t keep = 100000;             ///< recorded deliveries kept (counts are always exact)
};

/// The HTTP side of `webhookd-sink`: deliveries on any path, control API under /_sink/.
class sink_server {
 public:
  explicit sink_server(server_settings settings);
  ~sink_server();
  sink_server(const sink_server&) = delete;
  sink_server& operator=(const sink_server&) = delete;

  /// Binds the listening socket; returns the bound port or an error message.
  std::variant<int, std::string> bind();

  /// Serves until stop(); call after a successful bind(). False if serving failed.
  bool serve_blocking();

  /// Releases every waiting request and makes serve_blocking() return. Safe from any thread,
  /// before, during or after serve_blocking(); idempotent.
  void stop();

  /// The recorded state (for in-process use and tests).
  sink_state& state() { return state_; }

 private:
  void on_delivery(const httplib::Request& req, httplib::Response& res);
  void on_config(const httplib::Request& req, httplib::Response& res);
  void on_wait(const httplib::Request& req, httplib::Response& res);
  void on_deliveries(const httplib::Request& req, httplib::Response& res);
  /// Waits until `deadline`, the sink stopping or (when `releasable`) a release/reset.
  void hold_until(std::chrono::steady_clock::time_point deadline, bool releasable);
  void release_all();

  const server_settings settings_;
  const std::chrono::steady_clock::time_point started_;
  sink_state state_;
  std::unique_ptr<httplib::Server> server_;
  int listen_fd_ = -1;

  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool stopping_ = false;                 // under wake_mutex_
  std::uint64_t release_generation_ = 0;  // under wake_mutex_
  std::atomic<int> waiters_{0};           // requests in /_sink/wait

  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> serving_{false};
  std::atomic<bool> httplib_stopped_{false};
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;  // under done_mutex_
};

}  // namespace webhookd::sink
