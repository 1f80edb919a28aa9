#pragma once

// Helpers of the delivery-engine end-to-end tests (tests/e2e/engine_*_test.cpp): a real
// webhookd-sink receiver process, management tokens minted independently of webhookd's code,
// management API calls (event types, sources, webhooks), signed ingestion requests, a handle on
// the server's store for checks, and condition polling with deadlines.
//
// Set-up failures throw std::runtime_error with everything needed to debug (the answer's status
// and body, the child's output); Catch2 reports them.

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.hpp"
#include "tests/e2e/harness.hpp"

namespace webhookd::e2e {

// --- waiting ----------------------------------------------------------------------------------

/// Calls `condition` every few milliseconds until it returns true or `timeout` passes; returns
/// whether it held. The deadline is the only clock: nothing sleeps in place of a condition.
bool wait_until(const std::function<bool()>& condition, milliseconds timeout);

/// Milliseconds on the monotonic clock (for measuring how long something took).
int64_t steady_now_ms();

/// Unix time in seconds.
int64_t unix_now_s();

// --- the sink ---------------------------------------------------------------------------------

/// The webhookd-sink binary (the build's target file).
const std::string& sink_binary();

/// A running webhookd-sink on 127.0.0.1 and a free port (docs/sink.md). Stopped with SIGTERM on
/// destruction.
class sink_process {
 public:
  /// Starts the sink with `--listen 127.0.0.1:0` plus `extra_args` and waits for its
  /// "listening on" line; throws std::runtime_error if it does not come.
  explicit sink_process(std::vector<std::string> extra_args = {});
  ~sink_process();
  sink_process(const sink_process&) = delete;
  sink_process& operator=(const sink_process&) = delete;

  uint16_t port() const { return port_; }
  /// "http://127.0.0.1:PORT".
  std::string base_url() const;
  /// base_url() + path, e.g. url("/hooks/a").
  std::string url(const std::string& path) const;

  /// POST /_sink/config with one config object or an array of them; throws unless 200.
  void configure(const nlohmann::json& config);
  /// GET /_sink/stats?path=PATH: that path's stats object (zeros if never seen).
  nlohmann::json stats(const std::string& path);
  /// Deliveries received so far on `path` (0 if none).
  int count(const std::string& path);
  /// GET /_sink/deliveries?path=PATH: the recorded deliveries of `path`, oldest first.
  nlohmann::json deliveries(const std::string& path);
  /// GET /_sink/wait: true once `path` has received `count` deliveries, false at `timeout`.
  bool wait_for(const std::string& path, int count, milliseconds timeout);
  /// POST /_sink/release: lets every hanging request go.
  void release();

  process& proc() { return *process_; }

