#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/result.hpp"
#include "storage/types.hpp"

namespace webhookd::storage {

/// A pending delivery with the event it delivers, so its body can be rebuilt (recovery).
struct pending_delivery {
  delivery row;
  event ev;
};

/// The order in which load_pending_with_events returns rows.
enum class pending_order {
  due,      ///< next_attempt_at, then id: the oldest due first
  created,  ///< created_at, then id: ingestion order (ordered webhooks)
};

/// The one storage interface, implemented on SQLite and PostgreSQL.
///
/// Every member function blocks on I/O: call them only from detached actors, a dedicated pool or
/// plain threads, never from an event-based actor. An implementation is safe to call from several
/// threads at once. No call throws: failures come back as `error`s. Rows of one client are never
/// visible through another client's id: a foreign row is `not_found`.
class blocking_store {
 public:
  virtual ~blocking_store() = default;

  /// "sqlite" or "postgresql".
  virtual std::string backend() const = 0;
  /// Highest schema migration applied.
  virtual result<int> schema_version() = 0;
  /// Cheap round trip to the backend (readiness).
  virtual status ping() = 0;

  // --- webhooks (scoped to client_id) ---
  virtual status insert_webhook(const webhook& w) = 0;
  virtual result<webhook> get_webhook(const std::string& client_id, const std::string& id) = 0;
  /// Ordered by id; `after` is the id of the last row of the previous page.
  virtual result<page<webhook>> list_webhooks(const std::string& client_id,
                                              const page_request& req) = 0;
  /// Replaces every field of the row (w.client_id, w.id); not_found if the client has no such row.
  virtual status update_webhook(const webhook& w) = 0;
  /// Deletes the webhook and cancels its pending deliveries; returns how many were cancelled.
  virtual result<int64_t> delete_webhook(const std::string& client_id, const std::string& id) = 0;
  /// Every webhook of every client that isn't disabled (the router's index at start).
  virtual result<std::vector<webhook>> load_webhooks() = 0;

  // --- event-type catalogue (global) ---
  /// conflict if the name exists.
  virtual status insert_event_type(const event_type& t) = 0;
  virtual result<std::vector<event_type>> list_event_types() = 0;

  // --- sources (global, admin) ---
  /// conflict if the api key is taken.
  virtual status insert_source(const source& s) = 0;
  virtual result<source> get_source(const std::string& id) = 0;
  virtual result<source> find_source_by_api_key(const std::string& api_key) = 0;
  virtual result<page<source>> list_sources(const page_request& req) = 0;
  virtual status update_source(const source& s) = 0;
  virtual status delete_source(const std::string& id) = 0;

  // --- ingestion ---
  /// Appends a batch of events with their deliveries in one transaction: all or nothing. An event
  /// whose (client_id, event_id) is stored already, or repeated earlier in the batch, is reported
  /// as a duplicate and neither it nor its deliveries are written.
  virtual result<append_result> append_events(const std::vector<new_event>& batch) = 0;
  virtual result<event> get_event(const std::string& client_id, const std::string& event_id) = 0;

