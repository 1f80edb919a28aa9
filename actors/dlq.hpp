#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/loader.hpp"
#include "actors/messages.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"

/// The DLQ actor: counts the deliveries that enter the dead-letter queue per webhook (the
/// alerting of issue 5 builds on these counters) and replays DLQ entries into the engine.
namespace webhookd {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dlq_entry& x) {
  return f(caf::meta::type_name("dlq_entry"), x.delivery_id, x.client_id, x.webhook_id, x.event_id,
           x.event_type, x.reason, x.created_at, x.replayed_at);
}

/// `parked_atom, dlq_entry`: a delivery entered the DLQ (its write is committed).
using parked_atom = caf::atom_constant<caf::atom("parked")>;

/// DLQ counters of one webhook.
struct dlq_counter {
  std::string client_id;
  std::string webhook_id;
  uint64_t total = 0;      ///< entries since the actor started
  uint64_t in_window = 0;  ///< entries within the last dlq_settings::window
  int64_t last_at = 0;     ///< time of the latest entry (unix ms)
  std::string last_reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dlq_counter& x) {
  return f(caf::meta::type_name("dlq_counter"), x.client_id, x.webhook_id, x.total, x.in_window,
           x.last_at, x.last_reason);
}

/// Who hears of every new DLQ entry (the alerts actor): `parked_atom, dlq_counter` with the
/// webhook's counters just after the entry was counted.
using dlq_observer_actor = caf::typed_actor<caf::reacts_to<parked_atom, dlq_counter>>;

/// Where replayed jobs go (the endpoint supervisor implements this and more).
using replay_target_actor =
    caf::typed_actor<caf::reacts_to<deliver_atom, std::vector<delivery_job>>>;

/// The DLQ actor's protocol:
/// - `parked_atom, dlq_entry`: counts the entry for its webhook and tells the observer.
/// - `replay_atom, client_id, delivery_ids` -> the deliveries set pending again (DLQ entries of
///   that client not replayed yet; others are skipped), whose jobs were handed to the
///   replay target as `deliver_atom, std::vector<delivery_job>`. Store errors come back as
///   caf::errors (make_store_error).
/// - `subscribe_atom, replay_target_actor`: sets the replay target (the endpoint supervisor).
/// - `subscribe_atom, dlq_observer_actor`: sets the observer of new entries (the alerts actor).
/// - `state_atom` -> the counters of every webhook with entries, by webhook id.
using dlq_actor =
    caf::typed_actor<caf::reacts_to<parked_atom, dlq_entry>,
                     caf::replies_to<replay_atom, std::string,
                                     std::vector<std::string>>::with<std::vector<delivery>>,
                     caf::reacts_to<subscribe_atom, replay_target_actor>,
                     caf::reacts_to<subscribe_atom, dlq_observer_actor>,
                     caf::replies_to<state_atom>::with<std::vector<dlq_counter>>>;

/// Tuning of the DLQ actor.
struct dlq_settings {
  /// The sliding window of dlq_counter::in_window.
  std::chrono::milliseconds window{std::chrono::hours(1)};
  /// Deadline of a replay's store call.
  std::chrono::milliseconds replay_timeout{30'000};
};

/// What the DLQ actor works with. `clock` must outlive the actor.
struct dlq_deps {
  loader_actor loader;
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  dlq_settings settings;
};

/// Spawns the DLQ actor.
dlq_actor spawn_dlq(caf::actor_system& system, dlq_deps deps);

}  // namespace webhookd
