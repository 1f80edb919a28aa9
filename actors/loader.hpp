#pragma once

#include <atomic>
#include <memory>

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "core/clock.hpp"
#include "storage/store.hpp"

/// The loader: a pool of blocking workers for the delivery engine's store reads (recovery,
/// endpoint reloads, DLQ replay), so no event-based actor ever waits on the store.
namespace webhookd {

/// `pending_atom, partitions`: which webhooks have pending deliveries.
using pending_atom = caf::atom_constant<caf::atom("pending")>;
/// `load_atom, webhook_id, ordered, limit`: a webhook's pending deliveries as jobs.
using load_atom = caf::atom_constant<caf::atom("load")>;
/// `replay_atom, client_id, delivery_ids`: DLQ entries back to pending, as jobs.
using replay_atom = caf::atom_constant<caf::atom("replay")>;

/// The loader's protocol. Store failures come back as caf::errors made by make_store_error.
/// - `pending_atom, partitions` -> ids of the webhooks with pending deliveries in those
///   partitions (blocking_store::webhooks_with_pending).
/// - `load_atom, webhook_id, ordered, limit` -> up to `limit` pending deliveries of the webhook
///   with their bodies rebuilt (delivery_body), oldest due first, or in creation order when
///   `ordered`; priority is left standard (the endpoint applies its webhook's).
/// - `replay_atom, client_id, delivery_ids` -> the replayed deliveries as jobs (replay_dlq at
///   the loader's clock's now; entries already replayed or foreign are skipped).
using loader_actor = caf::typed_actor<
    caf::replies_to<pending_atom, std::vector<int>>::with<std::vector<std::string>>,
    caf::replies_to<load_atom, std::string, bool, int32_t>::with<std::vector<delivery_job>>,
    caf::replies_to<replay_atom, std::string,
                    std::vector<std::string>>::with<std::vector<delivery_job>>>;

/// What a loader works with. `store` and `clock` must outlive the actor.
struct loader_deps {
  storage::blocking_store* store = nullptr;
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  /// Blocking worker threads (the SQLite store serializes calls anyway; PostgreSQL uses them).
  std::size_t workers = 2;
  /// May be null. Once set, every read still queued or arriving is answered at once with an
  /// error (sec::request_receiver_down) instead of being run: a stop doesn't wait for a queue
  /// of backlog reads.
  std::shared_ptr<const std::atomic<bool>> stopping;
};

/// The jobs for pending deliveries read with their events: each body is delivery_body(ev).
std::vector<delivery_job> jobs_from_pending(std::vector<storage::pending_delivery> rows);

/// Spawns the loader: a pool of `deps.workers` blocking actors, each on its own thread. Stop it
/// with an exit message (its workers stop with it).
loader_actor spawn_loader(caf::actor_system& system, loader_deps deps);

}  // namespace webhookd
