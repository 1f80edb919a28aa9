#include "storage/sqlite_store.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <mutex>
#include <optional>

#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_migrations.hpp"
#include "storage/sqlite_rows.hpp"

namespace webhookd::storage {

namespace {

using sqlite::connection;
using sqlite::statement;
using sqlite::transaction;

constexpr int busy_timeout_ms = 5000;
constexpr int max_page_size = 1000;

int clamp_page_size(int limit) {
  return std::clamp(limit, 1, max_page_size);
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

error not_found(const std::string& what) {
  return error{errc::not_found, what + " not found"};
}

/// Every row the statement yields.
template <class T>
std::vector<T> fetch_all(statement& stmt) {
  std::vector<T> rows;
  while (stmt.step()) rows.push_back(sqlite::read_row<T>(stmt));
  return rows;
}

/// The first row the statement yields, if any (runs it to completion).
template <class T>
std::optional<T> fetch_one(statement& stmt) {
  std::optional<T> row;
  if (stmt.step()) row = sqlite::read_row<T>(stmt);
  stmt.run();
  return row;
}

/// A page of rows fetched with limit + 1: the extra row only tells that more follow.
template <class T, class Key>
page<T> make_page(std::vector<T> rows, int limit, Key key) {
  page<T> p;
  if (rows.size() > static_cast<size_t>(limit)) {
    rows.resize(static_cast<size_t>(limit));
    p.next_cursor = key(rows.back());
  }
  p.items = std::move(rows);
  return p;
}

/// What a delivery's last_error becomes after an attempt: the transport error, "HTTP <code>" for
/// a non-2xx answer, empty after a success.
std::string attempt_error(const attempt& a) {
  if (!a.error.empty()) return a.error;
  if (a.status_code >= 200 && a.status_code < 300) return {};
  return "HTTP " + std::to_string(a.status_code);
}

/// Checks that each delivery belongs to its event (the precondition of append_events).
status check_batch(const std::vector<new_event>& batch) {
  for (const auto& item : batch)
    for (const auto& d : item.deliveries)
      if (d.client_id != item.ev.client_id || d.event_id != item.ev.event_id ||
          d.event_type != item.ev.event_type)
        return error{errc::invalid, "delivery " + quoted(d.id) + " does not match event " +
                                        quoted(item.ev.event_id) + " of client " +
                                        quoted(item.ev.client_id)};
  return {};
}

/// The blocking_store on one SQLite connection; a mutex serializes every call.
class sqlite_store final : public blocking_store {
 public:
  explicit sqlite_store(std::unique_ptr<connection> conn) : conn_(std::move(conn)) {}

  std::string backend() const override { return "sqlite"; }

  result<int> schema_version() override {
    return locked("read the schema version",
                  [&]() -> result<int> { return sqlite::applied_version(*conn_); });
  }

  status ping() override {
    return locked("ping", [&]() -> status {
      conn_->query_text("SELECT 1");
      return {};
    });
  }

  // --- webhooks ---

  status insert_webhook(const webhook& w) override {
    return locked("insert webhook " + quoted(w.id), [&]() -> status {
      auto stmt = conn_->prepare(sqlite::insert_sql(sqlite::webhooks_table));
      sqlite::bind_row(stmt, w);
      stmt.run();
      return {};
    });
  }

  result<webhook> get_webhook(const std::string& client_id, const std::string& id) override {
    return locked("get webhook " + quoted(id), [&]() -> result<webhook> {
      auto stmt =
          conn_->prepare(select(sqlite::webhooks_table) + "WHERE client_id = ?1 AND id = ?2");
      auto row = fetch_one<webhook>(stmt.bind(client_id, id));
      if (!row) return not_found("webhook " + quoted(id));
      return std::move(*row);
    });
  }

  result<page<webhook>> list_webhooks(const std::string& client_id,
                                      const page_request& req) override {
    int limit = clamp_page_size(req.limit);
    return locked("list webhooks", [&]() -> result<page<webhook>> {
      auto stmt = conn_->prepare(select(sqlite::webhooks_table) +
                                 "WHERE client_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
      auto rows = fetch_all<webhook>(stmt.bind(client_id, req.after, limit + 1));
      return make_page(std::move(rows), limit, [](const webhook& w) { return w.id; });
    });
  }

  status update_webhook(const webhook& w) override {
    return locked("update webhook " + quoted(w.id), [&]() -> status {
      auto stmt = conn_->prepare(sqlite::update_sql(sqlite::webhooks_table, 2));
      sqlite::bind_row(stmt, w);
      stmt.run();
      if (conn_->changes() == 0) return not_found("webhook " + quoted(w.id));
      return {};
    });
  }

  result<int64_t> delete_webhook(const std::string& client_id, const std::string& id) override {
    return locked("delete webhook " + quoted(id), [&]() -> result<int64_t> {
      transaction tx(*conn_);
      conn_->prepare("DELETE FROM webhooks WHERE client_id = ?1 AND id = ?2")
          .bind(client_id, id)
          .run();
      if (conn_->changes() == 0) return not_found("webhook " + quoted(id));
      conn_
          ->prepare(
              "UPDATE deliveries SET status = 'cancelled' "
              "WHERE webhook_id = ?1 AND client_id = ?2 AND status = 'pending'")
          .bind(id, client_id)
          .run();
      int64_t cancelled = conn_->changes();
      tx.commit();
      return cancelled;
    });
  }

  result<std::vector<webhook>> load_webhooks() override {
    return locked("load webhooks", [&]() -> result<std::vector<webhook>> {
      // Sized first: growing by doubling would hold up to 1.5x the rows at the last step (with
      // 100,000 webhooks about 100 MB for a moment, at every start and manager subscription).
      std::vector<webhook> rows;
      rows.reserve(static_cast<std::size_t>(std::stoll(
          conn_->query_text("SELECT count(*) FROM webhooks WHERE status <> 'disabled'"))));
      auto stmt =
          conn_->prepare(select(sqlite::webhooks_table) + "WHERE status <> 'disabled' ORDER BY id");
      while (stmt.step()) rows.push_back(sqlite::read_row<webhook>(stmt));
      return rows;
    });
  }

  // --- event types ---

  status insert_event_type(const event_type& t) override {
    return locked("insert event type " + quoted(t.name), [&]() -> status {
      auto stmt = conn_->prepare(sqlite::insert_sql(sqlite::event_types_table));
      sqlite::bind_row(stmt, t);
      stmt.run();
      return {};
    });
  }

  result<std::vector<event_type>> list_event_types() override {
    return locked("list event types", [&]() -> result<std::vector<event_type>> {
      auto stmt = conn_->prepare(select(sqlite::event_types_table) + "ORDER BY name");
      return fetch_all<event_type>(stmt);
    });
  }

  // --- sources ---

  status insert_source(const source& s) override {
    return locked("insert source " + quoted(s.id), [&]() -> status {
      auto stmt = conn_->prepare(sqlite::insert_sql(sqlite::sources_table));
      sqlite::bind_row(stmt, s);
      stmt.run();
      return {};
    });
  }

  result<source> get_source(const std::string& id) override {
    return find_source("id", id, "source " + quoted(id));
  }

  result<source> find_source_by_api_key(const std::string& api_key) override {
    return find_source("api_key", api_key, "source with this api key");
  }

  result<page<source>> list_sources(const page_request& req) override {
    int limit = clamp_page_size(req.limit);
    return locked("list sources", [&]() -> result<page<source>> {
      auto stmt =
          conn_->prepare(select(sqlite::sources_table) + "WHERE id > ?1 ORDER BY id LIMIT ?2");
      auto rows = fetch_all<source>(stmt.bind(req.after, limit + 1));
      return make_page(std::move(rows), limit, [](const source& s) { return s.id; });
    });
  }

  status update_source(const source& s) override {
    return locked("update source " + quoted(s.id), [&]() -> status {
      auto stmt = conn_->prepare(sqlite::update_sql(sqlite::sources_table, 1));
      sqlite::bind_row(stmt, s);
      stmt.run();
      if (conn_->changes() == 0) return not_found("source " + quoted(s.id));
      return {};
    });
  }

  status delete_source(const std::string& id) override {
    return locked("delete source " + quoted(id), [&]() -> status {
      conn_->prepare("DELETE FROM sources WHERE id = ?1").bind(id).run();
      if (conn_->changes() == 0) return not_found("source " + quoted(id));
      return {};
    });
  }

  // --- ingestion ---

  result<append_result> append_events(const std::vector<new_event>& batch) override {
    if (auto checked = check_batch(batch); !checked) return checked.err();
    return locked("append " + std::to_string(batch.size()) + " events",
                  [&]() -> result<append_result> {
                    static const std::string insert_event_sql =
                        sqlite::insert_sql(sqlite::events_table) +
                        " ON CONFLICT (client_id, event_id) DO NOTHING";
                    static const std::string insert_delivery_sql =
                        sqlite::insert_sql(sqlite::deliveries_table);
                    transaction tx(*conn_);
                    // The rows of `batch` outlive every step: bind their text without copies.
                    auto insert_event = conn_->prepare(insert_event_sql);
                    auto insert_delivery = conn_->prepare(insert_delivery_sql);
                    insert_event.borrow_text();
                    insert_delivery.borrow_text();
                    append_result out;
                    out.duplicate.reserve(batch.size());
                    for (const auto& item : batch)
                      out.duplicate.push_back(!append_one(item, insert_event, insert_delivery));
                    tx.commit();
                    return out;
                  });
  }

  result<event> get_event(const std::string& client_id, const std::string& event_id) override {
    return locked("get event " + quoted(event_id), [&]() -> result<event> {
      auto stmt =
          conn_->prepare(select(sqlite::events_table) + "WHERE client_id = ?1 AND event_id = ?2");
      auto row = fetch_one<event>(stmt.bind(client_id, event_id));
      if (!row) return not_found("event " + quoted(event_id));
      return std::move(*row);
    });
  }

  // --- delivery ---

  result<std::vector<delivery>> load_due_deliveries(const std::vector<int>& partitions,
                                                    int64_t due_before, int limit) override {
    return locked("load due deliveries", [&]() -> result<std::vector<delivery>> {
      auto stmt = conn_->prepare(
          select(sqlite::deliveries_table) +
          "WHERE status = 'pending' AND \"partition\" IN (SELECT value FROM json_each(?1)) "
          "AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3");
      stmt.bind(sqlite::encode_list(partitions), due_before, std::max(limit, 0));
      return fetch_all<delivery>(stmt);
    });
  }

  result<std::vector<delivery>> load_pending_for_webhook(const std::string& webhook_id,
                                                         int limit) override {
    return locked("load pending deliveries of webhook " + quoted(webhook_id),
                  [&]() -> result<std::vector<delivery>> {
                    auto stmt = conn_->prepare(
                        select(sqlite::deliveries_table) +
                        "WHERE webhook_id = ?1 AND status = 'pending' ORDER BY id LIMIT ?2");
                    return fetch_all<delivery>(stmt.bind(webhook_id, std::max(limit, 0)));
                  });
  }

  result<std::vector<std::string>> webhooks_with_pending(
      const std::vector<int>& partitions) override {
    return locked("find webhooks with pending deliveries",
                  [&]() -> result<std::vector<std::string>> {
                    // A skip scan of the pending-by-webhook index: one seek per webhook
                    // instead of reading every pending row (a DISTINCT over 1,000,000 pending
                    // deliveries kept recovery busy for seconds). A webhook's deliveries all
                    // carry its partition, so one row tells it.
                    auto stmt = conn_->prepare(
                        "WITH RECURSIVE w(id) AS ("
                        "SELECT (SELECT webhook_id FROM deliveries WHERE status = 'pending' "
                        "ORDER BY webhook_id LIMIT 1) "
                        "UNION ALL SELECT (SELECT webhook_id FROM deliveries WHERE status = "
                        "'pending' AND webhook_id > w.id ORDER BY webhook_id LIMIT 1) FROM w "
                        "WHERE w.id IS NOT NULL) "
                        "SELECT id FROM w WHERE id IS NOT NULL AND (SELECT \"partition\" FROM "
                        "deliveries WHERE webhook_id = w.id AND status = 'pending' LIMIT 1) "
                        "IN (SELECT value FROM json_each(?1)) ORDER BY id");
                    stmt.bind(sqlite::encode_list(partitions));
                    std::vector<std::string> ids;
                    while (stmt.step()) ids.push_back(stmt.column_text(0));
                    return ids;
                  });
  }

  result<std::vector<pending_delivery>> load_pending_with_events(const std::string& webhook_id,
                                                                 pending_order order,
                                                                 int limit) override {
    const std::string chosen =
        "SELECT client_id, event_id FROM deliveries WHERE webhook_id = ?1 AND "
        "status = 'pending' ORDER BY " +
        std::string(order == pending_order::due ? "next_attempt_at" : "created_at") +
        ", id LIMIT ?2";
    return locked(
        "load pending deliveries with events of webhook " + quoted(webhook_id),
        [&]() -> result<std::vector<pending_delivery>> {
          // Two reads under the connection mutex (no write can come between): the rows, then
          // their events, matched by key.
          auto rows_stmt = conn_->prepare(
              select(sqlite::deliveries_table) +
              "WHERE webhook_id = ?1 AND status = 'pending' ORDER BY " +
              std::string(order == pending_order::due ? "next_attempt_at" : "created_at") +
              ", id LIMIT ?2");
          auto rows = fetch_all<delivery>(rows_stmt.bind(webhook_id, std::max(limit, 0)));
          auto events_stmt = conn_->prepare(select(sqlite::events_table) +
                                            "WHERE (client_id, event_id) IN (" + chosen + ")");
          std::map<std::pair<std::string, std::string>, event> events;
          for (auto& e : fetch_all<event>(events_stmt.bind(webhook_id, std::max(limit, 0)))) {
            auto key = std::make_pair(e.client_id, e.event_id);
            events.emplace(std::move(key), std::move(e));
          }
          std::vector<pending_delivery> out;
          out.reserve(rows.size());
          for (auto& row : rows) {
            auto found = events.find({row.client_id, row.event_id});
            if (found == events.end())
              return error{errc::internal, "pending delivery " + quoted(row.id) + " has no event " +
                                               quoted(row.event_id)};
            out.push_back(pending_delivery{std::move(row), found->second});
          }
          return out;
        });
  }

  status record_attempts(const std::vector<attempt_outcome>& outcomes) override {
    return locked("record " + std::to_string(outcomes.size()) + " attempts", [&]() -> status {
      static const std::string update_delivery_sql =
          "UPDATE deliveries SET status = CASE WHEN status = 'cancelled' "
          "THEN 'cancelled' ELSE ?2 END, attempts = ?3, next_attempt_at = ?4, "
          "last_error = ?5, updated_at = ?6 WHERE id = ?1";
      // An attempt already stored is kept: a batch can be retried whole.
      static const std::string insert_attempt_sql =
          sqlite::insert_sql(sqlite::attempts_table) + " ON CONFLICT DO NOTHING";
      transaction tx(*conn_);
      // The outcomes outlive every step: bind their text without copies.
      auto update_delivery = conn_->prepare(update_delivery_sql);
      auto insert_attempt = conn_->prepare(insert_attempt_sql);
      update_delivery.borrow_text();
      insert_attempt.borrow_text();
      for (const auto& outcome : outcomes)
        if (auto recorded = record_one(outcome, update_delivery, insert_attempt); !recorded)
          return recorded;
      tx.commit();
      return {};
    });
  }

  result<delivery> get_delivery(const std::string& client_id, const std::string& id) override {
    return locked("get delivery " + quoted(id), [&]() -> result<delivery> {
      auto stmt =
          conn_->prepare(select(sqlite::deliveries_table) + "WHERE client_id = ?1 AND id = ?2");
      auto row = fetch_one<delivery>(stmt.bind(client_id, id));
      if (!row) return not_found("delivery " + quoted(id));
      return std::move(*row);
    });
  }

  result<page<delivery>> list_deliveries(const std::string& client_id,
                                         const std::string& webhook_id,
                                         const delivery_filter& filter,
                                         const page_request& req) override {
    int limit = clamp_page_size(req.limit);
    std::optional<std::string> status;
    if (filter.status) status = to_string(*filter.status);
    return locked(
        "list deliveries of webhook " + quoted(webhook_id), [&]() -> result<page<delivery>> {
          auto stmt = conn_->prepare(select(sqlite::deliveries_table) +
                                     "WHERE client_id = ?1 AND webhook_id = ?2 "
                                     "AND (?3 IS NULL OR status = ?3) AND created_at >= ?4 "
                                     "AND (?5 = 0 OR created_at < ?5) AND (?6 = '' OR id < ?6) "
                                     "ORDER BY id DESC LIMIT ?7");
          stmt.bind(client_id, webhook_id, status, filter.since, filter.until, req.after,
                    limit + 1);
          return make_page(fetch_all<delivery>(stmt), limit,
                           [](const delivery& d) { return d.id; });
        });
  }

  result<std::vector<delivery>> list_event_deliveries(const std::string& client_id,
                                                      const std::string& event_id) override {
    return locked("list deliveries of event " + quoted(event_id),
                  [&]() -> result<std::vector<delivery>> {
                    auto stmt = conn_->prepare(select(sqlite::deliveries_table) +
                                               "WHERE client_id = ?1 AND event_id = ?2 "
                                               "ORDER BY id");
                    return fetch_all<delivery>(stmt.bind(client_id, event_id));
                  });
  }

  result<std::vector<attempt>> list_attempts(const std::string& client_id,
                                             const std::string& delivery_id) override {
    return locked(
        "list attempts of delivery " + quoted(delivery_id), [&]() -> result<std::vector<attempt>> {
          auto owner = conn_->prepare("SELECT 1 FROM deliveries WHERE client_id = ?1 AND id = ?2");
          if (!owner.bind(client_id, delivery_id).step())
            return not_found("delivery " + quoted(delivery_id));
          auto stmt = conn_->prepare(select(sqlite::attempts_table) +
                                     "WHERE delivery_id = ?1 "
                                     "ORDER BY attempt_no, rowid");
          return fetch_all<attempt>(stmt.bind(delivery_id));
        });
  }

  result<delivery> requeue_delivery(const std::string& client_id, const std::string& id,
                                    int64_t due_at) override {
    return locked("requeue delivery " + quoted(id), [&]() -> result<delivery> {
      auto stmt = conn_->prepare(
          "UPDATE deliveries SET status = 'pending', next_attempt_at = ?3, updated_at = ?3 "
          "WHERE client_id = ?1 AND id = ?2 RETURNING " +
          std::string(sqlite::deliveries_table.columns));
      auto row = fetch_one<delivery>(stmt.bind(client_id, id, due_at));
      if (!row) return not_found("delivery " + quoted(id));
      return std::move(*row);
    });
  }

  result<delivery> resend_delivery(const std::string& client_id, const std::string& id,
                                   int64_t now) override {
    return locked("resend delivery " + quoted(id), [&]() -> result<delivery> {
      transaction tx(*conn_);
      auto current =
          conn_->prepare("SELECT status FROM deliveries WHERE client_id = ?1 AND id = ?2");
      if (!current.bind(client_id, id).step()) return not_found("delivery " + quoted(id));
      const std::string status = current.column_text(0);
      current.run();
      if (status != "succeeded" && status != "failed")
        return error{errc::conflict, "delivery " + quoted(id) + " is " + status};
      auto stmt = conn_->prepare(
          "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, updated_at = ?2, "
          "series_start = attempts WHERE id = ?1 RETURNING " +
          std::string(sqlite::deliveries_table.columns));
      auto row = fetch_one<delivery>(stmt.bind(id, now));
      if (!row) return not_found("delivery " + quoted(id));
      conn_->prepare("UPDATE dlq SET replayed_at = ?2 WHERE delivery_id = ?1 AND replayed_at = 0")
          .bind(id, now)
          .run();
      tx.commit();
      return std::move(*row);
    });
  }

  result<attempt_feed> list_attempt_feed(const std::string& client_id,
                                         const attempt_feed_request& req) override {
    int limit = clamp_page_size(req.limit);
    // The rowid is the feed position: attempts are only ever appended, and webhookd never runs
    // VACUUM (which could renumber them).
    return locked("read the attempt feed", [&]() -> result<attempt_feed> {
      const bool latest = req.after < 0;
      auto stmt = conn_->prepare(
          "SELECT a.delivery_id, a.attempt_no, a.started_at, a.duration_ms, a.status_code, "
          "a.error, a.response_excerpt, a.rowid, d.webhook_id, d.event_id, d.event_type "
          "FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id "
          "WHERE d.client_id = ?1 AND (?2 = '' OR d.webhook_id = ?2) AND a.rowid > ?3 "
          "ORDER BY a.rowid " +
          std::string(latest ? "DESC" : "ASC") + " LIMIT ?4");
      stmt.bind(client_id, req.webhook_id, latest ? int64_t{0} : req.after, limit);
      attempt_feed feed;
      while (stmt.step()) {
        attempt_record r;
        r.att = sqlite::read_row<attempt>(stmt);
        r.seq = stmt.column_int64(7);
        r.webhook_id = stmt.column_text(8);
        r.event_id = stmt.column_text(9);
        r.event_type = stmt.column_text(10);
        feed.items.push_back(std::move(r));
      }
      if (latest) std::reverse(feed.items.begin(), feed.items.end());
      feed.cursor = feed.items.empty() ? std::max<int64_t>(req.after, 0) : feed.items.back().seq;
      return feed;
    });
  }

  // --- dead-letter queue ---

  result<page<dlq_entry>> list_dlq(const std::string& client_id, const dlq_filter& filter,
                                   const page_request& req) override {
    int limit = clamp_page_size(req.limit);
    return locked("list DLQ entries", [&]() -> result<page<dlq_entry>> {
      auto stmt =
          conn_->prepare(select(sqlite::dlq_table) +
                         "WHERE client_id = ?1 AND (?2 = '' OR webhook_id = ?2) "
                         "AND (?3 = '' OR event_type = ?3) AND created_at >= ?4 "
                         "AND (?5 = 0 OR created_at < ?5) AND (?6 OR replayed_at = 0) "
                         "AND (?7 = '' OR delivery_id < ?7) ORDER BY delivery_id DESC LIMIT ?8");
      stmt.bind(client_id, filter.webhook_id, filter.event_type, filter.since, filter.until,
                filter.include_replayed, req.after, limit + 1);
      return make_page(fetch_all<dlq_entry>(stmt), limit,
                       [](const dlq_entry& e) { return e.delivery_id; });
    });
  }

  result<int64_t> count_dlq() override {
    return locked("count DLQ entries", [&]() -> result<int64_t> {
      // Kept by triggers (migration 6): counting the table held every commit behind the scan.
      return std::stoll(conn_->query_text("SELECT waiting FROM dlq_size WHERE id = 1"));
    });
  }

  result<std::vector<delivery>> replay_dlq(const std::string& client_id,
                                           const std::vector<std::string>& delivery_ids,
                                           int64_t now) override {
    return locked("replay DLQ entries", [&]() -> result<std::vector<delivery>> {
      transaction tx(*conn_);
      std::vector<delivery> requeued;
      for (const auto& id : delivery_ids)
        if (auto d = replay_one(client_id, id, now)) requeued.push_back(std::move(*d));
      tx.commit();
      return requeued;
    });
  }

  // --- cluster ---

  status heartbeat_node(const node& n) override {
    return locked("heartbeat node " + quoted(n.id), [&]() -> status {
      auto stmt = conn_->prepare(sqlite::insert_sql(sqlite::nodes_table) +
                                 " ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
                                 "heartbeat_at = excluded.heartbeat_at");
      sqlite::bind_row(stmt, n);
      stmt.run();
      return {};
    });
  }

  result<std::vector<node>> list_nodes() override {
    return locked("list nodes", [&]() -> result<std::vector<node>> {
      auto stmt = conn_->prepare(select(sqlite::nodes_table) + "ORDER BY id");
      return fetch_all<node>(stmt);
    });
  }

  result<bool> acquire_lease(int partition, const std::string& node_id, int64_t now,
                             int64_t expires_at) override {
    return locked("acquire lease on partition " + std::to_string(partition), [&]() -> result<bool> {
      transaction tx(*conn_);
      auto upsert =
          conn_->prepare(sqlite::insert_sql(sqlite::leases_table) +
                         " ON CONFLICT (\"partition\") DO UPDATE SET node_id = excluded.node_id, "
                         "expires_at = excluded.expires_at WHERE partition_leases.expires_at < ?4 "
                         "OR partition_leases.node_id = excluded.node_id");
      upsert.bind(partition, node_id, expires_at, now).run();
      auto holder = conn_->prepare("SELECT node_id FROM partition_leases WHERE \"partition\" = ?1");
      bool held = holder.bind(partition).step() && holder.column_text(0) == node_id;
      tx.commit();
      return held;
    });
  }

  result<std::vector<partition_lease>> list_leases() override {
    return locked("list leases", [&]() -> result<std::vector<partition_lease>> {
      auto stmt = conn_->prepare(select(sqlite::leases_table) + "ORDER BY \"partition\"");
      return fetch_all<partition_lease>(stmt);
    });
  }

 private:
  static std::string select(const sqlite::table& t) { return sqlite::select_sql(t); }

  /// Runs `body` under the connection mutex and turns any failure inside into an error whose
  /// message starts with `what`.
  template <class F>
  auto locked(const std::string& what, F&& body) -> decltype(body()) {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      return body();
    } catch (const sqlite::failure& f) {
      return error{f.err.code, "cannot " + what + ": " + f.err.message};
    } catch (const std::exception& e) {
      return error{errc::internal, "cannot " + what + ": " + e.what()};
    }
  }

  /// The source whose `column` equals `value`; `what` names it in errors.
  result<source> find_source(const char* column, const std::string& value,
                             const std::string& what) {
    return locked("get " + what, [&]() -> result<source> {
      auto stmt = conn_->prepare(select(sqlite::sources_table) + "WHERE " + column + " = ?1");
      auto row = fetch_one<source>(stmt.bind(value));
      if (!row) return not_found(what);
      return std::move(*row);
    });
  }

  /// Inserts one event and its deliveries with the batch's statements; false when the event is
  /// a duplicate.
  bool append_one(const new_event& item, statement& insert_event, statement& insert_delivery) {
    sqlite::bind_row(insert_event, item.ev);
    insert_event.run();
    insert_event.reset();
    if (conn_->changes() == 0) return false;
    for (const auto& d : item.deliveries) {
      sqlite::bind_row(insert_delivery, d);
      insert_delivery.run();
      insert_delivery.reset();
    }
    return true;
  }

  /// Applies one attempt outcome inside the caller's transaction, with the batch's statements.
  status record_one(const attempt_outcome& outcome, statement& update_delivery,
                    statement& insert_attempt) {
    const attempt& a = outcome.att;
    int64_t finished_at = a.started_at + a.duration_ms;
    const std::string last_error = attempt_error(a);  // bound without a copy: outlives the run
    update_delivery
        .bind(a.delivery_id, to_string(outcome.new_status), a.attempt_no, outcome.next_attempt_at,
              last_error, finished_at)
        .run();
    update_delivery.reset();
    if (conn_->changes() == 0) return not_found("delivery " + quoted(a.delivery_id));
    sqlite::bind_row(insert_attempt, a);
    insert_attempt.run();
    insert_attempt.reset();
    if (outcome.new_status == delivery_status::failed) {
      static const std::string to_dlq =
          "INSERT INTO dlq (" + std::string(sqlite::dlq_table.columns) +
          ") SELECT id, client_id, webhook_id, event_id, event_type, ?2, ?3, 0 "
          "FROM deliveries WHERE id = ?1 AND status = 'failed' "
          "ON CONFLICT (delivery_id) DO UPDATE SET "
          "reason = excluded.reason, created_at = excluded.created_at, replayed_at = 0";
      conn_->prepare(to_dlq).bind(a.delivery_id, outcome.dlq_reason, finished_at).run();
    }
    return {};
  }

  /// Marks one unreplayed DLQ entry of the client replayed and requeues its delivery, inside the
  /// caller's transaction; nullopt when there is no such entry.
  std::optional<delivery> replay_one(const std::string& client_id, const std::string& id,
                                     int64_t now) {
    conn_
        ->prepare(
            "UPDATE dlq SET replayed_at = ?3 "
            "WHERE client_id = ?1 AND delivery_id = ?2 AND replayed_at = 0")
        .bind(client_id, id, now)
        .run();
    if (conn_->changes() == 0) return std::nullopt;
    auto stmt = conn_->prepare(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, updated_at = ?2, "
        "series_start = attempts WHERE id = ?1 RETURNING " +
        std::string(sqlite::deliveries_table.columns));
    return fetch_one<delivery>(stmt.bind(id, now));
  }

  std::mutex mutex_;
  std::unique_ptr<connection> conn_;
};

/// Opens the file, checks it is writable, sets the pragmas and migrates; throws failure.
std::unique_ptr<connection> open_connection(const std::string& path) {
  auto opened = connection::open(path, busy_timeout_ms);
  if (!opened) sqlite::throw_failure(opened.err().code, opened.err().message);
  auto conn = std::move(*opened);
  auto mode = conn->query_text("PRAGMA journal_mode = WAL");
  if (mode != "wal" && !conn->is_memory())
    sqlite::throw_failure(errc::unavailable,
                          "cannot switch to WAL mode (journal mode is '" + mode + "')");
  conn->exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
  sqlite::apply_migrations(*conn);
  return conn;
}

}  // namespace

result<std::unique_ptr<blocking_store>> open_sqlite_store_blocking(const std::string& path) {
  try {
    return std::unique_ptr<blocking_store>(std::make_unique<sqlite_store>(open_connection(path)));
  } catch (const sqlite::failure& f) {
    return error{f.err.code, "cannot open SQLite store at '" + path + "': " + f.err.message};
  } catch (const std::exception& e) {
    return error{errc::internal, "cannot open SQLite store at '" + path + "': " + e.what()};
  }
}

}  // namespace webhookd::storage
