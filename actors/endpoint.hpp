#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "actors/dlq.hpp"
#include "actors/endpoint_core.hpp"
#include "actors/http_client.hpp"
#include "actors/loader.hpp"
#include "actors/manager.hpp"
#include "actors/messages.hpp"
#include "actors/store_writer.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"

/// The endpoint actor: one per webhook with work (docs/engine.md, "Endpoint actors"). It runs an
/// endpoint_core: serves its priority queues under the webhook's token bucket, in-flight cap and
/// circuit breaker, signs and sends each attempt through the HTTP client, records every outcome
/// through the store writer (keeping the delivery in memory until the write is confirmed),
/// parks DLQ entries with the DLQ actor and asks the manager to disable a webhook that answers
/// 410 or keeps failing.
namespace webhookd {

/// The endpoint's protocol:
/// - `deliver_atom, jobs`: new work from the supervisor; counted for the idle handshake.
/// - `changed_atom, webhook`: a new version of the webhook (rate, policy, status, secrets...).
/// - `drain_atom` -> ok_atom once no attempt is in flight and every outcome is recorded; no new
///   attempt or load starts after it (graceful shutdown).
/// - `state_atom` -> endpoint_state.
/// - `wake_atom, gen`, `idle_atom, gen`, `load_atom, gen`: its own timers.
/// It tells its supervisor `idle_atom, webhook_id, jobs_received` while it has nothing to do
/// (every settings.idle_timeout); the supervisor stops it only if that count equals what it sent.
using endpoint_actor = caf::typed_actor<
    caf::reacts_to<deliver_atom, std::vector<delivery_job>>, caf::reacts_to<changed_atom, webhook>,
    caf::replies_to<drain_atom>::with<caf::ok_atom>,
    caf::replies_to<state_atom>::with<endpoint_state>, caf::reacts_to<wake_atom, uint64_t>,
    caf::reacts_to<idle_atom, uint64_t>, caf::reacts_to<load_atom, uint64_t>>;

/// Whom an endpoint reports its idleness to (the endpoint supervisor implements this and more).
using endpoint_owner_actor = caf::typed_actor<caf::reacts_to<idle_atom, std::string, uint64_t>>;

/// What an endpoint actor works with. `clock` must outlive the actor.
struct endpoint_deps {
  /// The webhook the actor starts with, shared with its owner (the supervisor's copy: no second
  /// copy per actor). Never null.
  std::shared_ptr<const webhook> config;
  endpoint_settings settings;
  http_client_actor http;
  store_writer_actor writer;
  /// The writer's outstanding outcomes: no new attempt starts while it is full. May be null.
  std::shared_ptr<record_backlog> backlog;
  loader_actor loader;
  dlq_actor dlq;          ///< may be invalid (tests)
  manager_actor manager;  ///< may be invalid: a disable then only stops this actor's attempts
  endpoint_owner_actor supervisor;  ///< receives the idle reports; may be invalid
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  int32_t restarts = 0;                 ///< how often this webhook's actor was restarted before
  uint64_t seed = 0;                    ///< retry jitter
  std::shared_ptr<const delivery_metrics> metrics;  ///< may be null (not measured)
  /// False when the owner knows the store holds no pending delivery of the webhook beyond the
  /// jobs it hands in (endpoint_core::assume_store_empty): the actor then skips its first load.
  bool load_at_start = true;
};

/// Spawns an endpoint actor. Unless deps.load_at_start is false it loads the webhook's pending
/// deliveries from the store at once (so a restarted actor resumes where its predecessor
/// stopped).
endpoint_actor spawn_endpoint(caf::actor_system& system, endpoint_deps deps);

}  // namespace webhookd
