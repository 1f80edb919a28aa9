#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/alerts.hpp"
#include "actors/manager.hpp"
#include "actors/monitor.hpp"
#include "core/clock.hpp"
#include "http/server.hpp"
#include "storage/store.hpp"

/// Wiring of health and alerts (docs/operations.md, "Health" and "Alerts"): the alert event
/// types in the catalogue, the alerts actor observing the DLQ, the endpoint supervisor and the
/// monitor, and the monitor watching every long-lived actor and the store for GET /readyz.
namespace webhookd::app {

/// Settings of health checks and alerts.
struct health_settings {
  monitor_settings monitor;
  alerts_settings alerts;
  std::chrono::milliseconds readiness_timeout{3'000};  ///< GET /readyz's wait for the monitor
};

/// The actors to watch and observe, all started before health.
struct health_targets {
  std::vector<watched_actor> watched;    ///< every long-lived actor, by name
  ingest_actor ingest;                   ///< where alert events go
  dlq_actor dlq;                         ///< observed for the DLQ threshold
  endpoint_supervisor_actor supervisor;  ///< observed for crash loops
  manager_actor manager;                 ///< registers the alert event types
};

class health;

/// What health::start_blocking gives: the running health service, or why it could not start.
struct health_start {
  std::unique_ptr<health> value;  ///< null on failure
  std::string error;              ///< one line, when value is null
};

/// The running monitor and alerts actors.
class health {
 public:
  /// Adds the alert event types missing from the catalogue (through `targets.manager`,
  /// blocking), spawns the alerts actor, subscribes it to the DLQ actor and the supervisor, and
  /// spawns the monitor watching `targets.watched` and `store`. `system`, `store` and `clock`
  /// must outlive this object.
  static health_start start_blocking(caf::actor_system& system, storage::blocking_store& store,
                                     const clock_source& clock, health_targets targets,
                                     std::string node_id, std::shared_ptr<spdlog::logger> log,
                                     health_settings settings = {});

  ~health();
  health(const health&) = delete;
  health& operator=(const health&) = delete;

  /// GET /readyz's answer from the monitor's latest checks (thread-safe; waits at most the
  /// readiness timeout for the monitor, and a monitor that does not answer is not ready).
  http::readiness readiness();

  const monitor_actor& monitor() const { return monitor_; }
  const alerts_actor& alerts() const { return alerts_; }

  /// Tells the monitor and the alerts actor to exit. Idempotent; also done by the destructor.
  void stop();

 private:
  health(caf::actor_system& system, std::chrono::milliseconds readiness_timeout);

  caf::actor_system& system_;
  std::chrono::milliseconds readiness_timeout_;
  alerts_actor alerts_;
  monitor_actor monitor_;
};

/// The readiness /readyz reports for `report`: the store's error first, then every actor that
/// does not answer with its reason.
http::readiness readiness_of(const health_report& report);

}  // namespace webhookd::app
