#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/dlq.hpp"
#include "actors/endpoint_supervisor.hpp"
#include "actors/http_client.hpp"
#include "actors/loader.hpp"
#include "actors/manager.hpp"
#include "actors/store_writer.hpp"
#include "actors/tracker.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/ssrf_policy.hpp"
#include "storage/store.hpp"

/// Wiring of the delivery half of the engine (docs/engine.md): the HTTP client, store writer,
/// loader, DLQ actor and endpoint supervisor, started in that order and stopped in reverse.
namespace webhookd::app {

/// Settings of the delivery engine.
struct delivery_engine_settings {
  supervisor_settings supervisor;
  store_writer_settings writer;
  dlq_settings dlq;
  http_client_settings http;  ///< policy and user_agent are filled in by start_blocking
  std::size_t loader_workers = 2;
  std::size_t tracker_workers = 2;
  /// Receives the delivery metrics (attempts, latencies, endpoint gauges, the store writer's
  /// commits); null: not measured. Must outlive the engine.
  metrics::registry* metrics = nullptr;
};

class delivery_engine;

/// What delivery_engine::start_blocking gives: the running engine, or why it could not start.
struct delivery_engine_start {
  std::unique_ptr<delivery_engine> value;  ///< null on failure
  std::string error;                       ///< one line, when value is null
};

/// The running delivery engine.
class delivery_engine {
 public:
  /// Spawns the actors and subscribes the supervisor to `manager` (blocking until it holds the
  /// manager's webhook snapshot; without a manager it loads the webhooks from `store`). The
  /// pending deliveries of settings.supervisor.partitions
  /// are recovered once start_recovery() is called, so the server can listen first.
  /// `system`, `store` and `clock` must outlive this object.
  static delivery_engine_start start_blocking(caf::actor_system& system,
                                              storage::blocking_store& store,
                                              const clock_source& clock, manager_actor manager,
                                              const ssrf_policy& policy,
                                              std::shared_ptr<spdlog::logger> log,
                                              delivery_engine_settings settings = {});

  ~delivery_engine();
  delivery_engine(const delivery_engine&) = delete;
  delivery_engine& operator=(const delivery_engine&) = delete;

  /// Where committed deliveries go (`deliver_atom, jobs`), as ingest takes it.
  caf::actor supervisor_handle() const { return caf::actor_cast<caf::actor>(supervisor_); }
  const endpoint_supervisor_actor& supervisor() const { return supervisor_; }
  const dlq_actor& dlq() const { return dlq_; }
  const http_client_actor& http_client() const { return http_; }
  const store_writer_actor& store_writer() const { return writer_; }
  const loader_actor& loader() const { return loader_; }
  /// Answers the delivery tracking API; resends go to the supervisor.
  const tracker_actor& tracker() const { return tracker_; }

  /// Starts the recovery of the pending deliveries (in the background, retried while the store
  /// fails): each webhook with pending deliveries gets an endpoint actor, which reads its
  /// backlog a page at a time. Call once the server serves; later calls do nothing.
  void start_recovery();

  /// Graceful stop, part one: no new attempts start; waits until the attempts in flight are
  /// finished and recorded, at most the supervisor's drain timeout (plus a little). Call after
  /// the HTTP server and ingestion stopped. Returns false when the wait was cut short.
  bool drain_blocking();

  /// Part two: tells the tracker, the supervisor (and its endpoints), the DLQ actor, the HTTP
  /// client, the store writer (which writes what it still holds) and the loader to exit, in that
  /// order. Idempotent; also done by the destructor.
  void stop();

 private:
  delivery_engine(caf::actor_system& system, std::shared_ptr<spdlog::logger> log);

  caf::actor_system& system_;
  std::shared_ptr<spdlog::logger> log_;
  std::chrono::milliseconds drain_timeout_{10'000};
  std::vector<int> recovery_partitions_;  // emptied by start_recovery
  // Set when the drain starts: the loader answers the reads still queued at once (with an
  // error) instead of running them, so a large backlog can't hold up the stop.
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  http_client_actor http_;
  store_writer_actor writer_;
  loader_actor loader_;
  dlq_actor dlq_;
  endpoint_supervisor_actor supervisor_;
  tracker_actor tracker_;
};

}  // namespace webhookd::app
