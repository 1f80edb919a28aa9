#pragma once

#include "sink_state.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

struct evhttp_request;

namespace webhookd::sink {

/// Settings of one sink server.
struct server_settings {
  std::string host = "127.0.0.1";
  int port = 0;                   ///< 0 = any free port
  std::size_t threads = 2;        ///< event-loop threads; each serves any number of connections
  int timeout_s = 5;              ///< a connection idle (or a request stalled) this long is closed
  std::vector<std::string> keys;  ///< global HMAC keys (decoded secrets)
  std::size_t keep = 100000;      ///< recorded deliveries kept (counts are always exact)
  std::size_t max_body = 64 << 20;  ///< larger request bodies are answered 413
};

/// The HTTP side of `webhookd-sink`: deliveries on any path, control API under /_sink/.
/// Event loops (libevent's evhttp), not a thread per connection: the sink shares the benchmark's
/// cores with webhookd, so it must cost as little as possible per delivery. Held requests
/// (delay_ms, hangs, /_sink/wait) are timers, not sleeping threads.
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

  /// Answers every held request, closes every connection and makes serve_blocking() return.
  /// Safe from any thread, before, during or after serve_blocking(); idempotent.
  void stop();

  /// The recorded state (for in-process use and tests).
  sink_state& state() { return state_; }

 private:
  struct loop;
  struct held;
  class query_params;

  static void on_request(evhttp_request* req, void* loop_arg);
  static void on_wake(int, short, void* loop_arg);
  static void on_held_timeout(int, short, void* held_arg);

  void route(loop& where, evhttp_request* req);
  void on_delivery(loop& where, evhttp_request* req, std::string path);
  void on_config(loop& where, evhttp_request* req);
  void on_wait(loop& where, evhttp_request* req, const query_params& params);
  void on_deliveries(loop& where, evhttp_request* req, const query_params& params);
  /// Keeps a request unanswered for `after_ms` or until an earlier end (release, wait, stop).
  void hold(loop& where, std::unique_ptr<held> h, int after_ms);
  /// Answers a held request and forgets it.
  void finish(held& h);
  /// Asks every loop to look at its held requests (release, waiters, stop).
  void wake_all();

  const server_settings settings_;
  const std::chrono::steady_clock::time_point started_;
  sink_state state_;
  int listen_fd_ = -1;

  std::mutex loops_mutex_;  // guards creating and destroying loops_ against stop()
  std::vector<std::unique_ptr<loop>> loops_;

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> release_generation_{0};
  std::atomic<int> waiters_{0};  // requests held in /_sink/wait, all loops together
};

}  // namespace webhookd::sink
