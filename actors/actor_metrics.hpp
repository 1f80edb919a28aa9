#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "actors/messages.hpp"
#include "core/delivery_outcome.hpp"
#include "core/metrics.hpp"

/// The engine's metrics as the actors update them (docs/operations.md, "Metrics"): handles
/// registered once in a metrics::registry and shared by the actors, so no hot path looks a
/// metric up by name. Every actor takes them as optional (null: not measured).
namespace webhookd {

/// Which batched store writer a commit metric belongs to (label `writer`).
enum class commit_writer { ingest, attempts };

/// Commit latency, batch size and failures of one batched store writer.
struct commit_metrics {
  metrics::histogram* seconds = nullptr;
  metrics::histogram* batch_size = nullptr;
  metrics::counter* failures = nullptr;

  /// Registers (or finds) webhookd_store_commit_seconds, webhookd_store_commit_batch_size and
  /// webhookd_store_commit_failures_total for `writer`.
  static std::shared_ptr<const commit_metrics> create(metrics::registry& registry,
                                                      commit_writer writer);
};

/// The label of an attempt's result in webhookd_delivery_attempts_total{outcome}: "success"
/// (2xx), "redirect" (3xx), "gone" (410), "rate_limited" (429), "client_error" (other 4xx),
/// "server_error" (5xx), "timeout", "connection_error" (refused or reset), "tls_error",
/// "dns_error", "blocked" (SSRF check at delivery), "other_error" (anything else).
const char* attempt_outcome_label(const attempt_result& result);

/// What the endpoint actors measure, shared by all of them.
struct delivery_metrics {
  /// Number of attempt_outcome_label values.
  static constexpr std::size_t outcome_count = 12;

  std::array<metrics::counter*, outcome_count> attempts{};  ///< by attempt_outcome_label
  metrics::histogram* attempt_seconds = nullptr;
  metrics::histogram* e2e_seconds = nullptr;
  std::array<metrics::gauge*, 3> queued{};  ///< by priority_level
  metrics::gauge* in_flight = nullptr;
  metrics::gauge* endpoints = nullptr;
  metrics::gauge* circuits_open = nullptr;

  /// Registers (or finds) every delivery metric in `registry`, with every outcome and priority
  /// child created (so they are exposed at 0 from the start).
  static std::shared_ptr<const delivery_metrics> create(metrics::registry& registry);

  /// Counts one finished attempt: its outcome and duration.
  void count_attempt(const attempt_result& result, int64_t duration_ms) const;
};

/// One endpoint actor's share of the delivery gauges (queued by priority, in flight, circuits
/// open, endpoints alive). update() publishes the difference to what it published before; the
/// destructor takes the whole share back, so the gauges stay exact whichever way the actor
/// ends. A null `metrics` makes every call a no-op.
class endpoint_gauges {
 public:
  explicit endpoint_gauges(std::shared_ptr<const delivery_metrics> metrics);
  ~endpoint_gauges();
  endpoint_gauges(const endpoint_gauges&) = delete;
  endpoint_gauges& operator=(const endpoint_gauges&) = delete;

  /// The actor's current counts: `queued` jobs held and not running (all of its `priority`),
  /// `in_flight` attempts, whether its circuit is not closed.
  void update(priority_level priority, int64_t queued, int64_t in_flight, bool circuit_open);

 private:
  void publish(priority_level priority, int64_t queued, int64_t in_flight, int64_t open);

  std::shared_ptr<const delivery_metrics> metrics_;
  priority_level priority_ = priority_level::standard;
  int64_t queued_ = 0;
  int64_t in_flight_ = 0;
  int64_t open_ = 0;
};

}  // namespace webhookd
