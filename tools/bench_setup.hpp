#pragma once

// What the benchmark starts and talks to: webhookd-sink processes, a webhookd server on a store,
// the management API (event types, a source, webhooks) and the signed ingestion requests a real
// source sends. Process control (spawning, the "listening on" line, scratch PostgreSQL databases)
// is the end-to-end tests' harness, shared so both start the binaries the same way.

#include <httplib.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace webhookd::bench {

using e2e::milliseconds;

/// A running webhookd-sink (docs/sink.md), stopped with SIGTERM on destruction.
class sink {
 public:
  /// Starts `binary --listen HOST:0 ...extra_args` and waits for its address.
  sink(const std::string& binary, const std::string& host, std::vector<std::string> extra_args);
  ~sink();
  sink(const sink&) = delete;
  sink& operator=(const sink&) = delete;

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  /// "http://HOST:PORT" + path.
  std::string url(const std::string& path) const;

  /// POST /_sink/config; throws unless 200.
  void configure(const nlohmann::json& config);
  /// GET /_sink/stats (every path); throws on failure.
  nlohmann::json stats();
  /// Deliveries received so far, all paths.
  int64_t total();
  /// The seq of the newest recorded delivery (0 if none).
  int64_t last_seq();
  /// Recorded deliveries newer than `after_seq`, oldest first.
  nlohmann::json deliveries_after(int64_t after_seq);
  /// POST /_sink/release.
  void release();
  /// The sink's process id.
  pid_t pid() const { return process_->pid(); }

 private:
  httplib::Client client(int read_timeout_s = 60) const;
  nlohmann::json get_json(const std::string& target);

  std::unique_ptr<e2e::process> process_;
  std::string host_;
  uint16_t port_ = 0;
};

/// A source's credentials.
struct source_credentials {
  std::string api_key;
  std::string secret;
};

/// A webhook registered for the benchmark.
struct bench_webhook {
  std::string id;
  std::string path;  ///< the sink path it delivers to
  std::string secret;
};

/// A running webhookd plus management access to it as client `bench` and as an admin.
class server {
 public:
  /// Starts `webhookd serve --store STORE_URL --allow-http --allow-private-targets 127.0.0.0/8`
  /// (port 0), mints the two tokens with `webhookd token`.
  explicit server(const std::string& store_url, std::vector<std::string> extra_args = {});

  e2e::webhookd_server& process() { return *server_; }
  pid_t pid() { return server_->proc().pid(); }
  std::string base_url() const { return server_->base_url(); }
  const std::string& store_url() const { return store_url_; }
  /// Stops it with SIGTERM; throws if it does not end in time.
  void stop();

  /// POST with the admin token; throws unless the status is 201 (or 409 when `conflict_ok`).
  nlohmann::json admin_post(const std::string& path, const nlohmann::json& body,
                            bool conflict_ok = false);
  /// POST with the client token; throws unless 201.
  nlohmann::json client_post(const std::string& path, const nlohmann::json& body);

  /// Adds event types to the catalogue (existing ones are fine).
  void ensure_event_types(const std::vector<std::string>& names);
  /// Registers a source allowed to post `allowed`.
  source_credentials create_source(const std::vector<std::string>& allowed);
  /// Registers a webhook of client `bench` for `types` delivering to `callback_url`.
  bench_webhook create_webhook(const std::string& callback_url, const std::string& path,
                               const std::vector<std::string>& types);

  /// VmHWM and VmRSS of the server process in KiB (from /proc/PID/status); 0 when unreadable.
  std::pair<int64_t, int64_t> memory_kib();

 private:
  nlohmann::json post(const std::string& path, const nlohmann::json& body, const std::string& token,
                      bool conflict_ok);

  std::string store_url_;
  std::unique_ptr<e2e::webhookd_server> server_;
  std::string client_token_;
  std::string admin_token_;
};

/// CPU time (user + system) a process has used so far, in seconds (from /proc/PID/stat); 0 when
/// unreadable.
double process_cpu_seconds(pid_t pid);

/// The client id every benchmark webhook and event belongs to.
inline const std::string bench_client = "bench";

/// X-Source-* headers of an ingestion request signed now with `source`.
std::vector<std::string> source_headers(const source_credentials& source, const std::string& body);

/// Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature) for `body`.
std::vector<std::string> webhook_headers(const std::string& secret, const std::string& msg_id,
                                         const std::string& body);

/// A payload JSON object of exactly `bytes` bytes (at least 32) carrying `seq`.
std::string padded_payload(int64_t seq, std::size_t bytes);

/// One event as a source posts it.
std::string event_json(const std::string& event_id, const std::string& event_type,
                       const std::string& payload);

}  // namespace webhookd::bench