 private:
  httplib::Client client(milliseconds read_timeout = milliseconds{30'000}) const;
  nlohmann::json get_json(const std::string& target, milliseconds read_timeout);

  std::unique_ptr<process> process_;
  uint16_t port_ = 0;
};

// --- management tokens ------------------------------------------------------------------------

/// An HS256 JWT for `client_id` (claims sub, iat, exp = now + 1 h, and `scope` when not empty),
/// made with OpenSSL directly, not with webhookd's minting code.
std::string mint_token(const std::string& jwt_secret, const std::string& client_id,
                       const std::string& scope = "");

// --- HTTP answers -----------------------------------------------------------------------------

/// One HTTP exchange as a test sees it.
struct http_answer {
  int status = 0;         ///< 0 when no answer came (connection refused, timeout)
  std::string transport;  ///< httplib's error when status is 0
  std::string body;
  nlohmann::json json;      ///< the parsed body, null when it isn't JSON
  std::string retry_after;  ///< the Retry-After header, empty when absent
  std::string request;      ///< "POST /api/v1/webhooks", for messages

  /// "POST /api/v1/webhooks -> 422 {...}", for failure messages.
  std::string describe() const;
};

// --- management API ---------------------------------------------------------------------------

/// What POST /api/v1/sources returned.
struct source_credentials {
  std::string id;
  std::string api_key;
  std::string secret;
};

/// What POST /api/v1/webhooks returned.
struct created_webhook {
  std::string id;
  std::string signing_secret;
  nlohmann::json body;  ///< the whole 201 answer
};

/// A retry policy for fast tests: `max_attempts` attempts, the first at once, then 200 ms apart,
/// no jitter.
nlohmann::json fast_retry_policy(int max_attempts = 3);

/// Talks to the management API of one server as one client (a token with sub = client_id) and
/// as an admin (scope "admin") for the catalogue and sources.
class api_client {
 public:
  api_client(std::string host, uint16_t port, std::string jwt_secret, std::string client_id);
  api_client(const webhookd_server& server, std::string client_id);

  const std::string& client_id() const { return client_id_; }

  http_answer get(const std::string& path);
  http_answer post(const std::string& path, const nlohmann::json& body);
  http_answer patch(const std::string& path, const nlohmann::json& body);
  http_answer admin_post(const std::string& path, const nlohmann::json& body);

  /// Adds each event type to the catalogue (an existing one is fine); throws otherwise.
  void ensure_event_types(const std::vector<std::string>& names);
  /// Registers a source allowed to post `allowed_event_types`; throws unless 201.
  source_credentials create_source(const std::string& name,
                                   const std::vector<std::string>& allowed_event_types);
  /// POST /api/v1/webhooks with `body`; throws unless 201.
  created_webhook create_webhook(const nlohmann::json& body);
  /// GET /api/v1/webhooks/{id}; throws unless 200.
  nlohmann::json get_webhook(const std::string& id);

 private:
  http_answer send(const std::string& method, const std::string& path, const nlohmann::json* body,
                   const std::string& token);

  std::string host_;
  uint16_t port_ = 0;
  std::string client_id_;
  std::string client_token_;
  std::string admin_token_;
};

// --- ingestion --------------------------------------------------------------------------------

/// "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body), computed here with OpenSSL.
std::string source_signature(const std::string& secret, const std::string& timestamp,
                             const std::string& body);

/// An event as a source posts it: {event_id, client_id, event_type, timestamp (now), payload}.
nlohmann::json make_event(const std::string& client_id, const std::string& event_id,
                          const std::string& event_type,
                          const nlohmann::json& payload = nlohmann::json::object());

/// Posts events for one source. Each poster owns one keep-alive connection: use one per thread.
class event_poster {
 public:
  event_poster(std::string host, uint16_t port, source_credentials source);
  explicit event_poster(const webhookd_server& server, source_credentials source);

  /// POST /api/v1/events, correctly signed now.
  http_answer post_event(const nlohmann::json& event);
  /// POST /api/v1/events/batch with an array, correctly signed now.
  http_answer post_batch(const nlohmann::json& events);
  /// POST `path` with exactly these ingestion headers (for the authentication tests).
  http_answer post_raw(const std::string& path, const std::string& body, const std::string& api_key,
                       const std::string& timestamp, const std::string& signature);

  /// post_event, requiring 202; throws otherwise.
  void accept_event(const nlohmann::json& event);

 private:
  http_answer post_signed(const std::string& path, const std::string& body);

  source_credentials source_;
  std::unique_ptr<httplib::Client> client_;
};

// --- store ------------------------------------------------------------------------------------

/// Opens the server's store (`sqlite:PATH` or a PostgreSQL URL) from the test process, for checks
/// of what was stored; throws if it can't be opened.
std::unique_ptr<storage::blocking_store> open_test_store(const std::string& url);

/// The delivery of `event_id` to `webhook_id`, polled until its status is no longer pending
/// (succeeded, failed or cancelled); nullopt at `timeout` (or if there is no such delivery).
std::optional<storage::delivery> wait_delivery_settled(storage::blocking_store& store,
                                                       const std::string& client_id,
                                                       const std::string& event_id,
                                                       const std::string& webhook_id,
                                                       milliseconds timeout);

/// The deliveries of one event (none for an unknown event); throws if the store fails.
std::vector<storage::delivery> event_deliveries(storage::blocking_store& store,
                                                const std::string& client_id,
                                                const std::string& event_id);

/// Every unreplayed DLQ entry of one webhook; throws if the store refuses.
std::vector<storage::dlq_entry> dlq_entries(storage::blocking_store& store,
                                            const std::string& client_id,
                                            const std::string& webhook_id);

/// The attempts of one delivery, in order; throws if the store refuses.
std::vector<storage::attempt> delivery_attempts(storage::blocking_store& store,
                                                const std::string& client_id,
                                                const std::string& delivery_id);

// --- a whole test setting ---------------------------------------------------------------------

/// What an engine_world starts.
struct world_options {
  /// Store URL; empty = a fresh SQLite file in the world's temp dir.
  std::string store_url;
  /// Arguments after `serve` besides the store, listen address and target policy.
  std::vector<std::string> extra_args;
  /// The client whose webhooks the test registers.
  std::string client_id = "acme";
  /// Event types put in the catalogue; the world's source may post all of them.
  std::vector<std::string> event_types{"invoice.paid", "invoice.created", "order.shipped",
                                       "sentinel.ping"};
  /// Arguments of the sink.
  std::vector<std::string> sink_args;
};

/// One test's setting: a temp dir, a store, a running webhookd (`--allow-http`,
/// `--allow-private-targets 127.0.0.0/8`, port 0), a sink, an API client, the catalogue and a
/// source allowed to post every catalogue type.
class engine_world {
 public:
  explicit engine_world(world_options options = {});
  ~engine_world();

  temp_dir& dir() { return dir_; }
  const std::string& store_url() const { return store_url_; }
  const std::string& jwt_secret() const { return jwt_secret_; }
  webhookd_server& server() { return *server_; }
  sink_process& sink() { return *sink_; }
  api_client& api() { return *api_; }
  const source_credentials& source() const { return source_; }
  const std::string& client_id() const { return options_.client_id; }

  /// A poster for the world's source (one per thread).
  event_poster poster();
  /// The store, opened from the test process on first use.
  storage::blocking_store& store();

  /// Registers a webhook for this client delivering to the sink's `path`, with the sink set to
  /// verify its signature there. `extra` adds fields (retry_policy, rate_limit, ...); `sink_config`
  /// adds keys to the sink's config of `path` (responses, then, hang, ...).
  created_webhook add_webhook(const std::string& path, const std::vector<std::string>& types,
                              const nlohmann::json& extra = nlohmann::json::object(),
                              const nlohmann::json& sink_config = nlohmann::json::object());

  /// Starts webhookd again on the same store with the same JWT secret (after the old process
  /// ended or was killed); api() keeps working.
  void restart_server();
  /// Sends SIGKILL to webhookd and reaps it.
  void kill_server();
  /// Stops webhookd with SIGTERM and returns how it ended; throws if it doesn't end in time.
  exit_status stop_server();

  /// The server's output, for INFO().
  std::string describe_server();

  /// Called when an assertion fails while this world is alive: the destructor then prints the
  /// server's output (also printed when the world is destroyed by an exception).
  void mark_failed() { failed_ = true; }

 private:
  void start_server();

  world_options options_;
  temp_dir dir_;
  std::string store_url_;
  std::string jwt_secret_;
  std::unique_ptr<sink_process> sink_;
  std::unique_ptr<webhookd_server> server_;
  std::unique_ptr<api_client> api_;
  source_credentials source_;
  std::unique_ptr<storage::blocking_store> store_;
  std::string previous_runs_;  // output of servers replaced by restart_server()
  bool failed_ = false;
  int uncaught_at_start_ = 0;
  engine_world* previous_ = nullptr;
};

}  // namespace webhookd::e2e
