#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/dlq.hpp"
#include "actors/endpoint_supervisor.hpp"
#include "actors/http_client.hpp"
#include "actors/ingest.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"
#include "actors/store_writer.hpp"
#include "core/clock.hpp"

/// The introspector: answers the live actor tree behind GET /api/v1/actors and the console
/// (docs/operations.md, "The console"). On each request it asks every long-lived actor for its
/// state at once, each with a deadline, and answers when all answered or timed out; an actor
/// that did not answer is marked so (with the reason) instead of holding the answer back.
namespace webhookd {

/// How one actor answered: `answered` false means `error` says why (e.g. request_timeout).
struct probe_status {
  bool answered = false;
  std::string error;
  int64_t latency_ms = 0;  ///< time to the answer (or to the failure)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, probe_status& x) {
  return f(caf::meta::type_name("probe_status"), x.answered, x.error, x.latency_ms);
}

/// The actor tree at one moment. A part whose probe did not answer holds default values.
struct actor_tree {
  int64_t taken_at = 0;  ///< unix ms (injected clock) when the probes went out
  probe_status ingest_probe;
  ingest_stats ingest;
  probe_status router_probe;
  router_stats router;
  probe_status supervisor_probe;
  supervisor_state supervisor;
  probe_status dlq_probe;
  std::vector<dlq_counter> dlq;
  probe_status writer_probe;
  store_writer_stats writer;
  probe_status http_probe;
  http_client_stats http;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_tree& x) {
  return f(caf::meta::type_name("actor_tree"), x.taken_at, x.ingest_probe, x.ingest, x.router_probe,
           x.router, x.supervisor_probe, x.supervisor, x.dlq_probe, x.dlq, x.writer_probe, x.writer,
           x.http_probe, x.http);
}

/// The introspector's protocol: `state_atom` -> actor_tree, answered within about
/// introspector_deps::probe_timeout (plus the supervisor's own wait for its endpoints, which it
/// is given room for).
using introspector_actor = caf::typed_actor<caf::replies_to<state_atom>::with<actor_tree>>;

/// The actors to probe; any handle may be invalid (shown as not answering: "not running").
struct introspector_deps {
  ingest_actor ingest;
  router_actor router;
  endpoint_supervisor_actor supervisor;
  dlq_actor dlq;
  store_writer_actor writer;
  http_client_actor http;
  const clock_source* clock = nullptr;  ///< stamps taken_at and latencies; must outlive the actor
  /// Deadline of each probe. The supervisor's probe gets twice as long: it asks every endpoint
  /// in turn (supervisor_settings::state_timeout).
  std::chrono::milliseconds probe_timeout{1'000};
};

/// Spawns the introspector (event-based, holds no state between requests).
/// Precondition: deps.clock is set.
introspector_actor spawn_introspector(caf::actor_system& system, introspector_deps deps);

}  // namespace webhookd
