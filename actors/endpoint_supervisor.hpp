#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "actors/dlq.hpp"
#include "actors/endpoint.hpp"
#include "actors/endpoint_core.hpp"
#include "actors/http_client.hpp"
#include "actors/loader.hpp"
#include "actors/manager.hpp"
#include "actors/messages.hpp"
#include "actors/store_writer.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"

/// The endpoint supervisor: owns webhook_id -> endpoint actor for the partitions this node
/// owns (docs/engine.md, "Endpoint actors" and "Recovery"). It spawns an endpoint actor when
/// work arrives for a webhook (new deliveries, recovery, replay, re-enabling), monitors it,
/// restarts it when it fails (the new actor reloads its pending deliveries from the store), and
/// stops it after the idle handshake. It keeps the configs of the active webhooks current from
/// the manager's change messages and forwards them to live endpoint actors.
namespace webhookd {

/// `recover_atom, partitions`: start endpoints for the pending deliveries of those partitions.
using recover_atom = caf::atom_constant<caf::atom("recover")>;
/// Internal: a delayed restart (webhook id, generation).
using restart_atom = caf::atom_constant<caf::atom("restart")>;
/// `recovery_retry_atom, partitions`: recovers those partitions like recover_atom, and tries
/// again every settings.recovery_retry while the store fails (sent by the supervisor itself at
/// start, or by the app once it serves).
using recovery_retry_atom = caf::atom_constant<caf::atom("recretry")>;

/// `restarted_atom, endpoint_restart`: the supervisor restarts a failed endpoint actor (to the
/// restart observer).
using restarted_atom = caf::atom_constant<caf::atom("restarted")>;

/// One restart of a webhook's endpoint actor.
struct endpoint_restart {
  std::string client_id;
  std::string webhook_id;
  std::string reason;  ///< the failed actor's exit reason, rendered
  int32_t count = 0;   ///< restarts of this webhook since the supervisor started
  int64_t at = 0;      ///< unix ms
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, endpoint_restart& x) {
  return f(caf::meta::type_name("endpoint_restart"), x.client_id, x.webhook_id, x.reason, x.count,
           x.at);
}

/// Who hears of every endpoint restart (the alerts actor).
using restart_observer_actor = caf::typed_actor<caf::reacts_to<restarted_atom, endpoint_restart>>;

/// A live view of the supervisor and its endpoint actors.
struct supervisor_state {
  uint64_t live = 0;                ///< endpoint actors running
  uint64_t webhooks = 0;            ///< active webhooks known
  uint64_t restarts = 0;            ///< endpoint restarts since start
  uint64_t idle_stops = 0;          ///< endpoint actors stopped after the idle handshake
  uint64_t jobs_forwarded = 0;      ///< jobs handed to endpoint actors
  uint64_t jobs_left_in_store = 0;  ///< jobs not handed on (paused/unknown webhook, restart,
                                    ///< draining): still pending in the store
  bool draining = false;
  std::vector<endpoint_state> endpoints;  ///< those that answered in time
  std::vector<std::string> unanswered;    ///< webhook ids of live endpoints that did not
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_state& x) {
  return f(caf::meta::type_name("supervisor_state"), x.live, x.webhooks, x.restarts, x.idle_stops,
           x.jobs_forwarded, x.jobs_left_in_store, x.draining, x.endpoints, x.unanswered);
}

/// The supervisor's protocol:
/// - `deliver_atom, jobs`: committed deliveries (from ingest, or DLQ replays), grouped by
///   webhook and handed to its endpoint actor (spawned if needed). Jobs of a webhook that is
///   paused, disabled, unknown or being restarted stay in the store (a later load takes them).
/// - `changed_atom, webhook` -> ok_atom; `removed_atom, client_id, webhook_id` -> ok_atom: the
///   manager's subscriber messages. A live endpoint gets the new config; a removed webhook's
///   actor stops; a webhook becoming active again gets an actor (to load what is pending).
///   The manager's source changes (`changed_atom, source`, `removed_atom, source_atom, id`) are
///   acknowledged and ignored: delivery does not depend on sources.
/// - `idle_atom, webhook_id, jobs_received`: an endpoint's idle report (see endpoint.hpp).
/// - `recover_atom, partitions` -> how many endpoint actors were started: adds the partitions
///   to those owned and starts an actor for every active webhook with pending deliveries in
///   them (each loads its own pending deliveries).
/// - `drain_atom` -> ok_atom once every endpoint drained (or settings.drain_timeout passed):
///   no new attempts start anywhere after it.
/// - `state_atom` -> supervisor_state (endpoints that don't answer within
///   settings.state_timeout are listed in `unanswered` instead).
/// - `subscribe_atom, manager_actor` -> ok_atom once the supervisor subscribed to the manager and
///   applied its webhook_snapshot (an error when the manager did not answer within
///   settings.subscribe_timeout). The supervisor keeps the snapshot's shared rows, not copies. A
///   known active webhook missing from it stops being active; a webhook it did not know gets an
///   actor only if recovery already ran for its partition and may have left work for it (send
///   it before recovery: recovery then starts the actors of webhooks with pending deliveries).
/// - `subscribe_atom, restart_observer_actor`: sets who hears of every endpoint restart.
/// - `recovery_retry_atom, partitions`: recovery without an answer, retried until the store
///   answers.
/// - `restart_atom, webhook_id, generation`: internal.
/// Every restart is counted (supervisor_state::restarts) and logged at warn with the webhook,
/// its client and the exit reason.
/// On an exit message it stops every endpoint actor, then itself.
using endpoint_supervisor_actor =
    caf::typed_actor<caf::reacts_to<deliver_atom, std::vector<delivery_job>>,
                     caf::replies_to<changed_atom, webhook>::with<caf::ok_atom>,
                     caf::replies_to<removed_atom, std::string, std::string>::with<caf::ok_atom>,
                     caf::replies_to<changed_atom, source>::with<caf::ok_atom>,
                     caf::replies_to<removed_atom, source_atom, std::string>::with<caf::ok_atom>,
                     caf::reacts_to<idle_atom, std::string, uint64_t>,
                     caf::replies_to<recover_atom, std::vector<int>>::with<uint64_t>,
                     caf::replies_to<drain_atom>::with<caf::ok_atom>,
                     caf::replies_to<state_atom>::with<supervisor_state>,
                     caf::replies_to<subscribe_atom, manager_actor>::with<caf::ok_atom>,
                     caf::reacts_to<subscribe_atom, restart_observer_actor>,
                     caf::reacts_to<restart_atom, std::string, uint64_t>,
                     caf::reacts_to<recovery_retry_atom, std::vector<int>>>;

/// Tuning of the supervisor.
struct supervisor_settings {
  /// Settings of every endpoint actor.
  endpoint_settings endpoint;
  /// Partitions whose recovery starts with the supervisor (default: all of them). Empty: no
  /// recovery at start (send recover_atom later).
  std::vector<int> partitions = all_partitions();
  /// How long drain waits for endpoints to finish their in-flight attempts.
  std::chrono::milliseconds drain_timeout{10'000};
  /// Restarts of one webhook's actor within restart_window back off: the second waits
  /// min_restart_delay, each further one twice as long, up to max_restart_delay.
  std::chrono::milliseconds restart_window{60'000};
  std::chrono::milliseconds min_restart_delay{100};
  std::chrono::milliseconds max_restart_delay{30'000};
  /// How long a restart waits for the store writer to commit the failed actor's outcomes.
  std::chrono::milliseconds writer_sync_timeout{5'000};
  /// How long `state_atom` waits for each endpoint's state.
  std::chrono::milliseconds state_timeout{1'000};
  /// Retry delay of a recovery whose store read failed.
  std::chrono::milliseconds recovery_retry{2'000};
  /// How long `subscribe_atom, manager_actor` waits for the manager's snapshot.
  std::chrono::milliseconds subscribe_timeout{30'000};

  /// 0 .. partition_count - 1.
  static std::vector<int> all_partitions();
};

/// What the supervisor works with. `clock` must outlive the actor.
struct supervisor_deps {
  /// Webhooks known at start. The app leaves it empty: the supervisor's subscription to the
  /// manager (`subscribe_atom, manager_actor`) fills it from the manager's shared snapshot.
  std::vector<webhook> webhooks;
  http_client_actor http;
  store_writer_actor writer;
  /// The writer's outstanding outcomes, handed to every endpoint; may be null.
  std::shared_ptr<record_backlog> backlog;
  loader_actor loader;
  dlq_actor dlq;          ///< may be invalid; the supervisor registers as its replay target
  manager_actor manager;  ///< may be invalid; endpoints disable failing webhooks through it
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  supervisor_settings settings;
  uint64_t seed = 0;  ///< seeds every endpoint's jitter
  /// Shared by every endpoint actor; may be null (not measured).
  std::shared_ptr<const delivery_metrics> metrics;
};

/// Spawns the supervisor; it starts recovery of settings.partitions at once.
endpoint_supervisor_actor spawn_endpoint_supervisor(caf::actor_system& system,
                                                    supervisor_deps deps);

}  // namespace webhookd
