#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/source_directory.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"

/// The router actor: the in-memory subscription index (client_id -> active webhooks by exact
/// event type, `prefix.*` pattern and `*`, each with its trigger filter compiled once) and the
/// source registry (api_key -> source). It turns accepted events into the delivery rows and jobs
/// the ingest actor commits, and is kept current by the manager's change notifications.
/// Event-based: it never touches the store; its sources are loaded by the caller, its webhooks
/// come from the manager's subscription snapshot.
namespace webhookd {

/// One event with its deliveries, as the router made them: one job per matching active webhook,
/// each with a new "msg_" id, partition_of(webhook_id), status pending, next_attempt_at = now,
/// the delivered body (core/delivery_body.hpp) and the webhook's priority.
struct routed_event {
  event ev;
  std::vector<delivery_job> jobs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, routed_event& x) {
  return f(caf::meta::type_name("routed_event"), x.ev, x.jobs);
}

/// What the router holds right now (for tests and introspection).
struct router_stats {
  int64_t webhooks = 0;  ///< active webhooks in the index
  int64_t clients = 0;   ///< clients with at least one active webhook
  int64_t sources = 0;   ///< sources in the registry
  int64_t routed_events = 0;
  int64_t routed_deliveries = 0;
  double events_per_second = 0;  ///< routed over the last rate_window (core/rate_window.hpp)
  double deliveries_per_second = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, router_stats& x) {
  return f(caf::meta::type_name("router_stats"), x.webhooks, x.clients, x.sources, x.routed_events,
           x.routed_deliveries, x.events_per_second, x.deliveries_per_second);
}

/// The router's protocol:
/// - `route_atom, events` -> one routed_event per event, in order. Paused and disabled webhooks
///   get no delivery; a webhook matches when one of its event-type patterns matches the event's
///   type and its trigger filter matches the delivered body's JSON. A webhook listed through
///   several matching patterns still gets one delivery.
/// - `source_atom, api_key` -> source_lookup.
/// - `changed_atom, webhook` -> ok_atom once the index holds the new version (a webhook that is
///   not active leaves the index); `removed_atom, client_id, webhook_id` -> ok_atom once it is
///   gone. These are the manager's subscriber notifications.
/// - `changed_atom, source` -> ok_atom once the registry holds it (under its current api key
///   only); `removed_atom, source_atom, source_id` -> ok_atom once it is gone.
/// - `subscribe_atom, manager` -> ok_atom after the router subscribed to `manager` (an untyped
///   handle to the manager actor) and replaced its index with the manager's webhook_snapshot (it
///   keeps only what routing needs, not the rows); an error when the manager did not answer.
/// - `state_atom` -> router_stats.
using router_actor = caf::typed_actor<
    caf::replies_to<route_atom, std::vector<event>>::with<std::vector<routed_event>>,
    caf::replies_to<source_atom, std::string>::with<source_lookup>,
    caf::replies_to<changed_atom, webhook>::with<caf::ok_atom>,
    caf::replies_to<removed_atom, std::string, std::string>::with<caf::ok_atom>,
    caf::replies_to<changed_atom, source>::with<caf::ok_atom>,
    caf::replies_to<removed_atom, source_atom, std::string>::with<caf::ok_atom>,
    caf::replies_to<subscribe_atom, caf::actor>::with<caf::ok_atom>,
    caf::replies_to<state_atom>::with<router_stats>>;

/// What the router starts with. `clock` must outlive the actor.
struct router_deps {
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  /// Initial index. The app leaves it empty: the router's subscription to the manager fills the
  /// index from the manager's snapshot (so the webhooks are read once at start, not per reader).
  std::vector<webhook> webhooks;
  std::vector<source> sources;  ///< initial registry (every source of the store)
  /// Where the router keeps the source registry, shared with whoever authenticates requests
  /// (the ingestion routes read it directly); the router creates its own when null.
  std::shared_ptr<source_directory> directory;
  uint64_t id_seed = 0;  ///< seed of the delivery id generator; 0 = random
  /// How long a `subscribe_atom` waits for the manager's snapshot.
  std::chrono::milliseconds subscribe_timeout{10'000};
};

/// Spawns the router (event-based). Precondition: deps.clock is set.
router_actor spawn_router(caf::actor_system& system, router_deps deps);

}  // namespace webhookd
