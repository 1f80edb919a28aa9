#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <caf/all.hpp>

#include "actors/http_client.hpp"
#include "actors/messages.hpp"
#include "core/circuit_breaker.hpp"
#include "core/delivery_outcome.hpp"
#include "core/model.hpp"
#include "core/retry_policy.hpp"
#include "core/token_bucket.hpp"

/// The state machine of one endpoint actor, free of CAF and of real time (docs/engine.md,
/// "Endpoint actors"): priority queues, token bucket, in-flight cap, retry timer heap, circuit
/// breaker, auto-disable streak and the "recording" set. The actor feeds it messages with the
/// current time and carries out what it answers; tests drive it in virtual time.
namespace webhookd {

/// Tuning of endpoint actors (one set for all of them).
struct endpoint_settings {
  /// Attempts running at once for a webhook (1 for `ordered` webhooks whatever this says).
  int max_in_flight = 16;
  /// Most jobs an endpoint holds in memory; the rest stay in the store until it drains.
  std::size_t max_queued = 10'000;
  /// Most rows one load reads from the store (a page of the backlog); the next load starts
  /// when the endpoint holds at most half a page. Keeps a large backlog in the store rather
  /// than in memory, and each read short.
  std::size_t load_batch = 256;
  /// When the circuit opens and for how long.
  circuit_breaker_settings breaker;
  /// How long a webhook may keep failing before it is disabled.
  auto_disable_settings auto_disable;
  /// Connection and whole-request limits of each attempt, in ms.
  int64_t connect_timeout_ms = 5000;
  int64_t total_timeout_ms = 10'000;
  /// An endpoint with nothing to do reports itself idle to its supervisor this often.
  std::chrono::milliseconds idle_timeout{30'000};
  /// Backoff of a failed load from the store: doubles from min to max.
  std::chrono::milliseconds min_load_backoff{500};
  std::chrono::milliseconds max_load_backoff{30'000};
  /// Deadline of one load request.
  std::chrono::milliseconds load_timeout{60'000};
};

/// A live view of one endpoint actor (console, /api/v1/actors).
struct endpoint_state {
  std::string webhook_id;
  std::string client_id;
  std::string callback_url;
  std::string status;        ///< the webhook's status as the endpoint applies it
  double tokens = 0;         ///< tokens in the bucket now
  double rate_limit = 0;     ///< tokens per second
  uint64_t queued_high = 0;  ///< jobs due now, per priority
  uint64_t queued_standard = 0;
  uint64_t queued_bulk = 0;
  uint64_t waiting = 0;       ///< jobs waiting for their retry time
  uint64_t in_flight = 0;     ///< attempts running
  uint64_t recording = 0;     ///< outcomes not yet confirmed by the store writer
  int64_t next_retry_at = 0;  ///< earliest retry time (unix ms), 0 = none
  std::string circuit;        ///< "closed", "open", "half_open"
  std::string last_error;     ///< of the latest failed attempt
  uint64_t succeeded = 0;     ///< since the actor started
  uint64_t failed = 0;        ///< parked in the DLQ since the actor started
  uint64_t retried = 0;       ///< attempts that were followed by a retry
  uint64_t received = 0;      ///< jobs received from the supervisor
  int32_t restarts = 0;       ///< times the supervisor restarted this webhook's actor
  bool ordered = false;
  bool draining = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, endpoint_state& x) {
  return f(caf::meta::type_name("endpoint_state"), x.webhook_id, x.client_id, x.callback_url,
           x.status, x.tokens, x.rate_limit, x.queued_high, x.queued_standard, x.queued_bulk,
           x.waiting, x.in_flight, x.recording, x.next_retry_at, x.circuit, x.last_error,
           x.succeeded, x.failed, x.retried, x.received, x.restarts, x.ordered, x.draining);
}

/// An attempt the core wants started now.
struct attempt_start {
  std::string delivery_id;
  int attempt_no = 1;
  int64_t started_at = 0;
};

/// What came back from one attempt.
struct attempt_report {
  attempt_result result;
  std::string body_excerpt;
  int64_t duration_ms = 0;
};

/// What to do after an attempt: record `outcome`; disable the webhook when asked.
struct attempt_verdict {
  attempt_outcome outcome;
  delivery_decision decision;
  bool disable_webhook = false;
  std::string disable_reason;
};

/// The priority level of a webhook's `priority` text (standard for anything unknown).
priority_level priority_of(const std::string& priority);

/// The attempt_result of an HTTP client response (error_kind mapped onto transport_error).
attempt_result attempt_result_from(const http_response& response);

/// The request of one attempt (design section 4): POST of the job's body to the callback URL
/// with content-type application/json, webhook-id = the delivery id, webhook-timestamp = now
/// in seconds, webhook-signature by the signing secret and, during a rotation's grace period
/// (now < previous_secret_expires_at), the previous one too; then the webhook's custom headers
/// (reserved names are skipped). The total timeout is the webhook's timeout_ms, else
/// settings.total_timeout_ms; the connect timeout is settings' but never above the total.
/// A webhook with a public key gets the body, or its
/// encrypt_fields, as JWE (core/jwe.hpp; the whole body is sent as application/jose), and the
/// signature covers the encrypted body. The error text when the request can't be made (bad
/// secret or key).
std::variant<http_request, std::string> make_attempt_request(const webhook& config,
                                                             const delivery_job& job,
                                                             int64_t now_ms,
                                                             const endpoint_settings& settings);

/// The endpoint's scheduling state. Not thread-safe; every call takes the current time.
class endpoint_core {
 public:
  /// What happened to an offered job.
  enum class offer_result {
    accepted,   ///< queued (due now) or waiting (due later)
    duplicate,  ///< already held (queued, waiting, in flight or recording)
    overflow,   ///< max_queued reached: left in the store, reloaded when the queue drains
    inactive,   ///< the webhook is paused or disabled: left in the store
  };

  /// A core for `config`; `seed` drives the retry jitter.
  endpoint_core(webhook config, endpoint_settings settings, int64_t now_ms, uint64_t seed);
  /// A core for a webhook shared with its owner (the supervisor keeps one copy per webhook for
  /// its actor and the actor's core, instead of one each). Never null.
  endpoint_core(std::shared_ptr<const webhook> config, endpoint_settings settings, int64_t now_ms,
                uint64_t seed);

  /// The webhook as the core applies it.
  const webhook& config() const { return *config_; }
  /// Takes a new version of the webhook: rate, retry policy, ordering, status, secrets. A paused
  /// or disabled webhook releases its waiting and queued jobs (they stay pending in the store);
  /// becoming active again reloads them.
  void reconfigure(webhook config, int64_t now_ms);
  /// Stops attempts at once (410 or auto-disable), before the manager's change arrives.
  void disable_locally(int64_t now_ms);
  /// The webhook is active and not disabled locally.
  bool active() const;
  /// The retry policy in use and why the webhook's own was refused (empty when it wasn't).
  const retry_policy& policy() const { return policy_; }
  const std::string& policy_error() const { return policy_error_; }

  /// Adds a job (from the supervisor or a load).
  offer_result offer(delivery_job job, int64_t now_ms);

  /// Whether a load from the store should start now: active, not draining, no load running,
  /// the store may hold more than memory, and at most half of load_limit() jobs are held.
  bool wants_load() const;
  /// How many rows the next load asks for: load_batch, at most max_queued.
  int32_t load_limit() const;
  /// Tells a fresh core that the store holds no pending delivery of its webhook that it will
  /// not be handed directly, so it starts without a load. Anything that may leave a delivery in
  /// the store later (overflow, pause, a retry released) sets the flag again.
  void assume_store_empty() { store_has_more_ = false; }
  /// Whether loads read in creation order (ordered webhooks) rather than oldest due first.
  bool load_in_creation_order() const { return config_->ordered; }
  /// A load was sent.
  void load_started();
  /// A load answered (`ok`) or failed. Rows whose outcome was confirmed while the load ran are
  /// skipped (the load may have read them before the write), as are rows already held.
  void load_finished(std::vector<delivery_job> jobs, bool ok, int64_t now_ms);
  /// A load is running.
  bool loading() const { return loading_; }

  /// The attempts to start now, in order: due jobs by priority (high, standard, bulk; strict
  /// creation order for ordered webhooks), each taking a token and passing the circuit breaker,
  /// while fewer than the in-flight cap run. They are in flight until on_attempt_finished.
  std::vector<attempt_start> start_due(int64_t now_ms);
  /// The job of a delivery the core holds, or nullptr.
  const delivery_job* job(const std::string& delivery_id) const;

  /// Classifies the result of an in-flight attempt (core/delivery_outcome.hpp), updates the
  /// breaker and the failing streak, and moves the job to "recording". The retry policy counts
  /// the attempts since the row's series_start (a resend or replay restarts max_attempts and the
  /// schedule); the attempt's attempt_no is the delivery's own count, which keeps growing.
  attempt_verdict on_attempt_finished(const std::string& delivery_id, const attempt_report& report,
                                      int64_t now_ms);
  /// The store writer confirmed (`ok`) or refused the outcome of a recording job: a retry goes
  /// back to waiting for its time, anything else is dropped.
  void on_recorded(const std::string& delivery_id, bool ok, int64_t now_ms);

  /// When start_due should run next (retry due, token available, circuit probe time); nullopt
  /// when only a message (result, new job, confirmation) can make progress.
  std::optional<int64_t> next_wake(int64_t now_ms) const;

  /// Nothing held, no load running and nothing more to load.
  bool idle() const;
  /// Starts no more attempts or loads from now on.
  void set_draining() { draining_ = true; }
  bool draining() const { return draining_; }
  /// No attempt in flight and no outcome waiting for the store writer.
  bool drained() const { return in_flight_ == 0 && recording_ == 0; }

  /// Counts for the state snapshot (received and restarts are the actor's to fill).
  endpoint_state snapshot(int64_t now_ms) const;

  /// Attempts in flight, outcomes recording, jobs held.
  int in_flight() const { return in_flight_; }
  int recording() const { return recording_; }
  std::size_t held() const { return jobs_.size(); }
  /// The circuit breaker's state as of the last start_due or outcome.
  circuit_state circuit() const { return breaker_.state(); }

 private:
  enum class phase { ready, waiting, in_flight, recording };

  struct entry {
    delivery_job job;
    phase ph = phase::ready;
    int64_t due = 0;
    uint64_t seq = 0;        // identifies the entry's current place in a queue or the heap
    int64_t started_at = 0;  // of the attempt in flight
    bool requeue = false;    // recording a retry: back to waiting once confirmed
    int64_t retry_at = 0;
  };

  struct timer_item {
    int64_t due;
    uint64_t seq;
    std::string id;
    bool operator>(const timer_item& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };

  using fifo_key = std::pair<int64_t, std::string>;  // (created_at, id)

  // A FIFO of (seq, id) on a vector: unlike std::deque, which allocates a 512-byte block and
  // its map even when empty, an empty one holds no memory (three per endpoint actor).
  class ready_queue {
   public:
    using item = std::pair<uint64_t, std::string>;
    bool empty() const { return head_ == items_.size(); }
    const item& front() const { return items_[head_]; }
    void emplace_back(uint64_t seq, const std::string& id) { items_.emplace_back(seq, id); }
    void pop_front();
    void clear();
    std::vector<item>::const_iterator begin() const { return items_.begin() + head_; }
    std::vector<item>::const_iterator end() const { return items_.end(); }
    std::size_t size() const { return items_.size() - head_; }

   private:
    std::vector<item> items_;
    std::size_t head_ = 0;
  };

  void apply_config(int64_t now_ms);
  void enqueue(entry& e, int64_t now_ms);
  void promote_due(int64_t now_ms);
  entry* ready_candidate();
  void pop_candidate(entry& e);
  void erase(const std::string& id);
  void release_waiting();
  void rebuild_queues(int64_t now_ms);
  int cap() const;
  std::mt19937_64& rng();

  std::shared_ptr<const webhook> config_;
  endpoint_settings settings_;
  retry_policy policy_;
  std::string policy_error_;
  token_bucket bucket_;
  circuit_breaker breaker_;
  failure_streak streak_;
  // The jitter generator (2.5 KiB) is made at the first classified attempt, from seed_: the same
  // sequence as one made up front, without the memory for endpoints that never attempt.
  uint64_t seed_;
  std::unique_ptr<std::mt19937_64> rng_;

  std::unordered_map<std::string, entry> jobs_;
  ready_queue ready_[3];            // (seq, id) per priority
  std::vector<timer_item> timers_;  // min-heap by (due, seq)
  std::set<fifo_key> fifo_;         // ordered webhooks: every unfinished job, by creation
  uint64_t next_seq_ = 0;
  int in_flight_ = 0;
  int recording_ = 0;

  bool locally_disabled_ = false;
  bool disable_requested_ = false;
  bool draining_ = false;
  bool store_has_more_ = true;  // a fresh endpoint loads what the store holds
  bool loading_ = false;
  int32_t last_load_limit_ = 0;
  std::unordered_set<std::string> confirmed_during_load_;

  std::string last_error_;
  uint64_t succeeded_ = 0;
  uint64_t failed_ = 0;
  uint64_t retried_ = 0;
};

}  // namespace webhookd