  // --- delivery ---
  /// Pending deliveries of the given partitions due at or before `due_before`, oldest due first,
  /// at most `limit`.
  virtual result<std::vector<delivery>> load_due_deliveries(const std::vector<int>& partitions,
                                                            int64_t due_before, int limit) = 0;
  /// Pending deliveries of one webhook, oldest first (an endpoint actor reloading its queue).
  virtual result<std::vector<delivery>> load_pending_for_webhook(const std::string& webhook_id,
                                                                 int limit) = 0;
  /// Ids of the webhooks with at least one pending delivery in the given partitions, sorted
  /// (recovery: which endpoint actors to start).
  virtual result<std::vector<std::string>> webhooks_with_pending(
      const std::vector<int>& partitions) = 0;
  /// Pending deliveries of one webhook with their events, in `order`, at most `limit` (an
  /// endpoint actor loading its queue). A pending delivery whose event is missing is `internal`.
  virtual result<std::vector<pending_delivery>> load_pending_with_events(
      const std::string& webhook_id, pending_order order, int limit) = 0;
  /// Records attempts and their deliveries' new states in one transaction; outcomes whose new
  /// status is `failed` also create their DLQ entry. A cancelled delivery (its webhook was
  /// deleted) keeps status `cancelled` and gets no DLQ entry; its attempt is still recorded.
  /// Recording an outcome again is harmless (an attempt already stored is kept), so a batch whose
  /// commit went unanswered (a connection lost after COMMIT) can be retried whole.
  virtual status record_attempts(const std::vector<attempt_outcome>& outcomes) = 0;
  virtual result<delivery> get_delivery(const std::string& client_id, const std::string& id) = 0;
  /// One webhook's deliveries, newest first; `after` is the id of the last row of the previous
  /// page.
  virtual result<page<delivery>> list_deliveries(const std::string& client_id,
                                                 const std::string& webhook_id,
                                                 const delivery_filter& filter,
                                                 const page_request& req) = 0;
  /// Every delivery of one event (one per webhook it went to).
  virtual result<std::vector<delivery>> list_event_deliveries(const std::string& client_id,
                                                              const std::string& event_id) = 0;
  /// The attempts of one delivery, in order.
  virtual result<std::vector<attempt>> list_attempts(const std::string& client_id,
                                                     const std::string& delivery_id) = 0;
  /// Sets a delivery back to pending, due at `due_at`; keeps its attempt count and its series.
  virtual result<delivery> requeue_delivery(const std::string& client_id, const std::string& id,
                                            int64_t due_at) = 0;

  /// Manual resend: sets a succeeded or failed delivery back to pending, due at `now`, and marks
  /// its DLQ entry (if it has one not replayed yet) replayed at `now`, in one transaction; the
  /// attempt count is kept (numbering continues) and series_start is set to it (a new series of
  /// attempts begins). not_found for a missing or foreign delivery;
  /// conflict when it is pending (already queued) or cancelled (its webhook was deleted).
  virtual result<delivery> resend_delivery(const std::string& client_id, const std::string& id,
                                           int64_t now) = 0;
  /// The client's attempts in the order they were recorded (see attempt_feed_request), at most
  /// req.limit (clamped to 1..1000), optionally of one webhook only.
  virtual result<attempt_feed> list_attempt_feed(const std::string& client_id,
                                                 const attempt_feed_request& req) = 0;

  // --- dead-letter queue ---
  virtual result<page<dlq_entry>> list_dlq(const std::string& client_id, const dlq_filter& filter,
                                           const page_request& req) = 0;
  /// Entries not replayed yet, of every client (the DLQ size metric).
  virtual result<int64_t> count_dlq() = 0;
  /// Marks the client's unreplayed entries with these delivery ids as replayed at `now` and sets
  /// their deliveries back to pending, due at `now`, with series_start set to their attempt count
  /// (a new series of attempts), in one transaction. Entries already replayed or foreign are
  /// skipped. Returns the requeued deliveries.
  virtual result<std::vector<delivery>> replay_dlq(const std::string& client_id,
                                                   const std::vector<std::string>& delivery_ids,
                                                   int64_t now) = 0;

  // --- cluster ---
  /// Inserts or refreshes a node's heartbeat.
  virtual status heartbeat_node(const node& n) = 0;
  virtual result<std::vector<node>> list_nodes() = 0;
  /// Takes or renews the lease on `partition` for `node_id` until `expires_at` if it is free,
  /// expired (expires_at < now) or already held by that node. Returns whether the node holds it.
  virtual result<bool> acquire_lease(int partition, const std::string& node_id, int64_t now,
                                     int64_t expires_at) = 0;
  virtual result<std::vector<partition_lease>> list_leases() = 0;
};

/// Settings for opening a store.
struct store_settings {
  std::string url;    ///< "sqlite:PATH" or "postgresql://..." / "postgres://..."
  int pool_size = 4;  ///< PostgreSQL connections
};

/// Opens (creating if needed) the store at settings.url and applies pending migrations.
/// Errors: invalid for a malformed url, unavailable when the backend can't be reached or the
/// file can't be written.
result<std::unique_ptr<blocking_store>> open_store_blocking(const store_settings& settings);

}  // namespace webhookd::storage
