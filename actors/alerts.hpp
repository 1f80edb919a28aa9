#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/dlq.hpp"
#include "actors/endpoint_supervisor.hpp"
#include "actors/ingest.hpp"
#include "actors/messages.hpp"
#include "actors/monitor.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"

/// The alerts actor (docs/operations.md, "Alerts"): watches the DLQ (a webhook's new entries in a
/// window reach a threshold), the endpoint supervisor (one webhook's actor restarted N times in a
/// window) and the monitor (the store became unreachable). Each alert is logged (warn; error for
/// the store) and, when an alert client is configured, submitted to the ingest actor as an event
/// of that client, so every webhook of the client subscribed to `webhookd.alert.*` receives it
/// like any other event: signed, retried, tracked. An alert fires at most once per kind, subject
/// and window: its event id is `<kind>:<subject>:<window start>` (windows are aligned on the
/// unix epoch), so the store's (client_id, event_id) deduplication also holds across restarts
/// and nodes. Alerts that ingest refuses (the store is down) wait in an outbox and are submitted
/// again until accepted.
namespace webhookd {

/// Event types of the alerts, in the catalogue from the start.
inline const char* const alert_dlq_threshold_type = "webhookd.alert.dlq_threshold";
inline const char* const alert_crash_loop_type = "webhookd.alert.actor_crash_loop";
inline const char* const alert_store_unreachable_type = "webhookd.alert.store_unreachable";

/// The three alert event types.
std::vector<std::string> alert_event_types();

/// Internal: submit the outbox again.
using alert_retry_atom = caf::atom_constant<caf::atom("alretry")>;

/// Counters of the alerts actor.
struct alerts_stats {
  uint64_t fired = 0;       ///< alerts raised (logged), all kinds
  uint64_t submitted = 0;   ///< alert events accepted by ingest (new or duplicate)
  uint64_t duplicates = 0;  ///< of those, events the store already had (another node, a restart)
  uint64_t pending = 0;     ///< alert events waiting in the outbox
  uint64_t dropped = 0;     ///< alert events dropped because the outbox was full
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alerts_stats& x) {
  return f(caf::meta::type_name("alerts_stats"), x.fired, x.submitted, x.duplicates, x.pending,
           x.dropped);
}

/// The alerts actor's protocol:
/// - `parked_atom, dlq_counter`: a webhook's DLQ counters after a new entry (from the DLQ actor).
/// - `restarted_atom, endpoint_restart`: an endpoint actor was restarted (from the supervisor).
/// - `store_status_atom, store_health`: the store's reachability changed (from the monitor).
/// - `state_atom` -> alerts_stats.
/// - `alert_retry_atom`: internal timer.
using alerts_actor = caf::typed_actor<
    caf::reacts_to<parked_atom, dlq_counter>, caf::reacts_to<restarted_atom, endpoint_restart>,
    caf::reacts_to<store_status_atom, store_health>,
    caf::replies_to<state_atom>::with<alerts_stats>, caf::reacts_to<alert_retry_atom>>;

/// What raises an alert, and where it goes.
struct alerts_settings {
  /// The client whose event the alerts become; empty: alerts are only logged.
  std::string client_id;
  /// A webhook's DLQ entries within `window` that raise webhookd.alert.dlq_threshold.
  uint64_t dlq_threshold = 10;
  /// Restarts of one webhook's endpoint actor within `window` that raise
  /// webhookd.alert.actor_crash_loop.
  uint64_t crash_restarts = 5;
  /// The window of both counts, and of the once-per-window deduplication.
  std::chrono::milliseconds window{std::chrono::hours(1)};
  /// How often refused alert events are submitted again.
  std::chrono::milliseconds retry_interval{2'000};
  /// Deadline of one submission to ingest.
  std::chrono::milliseconds submit_timeout{10'000};
  /// Most alert events held for resubmission; older ones are dropped (and logged) beyond it.
  std::size_t max_pending = 1'000;
};

/// What the alerts actor works with. `clock` must outlive the actor.
struct alerts_deps {
  ingest_actor ingest;  ///< where alert events go; may be invalid (log only)
  std::string node_id;  ///< named in every alert
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  alerts_settings settings;
};

/// Spawns the alerts actor (event-based). Precondition: deps.clock is set.
alerts_actor spawn_alerts(caf::actor_system& system, alerts_deps deps);

}  // namespace webhookd
