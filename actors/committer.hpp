#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "actors/messages.hpp"
#include "core/model.hpp"
#include "storage/store.hpp"

/// The committer actor: runs storage::blocking_store::append_events, one batch at a time, on its
/// own thread (detached: the store call blocks). It owns nothing; the ingest actor decides what
/// goes into a batch.
namespace webhookd {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_event& x) {
  return f(caf::meta::type_name("new_event"), x.ev, x.deliveries);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_result& x) {
  return f(caf::meta::type_name("append_result"), x.duplicate);
}

/// The CAF error category of a failed commit; the code is the storage::errc value + 1 and the
/// context carries the store's message.
constexpr caf::atom_value commit_error_category = caf::atom("commit");

/// A caf::error of category commit_error_category for `err`.
caf::error make_commit_error(const storage::error& err);

/// The store error carried by `err` if it is a commit error; nullopt for any other error.
std::optional<storage::error> commit_failure_of(const caf::error& err);

/// The committer's protocol: `commit_atom, batch` -> append_result (duplicate[i] for batch[i]),
/// after the batch was committed in one transaction, or a commit error (nothing was written).
using committer_actor =
    caf::typed_actor<caf::replies_to<commit_atom, std::vector<new_event>>::with<append_result>>;

/// Spawns the committer detached. `store` must outlive the actor. `metrics` (may be null)
/// receives the latency and size of every commit and counts failed ones.
committer_actor spawn_committer(caf::actor_system& system, storage::blocking_store* store,
                                std::shared_ptr<spdlog::logger> log,
                                std::shared_ptr<const commit_metrics> metrics = nullptr);

}  // namespace webhookd
