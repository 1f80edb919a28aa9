#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/committer.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"

/// The ingest actor: the group-commit buffer of docs/engine.md ("Ingest: 202 only after commit").
/// Each request's events are routed (router), appended to a buffer, and whenever the committer is
/// idle the whole buffer goes to it as ONE append_events transaction; requests that arrive during
/// a commit share the next one. Only after the commit returned is a request answered, and then
/// the deliveries of the events that were not duplicates go to the endpoint supervisor.
namespace webhookd {

/// Accepted events of one request: `accepted` were new and are stored with their deliveries,
/// `duplicates` were stored before (same client_id and event_id) and were not stored again.
struct ingest_ack {
  int64_t accepted = 0;
  int64_t duplicates = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ingest_ack& x) {
  return f(caf::meta::type_name("ingest_ack"), x.accepted, x.duplicates);
}

/// Why an ingest request failed; carried in a caf::error of category ingest_error_category.
enum class ingest_errc : uint8_t {
  overloaded = 1,  ///< the buffer is full: nothing was done, retry later
  unavailable,     ///< routing or the store failed: nothing of the request was acknowledged
};

/// Short stable name of an ingest error code ("overloaded", "unavailable").
const char* to_string(ingest_errc code);

/// The CAF error category of ingest errors.
constexpr caf::atom_value ingest_error_category = caf::atom("ingest");

/// A caf::error of category ingest_error_category carrying `code` and `message`.
caf::error make_ingest_error(ingest_errc code, std::string message);

/// An ingest error taken apart.
struct ingest_failure {
  ingest_errc code = ingest_errc::unavailable;
  std::string message;
};

/// The code and message of `err` if it is an ingest error; nullopt for any other error.
std::optional<ingest_failure> ingest_failure_of(const caf::error& err);

/// Counters of the ingest actor (for tests and introspection).
struct ingest_stats {
  int64_t routing_events = 0;     ///< events of requests waiting for the router
  int64_t buffered_requests = 0;  ///< requests routed and waiting for the next commit
  int64_t buffered_events = 0;
  int64_t committing_events = 0;  ///< events of the commit in flight (0 = committer idle)
  int64_t commits = 0;            ///< commits started
  int64_t failed_commits = 0;
  int64_t overloaded_requests = 0;  ///< requests refused because the buffer was full
  int64_t accepted_events = 0;      ///< committed as new since start
  int64_t duplicate_events = 0;     ///< found stored already since start
  /// Events acknowledged (accepted + duplicates) and requests answered per second over the last
  /// rate_window (core/rate_window.hpp); 0 without a clock.
  double events_per_second = 0;
  double requests_per_second = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ingest_stats& x) {
  return f(caf::meta::type_name("ingest_stats"), x.routing_events, x.buffered_requests,
           x.buffered_events, x.committing_events, x.commits, x.failed_commits,
           x.overloaded_requests, x.accepted_events, x.duplicate_events, x.events_per_second,
           x.requests_per_second);
}

/// The ingest actor's protocol:
/// - `ingest_atom, events` -> ingest_ack once every event is committed with its deliveries (or
///   found to be a duplicate); an ingest error `overloaded` at once when routing and buffered
///   events plus these would exceed ingest_settings::max_buffered_events; `unavailable` when
///   routing or the commit failed (nothing of the request is acknowledged; some events may be
///   stored if a commit outlived its timeout, which a retry reports as duplicates).
/// - `put_atom, supervisor` -> ok_atom: from now on new deliveries go to `supervisor` as
///   `deliver_atom, std::vector<delivery_job>` (an invalid handle stops forwarding). Without a
///   supervisor the deliveries stay in the store only, for recovery to pick up.
/// - `state_atom` -> ingest_stats.
using ingest_actor =
    caf::typed_actor<caf::replies_to<ingest_atom, std::vector<event>>::with<ingest_ack>,
                     caf::replies_to<caf::put_atom, caf::actor>::with<caf::ok_atom>,
                     caf::replies_to<state_atom>::with<ingest_stats>>;

/// Limits and deadlines of the ingest actor.
struct ingest_settings {
  /// Most events waiting for the router or the next commit; beyond it requests are refused.
  std::size_t max_buffered_events = 20'000;
  /// How long a commit may take before its requests are answered `unavailable`.
  std::chrono::milliseconds commit_timeout{60'000};
};

/// What the ingest actor talks to.
struct ingest_deps {
  router_actor router;
  committer_actor committer;
  caf::actor supervisor;  ///< receiver of new deliveries; may be invalid (see put_atom)
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  const clock_source* clock = nullptr;  ///< times the rates; may be null (rates stay 0)
  ingest_settings settings;
};

/// Spawns the ingest actor (event-based). Precondition: router and committer are valid.
ingest_actor spawn_ingest(caf::actor_system& system, ingest_deps deps);

}  // namespace webhookd
