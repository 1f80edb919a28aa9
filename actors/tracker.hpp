#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/dlq.hpp"
#include "actors/messages.hpp"
#include "actors/store_writer.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"
#include "storage/store.hpp"

/// The tracker: a pool of blocking workers that answers the delivery tracking API (a client's
/// deliveries, attempts, attempt feed and DLQ entries) from the store, and performs manual
/// resends, handing each resent delivery to the endpoint supervisor as a job. Every request is
/// scoped to a client id: another client's object is not_found, never visible.
namespace webhookd {

/// `deliveries_atom, ...`: list deliveries (of a webhook, or of an event).
using deliveries_atom = caf::atom_constant<caf::atom("deliveries")>;
/// `attempts_atom, client_id, attempt_feed_request`: the attempt feed.
using attempts_atom = caf::atom_constant<caf::atom("attempts")>;
/// `resend_atom, client_id, delivery_id`: a manual resend.
using resend_atom = caf::atom_constant<caf::atom("resend")>;
/// `dlq_atom, client_id, dlq_filter, page_request`: list DLQ entries.
using dlq_atom = caf::atom_constant<caf::atom("dlq")>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_record& x) {
  return f(caf::meta::type_name("attempt_record"), x.seq, x.webhook_id, x.event_id, x.event_type,
           x.att);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_feed_request& x) {
  return f(caf::meta::type_name("attempt_feed_request"), x.webhook_id, x.after, x.limit);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_feed& x) {
  return f(caf::meta::type_name("attempt_feed"), x.items, x.cursor);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dlq_filter& x) {
  return f(caf::meta::type_name("dlq_filter"), x.webhook_id, x.event_type, x.since, x.until,
           x.include_replayed);
}

/// Which deliveries of one webhook to list: `status` empty = any, else a delivery_status name;
/// created_at in [since, until) (until 0 = no bound).
struct delivery_query {
  std::string webhook_id;
  std::string status;
  int64_t since = 0;
  int64_t until = 0;
  page_request page;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_query& x) {
  return f(caf::meta::type_name("delivery_query"), x.webhook_id, x.status, x.since, x.until,
           x.page);
}

/// A delivery with every attempt, oldest first.
struct delivery_detail {
  delivery row;
  std::vector<attempt> attempts;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_detail& x) {
  return f(caf::meta::type_name("delivery_detail"), x.row, x.attempts);
}

/// A store error taken apart (the errors of the tracker, loader and DLQ actor are
/// make_store_error's).
struct store_failure {
  storage::errc code = storage::errc::internal;
  std::string message;
};

/// The code and message of `err` if it is a store error; nullopt for any other error
/// (request_timeout, request_receiver_down, ...).
std::optional<store_failure> store_failure_of(const caf::error& err);

/// The tracker's protocol (client_id first in every request). Failures are store errors
/// (make_store_error): not_found for what the client doesn't own, conflict for a resend of a
/// delivery that is pending or cancelled, invalid for a bad status name.
/// - `deliveries_atom, client_id, delivery_query` -> page<delivery>, newest first (the webhook
///   must be the client's: not_found otherwise, also for a deleted webhook).
/// - `deliveries_atom, client_id, event_id` -> every delivery of the event (one per webhook it
///   went to), empty when it matched no webhook; not_found when the client has no such event.
/// - `get_atom, client_id, delivery_id` -> delivery_detail.
/// - `attempts_atom, client_id, attempt_feed_request` -> attempt_feed (a non-empty webhook id
///   must be the client's).
/// - `dlq_atom, client_id, dlq_filter, page_request` -> page<dlq_entry>, newest first (a
///   non-empty webhook id must be the client's).
/// - `resend_atom, client_id, delivery_id` -> the delivery, pending again and due now
///   (blocking_store::resend_delivery); its job has been sent to the resend target.
using tracker_actor = caf::typed_actor<
    caf::replies_to<deliveries_atom, std::string, delivery_query>::with<page<delivery>>,
    caf::replies_to<deliveries_atom, std::string, std::string>::with<std::vector<delivery>>,
    caf::replies_to<caf::get_atom, std::string, std::string>::with<delivery_detail>,
    caf::replies_to<attempts_atom, std::string, attempt_feed_request>::with<attempt_feed>,
    caf::replies_to<dlq_atom, std::string, dlq_filter, page_request>::with<page<dlq_entry>>,
    caf::replies_to<resend_atom, std::string, std::string>::with<delivery>>;

/// What the tracker works with. `store` and `clock` must outlive the actor.
struct tracker_deps {
  storage::blocking_store* store = nullptr;
  const clock_source* clock = nullptr;
  /// Where resent deliveries go as `deliver_atom, jobs` (the endpoint supervisor). When invalid,
  /// a resent delivery waits in the store for the next load or recovery.
  replay_target_actor resend_target;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  /// Blocking worker threads.
  std::size_t workers = 2;
};

/// Spawns the tracker: a pool of `deps.workers` blocking actors, each on its own thread. Stop it
/// with an exit message (its workers stop with it).
tracker_actor spawn_tracker(caf::actor_system& system, tracker_deps deps);

}  // namespace webhookd
