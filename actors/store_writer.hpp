#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "actors/actor_metrics.hpp"
#include "actors/messages.hpp"
#include "core/model.hpp"
#include "storage/store.hpp"

/// The store writer: batches the attempt outcomes of every endpoint actor into few
/// record_attempts transactions (design section 2, docs/engine.md). It runs detached (the store
/// blocks) and answers each outcome only after the transaction holding it committed.
namespace webhookd {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt& x) {
  return f(caf::meta::type_name("attempt"), x.delivery_id, x.attempt_no, x.started_at,
           x.duration_ms, x.status_code, x.error, x.response_excerpt);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_outcome& x) {
  return f(caf::meta::type_name("attempt_outcome"), x.att, x.new_status, x.next_attempt_at,
           x.dlq_reason);
}

/// Barrier request: answered once everything queued before it is committed.
using sync_atom = caf::atom_constant<caf::atom("sync")>;
/// The writer's own flush timer (carries a generation number).
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// Room request: answered once the writer's backlog has room (see record_backlog).
using room_atom = caf::atom_constant<caf::atom("room")>;

/// The outcomes sent to the store writer and not answered yet, shared by the writer and the
/// endpoint actors: the back-pressure of docs/engine.md ("Back-pressure from the store writer").
/// An endpoint counts an outcome in as it sends it, the writer counts it out as it answers it
/// (just before, so an answered outcome is never still counted).
/// While `limit` or more are outstanding, endpoints start no new attempt and ask the writer for
/// room (`room_atom`), which it gives once at most half the limit are outstanding. So deliveries
/// never run more than `limit` outcomes ahead of the store: the backlog a burst leaves behind
/// (and the memory it holds) stays bounded.
class record_backlog {
 public:
  explicit record_backlog(uint64_t limit) : limit_(limit) {}

  void sent() { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void answered(uint64_t n) { outstanding_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }
  /// New attempts wait.
  bool full() const { return outstanding() >= limit_; }
  /// Waiting attempts may go on.
  bool has_room() const { return outstanding() <= limit_ / 2; }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> outstanding_{0};
};

/// Counters of a store writer, for tests and the monitor.
struct store_writer_stats {
  uint64_t queued = 0;        ///< outcomes waiting for a transaction
  uint64_t recorded = 0;      ///< outcomes committed since start
  uint64_t transactions = 0;  ///< committed record_attempts calls
  uint64_t failures = 0;      ///< failed record_attempts calls (each retried or split)
  uint64_t rejected = 0;      ///< outcomes answered with an error (their delivery is gone)
  /// The backlog (record_backlog): outcomes sent by endpoints and not yet answered, the limit at
  /// which endpoints hold new attempts (0: no back-pressure), and the endpoints holding now.
  uint64_t outstanding = 0;
  uint64_t outstanding_limit = 0;
  uint64_t held_endpoints = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_writer_stats& x) {
  return f(caf::meta::type_name("store_writer_stats"), x.queued, x.recorded, x.transactions,
           x.failures, x.rejected, x.outstanding, x.outstanding_limit, x.held_endpoints);
}

/// The writer's protocol:
/// - `record_atom, attempt_outcome` -> ok_atom once the outcome is committed. A store that is
///   unavailable (or fails for any reason but the rows themselves) is retried with backoff and
///   the outcome stays queued: nothing is dropped. When a batch fails with not_found or invalid,
///   its outcomes are written one by one and only those refused again are answered with an
///   error (category "store", code = storage::errc).
/// - `sync_atom` -> ok_atom once every outcome queued before it is committed (or answered).
/// - `room_atom` -> ok_atom once the backlog (store_writer_deps::backlog) has room; at once
///   without a backlog.
/// - `state_atom` -> store_writer_stats.
/// - `flush_atom, generation`: internal timer.
/// On an exit message the writer makes a last bounded effort to commit what it holds, then
/// stops; outcomes still unwritten then stay pending in the store (delivered again later).
using store_writer_actor = caf::typed_actor<
    caf::replies_to<record_atom, attempt_outcome>::with<caf::ok_atom>,
    caf::replies_to<sync_atom>::with<caf::ok_atom>, caf::replies_to<room_atom>::with<caf::ok_atom>,
    caf::replies_to<state_atom>::with<store_writer_stats>, caf::reacts_to<flush_atom, uint64_t>>;

/// Tuning of the store writer.
struct store_writer_settings {
  /// A transaction starts as soon as this many outcomes are queued ...
  std::size_t flush_threshold = 256;
  /// ... or this long after the first outcome of a batch arrived.
  std::chrono::milliseconds flush_delay{5};
  /// Most outcomes written in one transaction.
  std::size_t max_batch = 2048;
  /// Backoff after a failed transaction: doubles from min to max.
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{5000};
  /// How long the writer keeps retrying its last batches when told to exit.
  std::chrono::milliseconds final_flush_budget{5000};
  /// Outcomes outstanding at which endpoints stop starting attempts (record_backlog): about
  /// 0.15 s of the writer's work on SQLite at this box's 25,000-35,000 outcomes/s.
  uint64_t max_outstanding = 4096;
};

/// What a store writer works with. `store` must outlive the actor.
struct store_writer_deps {
  storage::blocking_store* store = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  store_writer_settings settings;
  /// Latency and size of every record_attempts transaction, failures; may be null.
  std::shared_ptr<const commit_metrics> metrics = nullptr;
  /// Counted out as outcomes are answered; may be null (no back-pressure).
  std::shared_ptr<record_backlog> backlog = nullptr;
};

/// The caf::error for a store error (category "store", code = the errc, context = message).
caf::error make_store_error(const storage::error& err);

/// Spawns a store writer detached (its own thread).
store_writer_actor spawn_store_writer(caf::actor_system& system, store_writer_deps deps);

}  // namespace webhookd
