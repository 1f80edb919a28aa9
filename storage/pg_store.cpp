#include "storage/pg_store.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "storage/pg_pool.hpp"
#include "storage/pg_schema.hpp"

namespace webhookd::storage {
namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds acquire_timeout{10'000};
constexpr int max_page_limit = 1000;

/// The value of a successful call that returns nothing.
struct done {};

status to_status(const result<done>& r) {
  if (r) return {};
  return r.err();
}

// Housekeeping times (partition days at open, migration stamps) come from the wall clock;
// every time that decides behaviour is passed in by the caller.
int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int clamp_limit(int limit) {
  return std::clamp(limit, 1, max_page_limit);
}

// --- JSON-valued columns and batch parameters ---

std::string json_text(const json& value) {
  // strict: text that isn't UTF-8 throws json::type_error, reported as invalid input.
  return value.dump(-1, ' ', false, json::error_handler_t::strict);
}

std::vector<std::string> parse_string_array(const std::string& text) {
  auto value = json::parse(text);
  if (!value.is_array()) throw std::runtime_error("stored value is not a JSON array: " + text);
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string()) throw std::runtime_error("stored array holds a non-string: " + text);
    out.push_back(item.get<std::string>());
  }
  return out;
}

// --- tables: one column list per row type, read back in the same order by its mapper ---

struct table_spec {
  const char* name;
  std::vector<const char*> columns;

  /// "a, b, c", each prefixed with `qualifier.` when given.
  std::string select_list(const std::string& qualifier = "") const {
    std::string out;
    for (const char* column : columns) {
      if (!out.empty()) out += ", ";
      out += qualifier.empty() ? column : qualifier + "." + column;
    }
    return out;
  }

  /// INSERT of every column, parameters $1.. in column order.
  std::string insert_sql() const {
    std::string params;
    for (size_t i = 1; i <= columns.size(); ++i)
      params += (i > 1 ? ", $" : "$") + std::to_string(i);
    return std::string("INSERT INTO ") + name + " (" + select_list() + ") VALUES (" + params + ")";
  }

  /// UPDATE of every column after the first `key_count`, which form the WHERE clause; the
  /// parameters are in column order, as for insert_sql.
  std::string update_sql(size_t key_count) const {
    std::string sets, where;
    for (size_t i = 0; i < columns.size(); ++i) {
      auto clause = std::string(columns[i]) + " = $" + std::to_string(i + 1);
      if (i < key_count)
        where += (where.empty() ? "" : " AND ") + clause;
      else
        sets += (sets.empty() ? "" : ", ") + clause;
    }
    return std::string("UPDATE ") + name + " SET " + sets + " WHERE " + where;
  }

  /// The columns as a json_to_recordset column definition, types taken from `types`, after
  /// `leading` (a column definition of its own, such as "seq integer") when given.
  std::string recordset(const std::string& alias, const std::vector<const char*>& types,
                        const std::string& leading = "") const {
    std::string out = alias + "(" + leading;
    for (size_t i = 0; i < columns.size(); ++i)
      out += std::string(i || !leading.empty() ? ", " : "") + columns[i] + " " + types[i];
    return out + ")";
  }
};

/// Reads the fields of a row left to right.
class field_cursor {
 public:
  explicit field_cursor(const pqxx::row& row, pqxx::row::size_type first = 0)
      : row_(row), index_(first) {}

  std::string text() { return next().as<std::string>(std::string{}); }
  int64_t int64() { return next().as<int64_t>(0); }
  int int32() { return next().as<int>(0); }
  bool boolean() { return next().as<bool>(false); }
  std::vector<std::string> string_list() { return parse_string_array(text()); }

 private:
  pqxx::field next() { return row_[index_++]; }

  const pqxx::row& row_;
  pqxx::row::size_type index_;
};

const table_spec webhooks_table{"webhooks",
                                {"id",
                                 "client_id",
                                 "callback_url",
                                 "event_types",
                                 "trigger_conditions",
                                 "retry_policy",
                                 "rate_limit",
                                 "priority",
                                 "ordered",
                                 "public_key",
                                 "encrypt_fields",
                                 "headers",
                                 "description",
                                 "status",
                                 "disabled_reason",
                                 "signing_secret",
                                 "previous_secret",
                                 "previous_secret_expires_at",
                                 "created_at",
                                 "updated_at",
                                 "timeout_ms"}};

webhook webhook_from_row(const pqxx::row& row) {
  field_cursor f(row);
  webhook w;
  w.id = f.text();
  w.client_id = f.text();
  w.callback_url = f.text();
  w.event_types = f.string_list();
  w.trigger_conditions = f.text();
  w.retry_policy = f.text();
  w.rate_limit = f.int32();
  w.priority = f.text();
  w.ordered = f.boolean();
  w.public_key = f.text();
  w.encrypt_fields = f.text();
  w.headers = f.text();
  w.description = f.text();
  w.status = f.text();
  w.disabled_reason = f.text();
  w.signing_secret = f.text();
  w.previous_secret = f.text();
  w.previous_secret_expires_at = f.int64();
  w.created_at = f.int64();
  w.updated_at = f.int64();
  w.timeout_ms = f.int64();
  return w;
}

/// Runs a webhook statement whose parameters are the columns of webhooks_table in order.
pqxx::result exec_with_webhook(pqxx::transaction_base& tx, const char* statement,
                               const webhook& w) {
  return tx.exec_prepared(statement, w.id, w.client_id, w.callback_url, json_text(w.event_types),
                          w.trigger_conditions, w.retry_policy, w.rate_limit, w.priority, w.ordered,
                          w.public_key, w.encrypt_fields, w.headers, w.description, w.status,
                          w.disabled_reason, w.signing_secret, w.previous_secret,
                          w.previous_secret_expires_at, w.created_at, w.updated_at, w.timeout_ms);
}

const table_spec event_types_table{"event_types", {"name", "description", "schema", "created_at"}};

event_type event_type_from_row(const pqxx::row& row) {
  field_cursor f(row);
  event_type t;
  t.name = f.text();
  t.description = f.text();
  t.schema = f.text();
  t.created_at = f.int64();
  return t;
}

const table_spec sources_table{"sources",
                               {"id", "name", "api_key", "secret", "allowed_event_types",
                                "ip_allowlist", "created_at", "updated_at"}};

source source_from_row(const pqxx::row& row) {
  field_cursor f(row);
  source s;
  s.id = f.text();
  s.name = f.text();
  s.api_key = f.text();
  s.secret = f.text();
  s.allowed_event_types = f.string_list();
  s.ip_allowlist = f.string_list();
  s.created_at = f.int64();
  s.updated_at = f.int64();
  return s;
}

/// Runs a source statement whose parameters are the columns of sources_table in order.
pqxx::result exec_with_source(pqxx::transaction_base& tx, const char* statement, const source& s) {
  return tx.exec_prepared(statement, s.id, s.name, s.api_key, s.secret,
                          json_text(s.allowed_event_types), json_text(s.ip_allowlist), s.created_at,
                          s.updated_at);
}

// received_day is the partition key; it is written but not read back.
const table_spec events_table{"events",
                              {"client_id", "event_id", "event_type", "source_timestamp", "payload",
                               "source_id", "received_at", "received_day"}};
const std::vector<const char*> events_types{"text", "text", "text",   "bigint",
                                            "text", "text", "bigint", "date"};

/// The event whose columns start at field `first` of `row`.
event event_from_row_at(const pqxx::row& row, pqxx::row::size_type first) {
  field_cursor f(row, first);
  event e;
  e.client_id = f.text();
  e.event_id = f.text();
  e.event_type = f.text();
  e.timestamp = f.int64();
  e.payload = f.text();
  e.source_id = f.text();
  e.received_at = f.int64();
  return e;
}

event event_from_row(const pqxx::row& row) {
  return event_from_row_at(row, 0);
}

json event_to_json(const event& e) {
  return json{
      {"client_id", e.client_id},     {"event_id", e.event_id},
      {"event_type", e.event_type},   {"source_timestamp", e.timestamp},
      {"payload", e.payload},         {"source_id", e.source_id},
      {"received_at", e.received_at}, {"received_day", pg_day_text(pg_day_of(e.received_at))}};
}

const table_spec deliveries_table{
    "deliveries",
    {"id", "client_id", "event_id", "event_type", "webhook_id", "partition", "status", "attempts",
     "next_attempt_at", "last_error", "created_at", "updated_at", "series_start"}};
const std::vector<const char*> deliveries_types{"text",    "text",   "text",    "text",   "text",
                                                "integer", "text",   "integer", "bigint", "text",
                                                "bigint",  "bigint", "integer"};

delivery delivery_from_row(const pqxx::row& row) {
  field_cursor f(row);
  delivery d;
  d.id = f.text();
  d.client_id = f.text();
  d.event_id = f.text();
  d.event_type = f.text();
  d.webhook_id = f.text();
  d.partition = f.int32();
  auto status_name = f.text();
  auto st = delivery_status_from_string(status_name);
  if (!st) throw std::runtime_error("delivery " + d.id + " has unknown status " + status_name);
  d.status = *st;
  d.attempts = f.int32();
  d.next_attempt_at = f.int64();
  d.last_error = f.text();
  d.created_at = f.int64();
  d.updated_at = f.int64();
  d.series_start = f.int32();
  return d;
}

json delivery_to_json(const delivery& d) {
  return json{{"id", d.id},
              {"client_id", d.client_id},
              {"event_id", d.event_id},
              {"event_type", d.event_type},
              {"webhook_id", d.webhook_id},
              {"partition", d.partition},
              {"status", to_string(d.status)},
              {"attempts", d.attempts},
              {"next_attempt_at", d.next_attempt_at},
              {"last_error", d.last_error},
              {"created_at", d.created_at},
              {"updated_at", d.updated_at},
              {"series_start", d.series_start}};
}

const table_spec attempts_table{"delivery_attempts",
                                {"delivery_id", "attempt_no", "started_at", "duration_ms",
                                 "status_code", "error", "response_excerpt"}};
const std::vector<const char*> attempts_types{"text",    "integer", "bigint", "bigint",
                                              "integer", "text",    "text"};

attempt attempt_from_row(const pqxx::row& row) {
  field_cursor f(row);
  attempt a;
  a.delivery_id = f.text();
  a.attempt_no = f.int32();
  a.started_at = f.int64();
  a.duration_ms = f.int64();
  a.status_code = f.int32();
  a.error = f.text();
  a.response_excerpt = f.text();
  return a;
}

/// What a delivery's last_error becomes after an attempt: the transport error, "HTTP <code>" for
/// a non-2xx answer, empty after a success.
std::string attempt_error(const attempt& a) {
  if (!a.error.empty()) return a.error;
  if (a.status_code >= 200 && a.status_code < 300) return {};
  return "HTTP " + std::to_string(a.status_code);
}

/// One attempt_outcome as a record for the record_attempts statements; `seq` keeps batch order
/// so the last outcome of a delivery decides its state.
json outcome_to_json(const attempt_outcome& o, size_t seq) {
  const attempt& a = o.att;
  return json{{"seq", seq},
              {"delivery_id", a.delivery_id},
              {"attempt_no", a.attempt_no},
              {"started_at", a.started_at},
              {"duration_ms", a.duration_ms},
              {"status_code", a.status_code},
              {"error", a.error},
              {"response_excerpt", a.response_excerpt},
              {"new_status", to_string(o.new_status)},
              {"last_error", attempt_error(a)},
              {"next_attempt_at", o.next_attempt_at},
              {"finished_at", a.started_at + a.duration_ms},
              {"dlq_reason", o.dlq_reason}};
}

const table_spec dlq_table{"dlq",
                           {"delivery_id", "client_id", "webhook_id", "event_id", "event_type",
                            "reason", "created_at", "replayed_at"}};

dlq_entry dlq_entry_from_row(const pqxx::row& row) {
  field_cursor f(row);
  dlq_entry e;
  e.delivery_id = f.text();
  e.client_id = f.text();
  e.webhook_id = f.text();
  e.event_id = f.text();
  e.event_type = f.text();
  e.reason = f.text();
  e.created_at = f.int64();
  e.replayed_at = f.int64();
  return e;
}

const table_spec nodes_table{"nodes", {"id", "address", "heartbeat_at"}};

node node_from_row(const pqxx::row& row) {
  field_cursor f(row);
  node n;
  n.id = f.text();
  n.address = f.text();
  n.heartbeat_at = f.int64();
  return n;
}

const table_spec leases_table{"partition_leases", {"partition", "node_id", "expires_at"}};

partition_lease lease_from_row(const pqxx::row& row) {
  field_cursor f(row);
  partition_lease l;
  l.partition = f.int32();
  l.node_id = f.text();
  l.expires_at = f.int64();
  return l;
}

template <class T>
std::vector<T> rows_to(const pqxx::result& rows, T (*from_row)(const pqxx::row&)) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(from_row(row));
  return out;
}

/// The first row, or not_found naming `what`.
template <class T>
result<T> first_row(const pqxx::result& rows, T (*from_row)(const pqxx::row&),
                    const std::string& what) {
  if (rows.empty()) return error{errc::not_found, what + " not found"};
  return from_row(rows[0]);
}

/// not_found naming `what` when the statement touched no row.
result<done> require_affected(const pqxx::result& r, const std::string& what) {
  if (r.affected_rows() == 0) return error{errc::not_found, what + " not found"};
  return done{};
}

/// A page from rows fetched with LIMIT limit + 1: the extra row only says there is more.
template <class T, class CursorOf>
page<T> to_page(const pqxx::result& rows, int limit, T (*from_row)(const pqxx::row&),
                CursorOf cursor_of) {
  page<T> out;
  for (const auto& row : rows) {
    if (out.items.size() == static_cast<size_t>(limit)) {
      out.next_cursor = cursor_of(out.items.back());
      break;
    }
    out.items.push_back(from_row(row));
  }
  return out;
}

// --- statements, prepared on every connection ---

std::vector<std::pair<std::string, std::string>> statements() {
  const auto webhook_cols = webhooks_table.select_list();
  const auto source_cols = sources_table.select_list();
  const auto delivery_cols = deliveries_table.select_list();
  const auto dlq_cols = dlq_table.select_list();
  // The last outcome per delivery of a record_attempts batch.
  const std::string latest_outcomes =
      "(SELECT DISTINCT ON (o.delivery_id) o.* FROM json_to_recordset($1::json) AS "
      "o(seq integer, delivery_id text, attempt_no integer, new_status text, "
      "next_attempt_at bigint, last_error text, finished_at bigint, dlq_reason text) "
      "ORDER BY o.delivery_id, o.seq DESC) latest";
  // A webhook's pending deliveries ($1) with their events, ordered by `order_by` then id, at
  // most $2: the delivery's columns, then the event's (as event_get reads them).
  const auto pending_with_events = [](const std::string& order_by) {
    return "SELECT " + deliveries_table.select_list("d") +
           ", e.client_id, e.event_id, e.event_type, e.source_timestamp, e.payload, "
           "e.source_id, e.received_at FROM deliveries d "
           "LEFT JOIN event_keys k ON k.client_id = d.client_id AND k.event_id = d.event_id "
           "LEFT JOIN events e ON e.client_id = d.client_id AND e.event_id = d.event_id "
           "AND e.received_day = k.received_day "
           "WHERE d.webhook_id = $1 AND d.status = 'pending' ORDER BY " +
           order_by + ", d.id LIMIT $2";
  };
  return {
      {"ping", "SELECT 1"},
      {"schema_version", "SELECT coalesce(max(version), 0) FROM schema_migrations"},

      {"webhook_insert", webhooks_table.insert_sql()},
      {"webhook_get", "SELECT " + webhook_cols + " FROM webhooks WHERE client_id = $1 AND id = $2"},
      {"webhook_list", "SELECT " + webhook_cols +
                           " FROM webhooks WHERE client_id = $1 AND id > $2 ORDER BY id LIMIT $3"},
      {"webhook_update", webhooks_table.update_sql(2)},
      {"webhook_delete", "DELETE FROM webhooks WHERE client_id = $1 AND id = $2"},
      {"webhook_cancel_pending",
       "UPDATE deliveries SET status = 'cancelled' "
       "WHERE client_id = $1 AND webhook_id = $2 AND status = 'pending'"},
      {"webhook_load",
       "SELECT " + webhook_cols + " FROM webhooks WHERE status <> 'disabled' ORDER BY id"},

      {"event_type_insert", event_types_table.insert_sql()},
      {"event_type_list",
       "SELECT " + event_types_table.select_list() + " FROM event_types ORDER BY name"},

      {"source_insert", sources_table.insert_sql()},
      {"source_get", "SELECT " + source_cols + " FROM sources WHERE id = $1"},
      {"source_by_api_key", "SELECT " + source_cols + " FROM sources WHERE api_key = $1"},
      {"source_list", "SELECT " + source_cols + " FROM sources WHERE id > $1 ORDER BY id LIMIT $2"},
      {"source_update", sources_table.update_sql(1)},
      {"source_delete", "DELETE FROM sources WHERE id = $1"},

      // Keys are claimed in one order so that concurrent overlapping batches can't deadlock.
      // A key remembers its event's day, so get_event reads one partition.
      // A batch of events ($1, each with its place in the batch as seq) and their deliveries
      // ($2, each with its event's seq), in one statement: one round trip, committed on its own.
      // An event is new when this statement claims its key; the first of repeats in a batch
      // wins. Returns the seq of every new event; only they and their deliveries are written.
      {"events_append",
       "WITH e AS (SELECT * FROM json_to_recordset($1::json) AS " +
           events_table.recordset("e", events_types, "seq integer") +
           "), claimed AS (INSERT INTO event_keys (client_id, event_id, received_day) "
           "SELECT DISTINCT ON (client_id, event_id) client_id, event_id, received_day FROM e "
           "ORDER BY client_id, event_id, seq ON CONFLICT DO NOTHING "
           "RETURNING client_id, event_id), "
           "fresh AS (SELECT DISTINCT ON (e.client_id, e.event_id) e.* FROM e JOIN claimed c "
           "ON c.client_id = e.client_id AND c.event_id = e.event_id "
           "ORDER BY e.client_id, e.event_id, e.seq), "
           "new_events AS (INSERT INTO events (" +
           events_table.select_list() + ") SELECT " + events_table.select_list() +
           " FROM fresh), new_deliveries AS (INSERT INTO deliveries (" + delivery_cols +
           ") SELECT " + deliveries_table.select_list("d") +
           " FROM json_to_recordset($2::json) AS " +
           deliveries_table.recordset("d", deliveries_types, "seq integer") +
           " WHERE d.seq IN (SELECT seq FROM fresh)) SELECT seq FROM fresh"},
      {"event_get",
       "SELECT client_id, event_id, event_type, source_timestamp, payload, source_id, "
       "received_at FROM events WHERE client_id = $1 AND event_id = $2 AND received_day = "
       "(SELECT received_day FROM event_keys WHERE client_id = $1 AND event_id = $2)"},

      {"deliveries_due",
       "SELECT " + delivery_cols +
           " FROM deliveries WHERE status = 'pending' AND partition = ANY($1::integer[]) "
           "AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3"},
      {"deliveries_pending_for_webhook",
       "SELECT " + delivery_cols +
           " FROM deliveries WHERE webhook_id = $1 AND status = 'pending' ORDER BY id LIMIT $2"},
      // A skip scan of deliveries_pending_idx: one seek per webhook instead of reading every
      // pending row. A webhook's deliveries all carry its partition, so one row tells it.
      {"webhooks_with_pending",
       "WITH RECURSIVE w(id) AS ("
       "SELECT (SELECT webhook_id FROM deliveries WHERE status = 'pending' "
       "ORDER BY webhook_id LIMIT 1) "
       "UNION ALL SELECT (SELECT webhook_id FROM deliveries WHERE status = 'pending' "
       "AND webhook_id > w.id ORDER BY webhook_id LIMIT 1) FROM w WHERE w.id IS NOT NULL) "
       "SELECT id FROM w WHERE id IS NOT NULL AND (SELECT partition FROM deliveries "
       "WHERE webhook_id = w.id AND status = 'pending' LIMIT 1) = ANY($1::integer[]) "
       "ORDER BY id"},
      {"pending_with_events_by_due", pending_with_events("d.next_attempt_at")},
      {"pending_with_events_by_created", pending_with_events("d.created_at")},
      {"outcomes_apply",
       "UPDATE deliveries d SET status = CASE WHEN d.status = 'cancelled' THEN d.status "
       "ELSE latest.new_status END, attempts = latest.attempt_no, "
       "next_attempt_at = latest.next_attempt_at, last_error = latest.last_error, "
       "updated_at = latest.finished_at FROM " +
           latest_outcomes + " WHERE d.id = latest.delivery_id"},
      {"attempts_insert",
       "INSERT INTO delivery_attempts (" + attempts_table.select_list() + ") SELECT " +
           attempts_table.select_list("a") + " FROM json_to_recordset($1::json) AS " +
           attempts_table.recordset("a", attempts_types) + " ON CONFLICT DO NOTHING"},
      {"outcomes_to_dlq",
       "INSERT INTO dlq (" + dlq_cols +
           ") SELECT d.id, d.client_id, d.webhook_id, d.event_id, d.event_type, "
           "latest.dlq_reason, latest.finished_at, 0 FROM " +
           latest_outcomes +
           " JOIN deliveries d ON d.id = latest.delivery_id WHERE latest.new_status = 'failed' "
           "AND d.status = 'failed' "
           "ON CONFLICT (delivery_id) DO UPDATE SET reason = excluded.reason, "
           "created_at = excluded.created_at, replayed_at = 0"},
      {"delivery_get",
       "SELECT " + delivery_cols + " FROM deliveries WHERE client_id = $1 AND id = $2"},
      {"delivery_list", "SELECT " + delivery_cols +
                            " FROM deliveries WHERE client_id = $1 AND webhook_id = $2 "
                            "AND ($3::text = '' OR status = $3::text) AND created_at >= $4::bigint "
                            "AND ($5::bigint = 0 OR created_at < $5::bigint) "
                            "AND ($6::text = '' OR id < $6::text) ORDER BY id DESC LIMIT $7"},
      {"event_deliveries",
       "SELECT " + delivery_cols +
           " FROM deliveries WHERE client_id = $1 AND event_id = $2 ORDER BY id"},
      {"delivery_exists", "SELECT 1 FROM deliveries WHERE client_id = $1 AND id = $2"},
      {"attempt_list", "SELECT " + attempts_table.select_list() +
                           " FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt_no"},
      {"delivery_requeue",
       "UPDATE deliveries SET status = 'pending', next_attempt_at = $3, "
       "updated_at = $3 WHERE client_id = $1 AND id = $2 RETURNING " +
           delivery_cols},

      {"delivery_resend",
       "UPDATE deliveries SET status = 'pending', next_attempt_at = $3, updated_at = $3, "
       "series_start = attempts "
       "WHERE client_id = $1 AND id = $2 AND status IN ('succeeded', 'failed') RETURNING " +
           delivery_cols},
      {"delivery_status", "SELECT status FROM deliveries WHERE client_id = $1 AND id = $2"},
      {"dlq_mark_resent",
       "UPDATE dlq SET replayed_at = $2 WHERE delivery_id = $1 AND replayed_at = 0"},
      {"attempt_feed_after",
       "SELECT " + attempts_table.select_list("a") +
           ", a.seq, d.webhook_id, d.event_id, d.event_type FROM delivery_attempts a "
           "JOIN deliveries d ON d.id = a.delivery_id WHERE d.client_id = $1 "
           "AND ($2::text = '' OR d.webhook_id = $2::text) AND a.seq > $3::bigint "
           "ORDER BY a.seq LIMIT $4"},
      {"attempt_feed_latest",
       "SELECT " + attempts_table.select_list("a") +
           ", a.seq, d.webhook_id, d.event_id, d.event_type FROM delivery_attempts a "
           "JOIN deliveries d ON d.id = a.delivery_id WHERE d.client_id = $1 "
           "AND ($2::text = '' OR d.webhook_id = $2::text) ORDER BY a.seq DESC LIMIT $3"},

      {"dlq_list",
       "SELECT " + dlq_cols +
           " FROM dlq WHERE client_id = $1 AND ($2::text = '' OR webhook_id = $2::text) "
           "AND ($3::text = '' OR event_type = $3::text) AND created_at >= $4::bigint "
           "AND ($5::bigint = 0 OR created_at < $5::bigint) "
           "AND ($6::boolean OR replayed_at = 0) "
           "AND ($7::text = '' OR delivery_id < $7::text) "
           "ORDER BY delivery_id DESC LIMIT $8"},
      {"dlq_count", "SELECT count(*) FROM dlq WHERE replayed_at = 0"},
      {"dlq_replay",
       "WITH wanted AS (SELECT w.id, min(w.ord) AS ord FROM json_array_elements_text($2::json) "
       "WITH ORDINALITY AS w(id, ord) GROUP BY w.id), "
       "replayed AS (UPDATE dlq SET replayed_at = $3 FROM wanted WHERE dlq.client_id = $1 "
       "AND dlq.replayed_at = 0 AND dlq.delivery_id = wanted.id "
       "RETURNING dlq.delivery_id, wanted.ord), "
       "requeued AS (UPDATE deliveries d SET status = 'pending', next_attempt_at = $3, "
       "updated_at = $3, series_start = d.attempts FROM replayed r WHERE d.id = r.delivery_id "
       "RETURNING d.*, r.ord) "
       "SELECT " +
           delivery_cols + " FROM requeued ORDER BY ord"},

      {"node_heartbeat", nodes_table.insert_sql() +
                             " ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
                             "heartbeat_at = excluded.heartbeat_at"},
      {"node_list", "SELECT " + nodes_table.select_list() + " FROM nodes ORDER BY id"},
      {"lease_acquire",
       "INSERT INTO partition_leases (partition, node_id, expires_at) VALUES ($1, $2, $4) "
       "ON CONFLICT (partition) DO UPDATE SET node_id = excluded.node_id, "
       "expires_at = excluded.expires_at WHERE partition_leases.expires_at < $3 "
       "OR partition_leases.node_id = excluded.node_id RETURNING node_id"},
      {"lease_list",
       "SELECT " + leases_table.select_list() + " FROM partition_leases ORDER BY partition"},
  };
}

/// Makes the planner reach deliveries by primary key in the statements of this transaction that
/// join a batch (json_to_recordset) to it. The planner guesses a batch at 100 rows and plans a
/// prepared statement once per connection, from the table's size at the time: on a table that
/// was small then (a new database, before autovacuum's first ANALYZE) it chose a hash join over a
/// sequential scan of all deliveries, and kept it as the table grew. Measured in the benchmark's
/// (b) on PostgreSQL: outcomes_apply took 8.4 ms a batch of about 40 rows, 61 % of the time
/// spent in statements. A batch touches a few hundred rows at most, so index lookups are right
/// at any size.
constexpr const char* index_joins_only =
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; "
    "SET LOCAL enable_mergejoin = off";

/// Session settings and prepared statements of a new connection.
void prepare_session(pqxx::connection& conn) {
  // set_variable (not a plain SET) so libpqxx restores them if it ever reconnects this session.
  conn.set_variable("synchronous_commit", "on");
  // Keep server notices ("relation already exists, skipping") off stderr.
  conn.set_variable("client_min_messages", "warning");
  for (const auto& [name, sql] : statements()) conn.prepare(name, sql);
}

/// "{1,2,3}": a PostgreSQL integer array literal.
std::string int_array_literal(const std::vector<int>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out + "}";
}

/// invalid unless every delivery of every event names that event and its day fits a partition.
status check_batch(const std::vector<new_event>& batch) {
  for (const auto& item : batch) {
    const event& e = item.ev;
    if (!pg_day_in_range(pg_day_of(e.received_at)))
      return error{errc::invalid, "event " + e.event_id + ": received_at out of range"};
    for (const auto& d : item.deliveries)
      if (d.client_id != e.client_id || d.event_id != e.event_id || d.event_type != e.event_type)
        return error{errc::invalid, "delivery " + d.id + " does not match event " + e.event_id};
  }
  return {};
}

class pg_store final : public blocking_store {
 public:
  pg_store(pg_target target, int pool_size)
      : pool_(std::move(target), pool_size, acquire_timeout, prepare_session) {}

  /// Applies migrations and makes today's and tomorrow's event partitions.
  status open_blocking() {
    auto migrated = with_connection<done>("migrate", [](pqxx::connection& conn) -> result<done> {
      apply_pg_migrations_blocking(conn, wall_clock_ms());
      return done{};
    });
    if (!migrated) return migrated.err();
    int64_t today = pg_day_of(wall_clock_ms());
    return ensure_event_partitions({today, today + 1});
  }

  std::string backend() const override { return "postgresql"; }

  result<int> schema_version() override {
    return read<int>("schema_version", [](pqxx::nontransaction& tx) -> result<int> {
      return tx.exec_prepared("schema_version")[0][0].as<int>();
    });
  }

  status ping() override {
    return to_status(read<done>("ping", [](pqxx::nontransaction& tx) -> result<done> {
      tx.exec_prepared("ping");
      return done{};
    }));
  }

  // --- webhooks ---

  status insert_webhook(const webhook& w) override {
    return to_status(write<done>("insert_webhook", [&](pqxx::work& tx) -> result<done> {
      exec_with_webhook(tx, "webhook_insert", w);
      return done{};
    }));
  }

  result<webhook> get_webhook(const std::string& client_id, const std::string& id) override {
    return read<webhook>("get_webhook", [&](pqxx::nontransaction& tx) {
      return first_row(tx.exec_prepared("webhook_get", client_id, id), webhook_from_row,
                       "webhook " + id);
    });
  }

  result<page<webhook>> list_webhooks(const std::string& client_id,
                                      const page_request& req) override {
    int limit = clamp_limit(req.limit);
    return read<page<webhook>>("list_webhooks", [&](pqxx::nontransaction& tx) {
      auto rows = tx.exec_prepared("webhook_list", client_id, req.after, limit + 1);
      return to_page(rows, limit, webhook_from_row, [](const webhook& w) { return w.id; });
    });
  }

  status update_webhook(const webhook& w) override {
    return to_status(write<done>("update_webhook", [&](pqxx::work& tx) {
      return require_affected(exec_with_webhook(tx, "webhook_update", w), "webhook " + w.id);
    }));
  }

  result<int64_t> delete_webhook(const std::string& client_id, const std::string& id) override {
    return write<int64_t>("delete_webhook", [&](pqxx::work& tx) -> result<int64_t> {
      auto deleted =
          require_affected(tx.exec_prepared("webhook_delete", client_id, id), "webhook " + id);
      if (!deleted) return deleted.err();
      auto cancelled = tx.exec_prepared("webhook_cancel_pending", client_id, id);
      return static_cast<int64_t>(cancelled.affected_rows());
    });
  }

  result<std::vector<webhook>> load_webhooks() override {
    return read<std::vector<webhook>>("load_webhooks", [](pqxx::nontransaction& tx) {
      return rows_to(tx.exec_prepared("webhook_load"), webhook_from_row);
    });
  }

  // --- event types ---

  status insert_event_type(const event_type& t) override {
    return to_status(write<done>("insert_event_type", [&](pqxx::work& tx) -> result<done> {
      tx.exec_prepared("event_type_insert", t.name, t.description, t.schema, t.created_at);
      return done{};
    }));
  }

  result<std::vector<event_type>> list_event_types() override {
    return read<std::vector<event_type>>("list_event_types", [](pqxx::nontransaction& tx) {
      return rows_to(tx.exec_prepared("event_type_list"), event_type_from_row);
    });
  }

  // --- sources ---

  status insert_source(const source& s) override {
    return to_status(write<done>("insert_source", [&](pqxx::work& tx) -> result<done> {
      exec_with_source(tx, "source_insert", s);
      return done{};
    }));
  }

  result<source> get_source(const std::string& id) override {
    return read<source>("get_source", [&](pqxx::nontransaction& tx) {
      return first_row(tx.exec_prepared("source_get", id), source_from_row, "source " + id);
    });
  }

  result<source> find_source_by_api_key(const std::string& api_key) override {
    return read<source>("find_source_by_api_key", [&](pqxx::nontransaction& tx) {
      return first_row(tx.exec_prepared("source_by_api_key", api_key), source_from_row,
                       "source with that api key");
    });
  }

  result<page<source>> list_sources(const page_request& req) override {
    int limit = clamp_limit(req.limit);
    return read<page<source>>("list_sources", [&](pqxx::nontransaction& tx) {
      auto rows = tx.exec_prepared("source_list", req.after, limit + 1);
      return to_page(rows, limit, source_from_row, [](const source& s) { return s.id; });
    });
  }

  status update_source(const source& s) override {
    return to_status(write<done>("update_source", [&](pqxx::work& tx) {
      return require_affected(exec_with_source(tx, "source_update", s), "source " + s.id);
    }));
  }

  status delete_source(const std::string& id) override {
    return to_status(write<done>("delete_source", [&](pqxx::work& tx) {
      return require_affected(tx.exec_prepared("source_delete", id), "source " + id);
    }));
  }

  // --- ingestion ---

  result<append_result> append_events(const std::vector<new_event>& batch) override {
    if (batch.empty()) return append_result{};
    if (auto checked = check_batch(batch); !checked) return checked.err();
    std::vector<int64_t> days;
    for (const auto& item : batch) days.push_back(pg_day_of(item.ev.received_at));
    if (auto ready = ensure_event_partitions(days); !ready) return ready.err();
    bool missing_partition = false;
    auto appended = append_once(batch, missing_partition);
    if (appended || !missing_partition) return appended;
    // Someone dropped a partition this process had seen: forget what we know and retry once.
    forget_event_partitions();
    if (auto ready = ensure_event_partitions(days); !ready) return ready.err();
    return append_once(batch, missing_partition);
  }

  result<event> get_event(const std::string& client_id, const std::string& event_id) override {
    return read<event>("get_event", [&](pqxx::nontransaction& tx) {
      return first_row(tx.exec_prepared("event_get", client_id, event_id), event_from_row,
                       "event " + event_id);
    });
  }

  // --- delivery ---

  result<std::vector<delivery>> load_due_deliveries(const std::vector<int>& partitions,
                                                    int64_t due_before, int limit) override {
    if (partitions.empty() || limit <= 0) return std::vector<delivery>{};
    return read<std::vector<delivery>>("load_due_deliveries", [&](pqxx::nontransaction& tx) {
      return rows_to(
          tx.exec_prepared("deliveries_due", int_array_literal(partitions), due_before, limit),
          delivery_from_row);
    });
  }

  result<std::vector<delivery>> load_pending_for_webhook(const std::string& webhook_id,
                                                         int limit) override {
    if (limit <= 0) return std::vector<delivery>{};
    return read<std::vector<delivery>>("load_pending_for_webhook", [&](pqxx::nontransaction& tx) {
      return rows_to(tx.exec_prepared("deliveries_pending_for_webhook", webhook_id, limit),
                     delivery_from_row);
    });
  }

  result<std::vector<std::string>> webhooks_with_pending(
      const std::vector<int>& partitions) override {
    if (partitions.empty()) return std::vector<std::string>{};
    return read<std::vector<std::string>>("webhooks_with_pending", [&](pqxx::nontransaction& tx) {
      std::vector<std::string> ids;
      for (const auto& row :
           tx.exec_prepared("webhooks_with_pending", int_array_literal(partitions)))
        ids.push_back(row[0].as<std::string>());
      return ids;
    });
  }

  result<std::vector<pending_delivery>> load_pending_with_events(const std::string& webhook_id,
                                                                 pending_order order,
                                                                 int limit) override {
    if (limit <= 0) return std::vector<pending_delivery>{};
    const char* statement = order == pending_order::due ? "pending_with_events_by_due"
                                                        : "pending_with_events_by_created";
    return read<std::vector<pending_delivery>>(
        "load_pending_with_events",
        [&](pqxx::nontransaction& tx) -> result<std::vector<pending_delivery>> {
          const auto event_first =
              static_cast<pqxx::row::size_type>(deliveries_table.columns.size());
          std::vector<pending_delivery> out;
          for (const auto& row : tx.exec_prepared(statement, webhook_id, limit)) {
            pending_delivery item{delivery_from_row(row), {}};
            if (row[event_first].is_null())
              return error{errc::internal, "pending delivery " + item.row.id + " has no event " +
                                               item.row.event_id};
            item.ev = event_from_row_at(row, event_first);
            out.push_back(std::move(item));
          }
          return out;
        });
  }

  status record_attempts(const std::vector<attempt_outcome>& outcomes) override {
    if (outcomes.empty()) return {};
    json records = json::array();
    std::set<std::string> delivery_ids;
    bool any_failed = false;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      records.push_back(outcome_to_json(outcomes[i], i));
      delivery_ids.insert(outcomes[i].att.delivery_id);
      any_failed = any_failed || outcomes[i].new_status == delivery_status::failed;
    }
    return to_status(write<done>("record_attempts", [&](pqxx::work& tx) -> result<done> {
      tx.exec0(index_joins_only);
      auto param = json_text(records);
      auto updated = tx.exec_prepared("outcomes_apply", param);
      if (updated.affected_rows() != delivery_ids.size())
        return error{errc::not_found, "record_attempts: a delivery of the batch does not exist"};
      tx.exec_prepared("attempts_insert", param);
      // Only outcomes whose new status is failed make DLQ entries: without one, the statement
      // would be a round trip (and a parse of the batch) that writes nothing.
      if (any_failed) tx.exec_prepared("outcomes_to_dlq", param);
      return done{};
    }));
  }

  result<delivery> get_delivery(const std::string& client_id, const std::string& id) override {
    return read<delivery>("get_delivery", [&](pqxx::nontransaction& tx) {
      return first_row(tx.exec_prepared("delivery_get", client_id, id), delivery_from_row,
                       "delivery " + id);
    });
  }

  result<page<delivery>> list_deliveries(const std::string& client_id,
                                         const std::string& webhook_id,
                                         const delivery_filter& filter,
                                         const page_request& req) override {
    int limit = clamp_limit(req.limit);
    std::string status_name = filter.status ? to_string(*filter.status) : "";
    return read<page<delivery>>("list_deliveries", [&](pqxx::nontransaction& tx) {
      auto rows = tx.exec_prepared("delivery_list", client_id, webhook_id, status_name,
                                   filter.since, filter.until, req.after, limit + 1);
      return to_page(rows, limit, delivery_from_row, [](const delivery& d) { return d.id; });
    });
  }

  result<std::vector<delivery>> list_event_deliveries(const std::string& client_id,
                                                      const std::string& event_id) override {
    return read<std::vector<delivery>>("list_event_deliveries", [&](pqxx::nontransaction& tx) {
      return rows_to(tx.exec_prepared("event_deliveries", client_id, event_id), delivery_from_row);
    });
  }

  result<std::vector<attempt>> list_attempts(const std::string& client_id,
                                             const std::string& delivery_id) override {
    return read<std::vector<attempt>>(
        "list_attempts", [&](pqxx::nontransaction& tx) -> result<std::vector<attempt>> {
          if (tx.exec_prepared("delivery_exists", client_id, delivery_id).empty())
            return error{errc::not_found, "delivery " + delivery_id + " not found"};
          return rows_to(tx.exec_prepared("attempt_list", delivery_id), attempt_from_row);
        });
  }

  result<delivery> requeue_delivery(const std::string& client_id, const std::string& id,
                                    int64_t due_at) override {
    return write<delivery>("requeue_delivery", [&](pqxx::work& tx) {
      return first_row(tx.exec_prepared("delivery_requeue", client_id, id, due_at),
                       delivery_from_row, "delivery " + id);
    });
  }

  result<delivery> resend_delivery(const std::string& client_id, const std::string& id,
                                   int64_t now) override {
    return write<delivery>("resend_delivery", [&](pqxx::work& tx) -> result<delivery> {
      auto rows = tx.exec_prepared("delivery_resend", client_id, id, now);
      if (rows.empty()) {
        auto current = tx.exec_prepared("delivery_status", client_id, id);
        if (current.empty()) return error{errc::not_found, "delivery " + id + " not found"};
        return error{errc::conflict, "delivery " + id + " is " + current[0][0].as<std::string>()};
      }
      tx.exec_prepared("dlq_mark_resent", id, now);
      return delivery_from_row(rows[0]);
    });
  }

  result<attempt_feed> list_attempt_feed(const std::string& client_id,
                                         const attempt_feed_request& req) override {
    int limit = clamp_limit(req.limit);
    return read<attempt_feed>("list_attempt_feed", [&](pqxx::nontransaction& tx) {
      const bool latest = req.after < 0;
      auto rows = latest ? tx.exec_prepared("attempt_feed_latest", client_id, req.webhook_id, limit)
                         : tx.exec_prepared("attempt_feed_after", client_id, req.webhook_id,
                                            req.after, limit);
      attempt_feed feed;
      for (const auto& row : rows) {
        attempt_record r;
        r.att = attempt_from_row(row);
        r.seq = row[7].as<int64_t>();
        r.webhook_id = row[8].as<std::string>();
        r.event_id = row[9].as<std::string>();
        r.event_type = row[10].as<std::string>();
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
    int limit = clamp_limit(req.limit);
    return read<page<dlq_entry>>("list_dlq", [&](pqxx::nontransaction& tx) {
      auto rows = tx.exec_prepared("dlq_list", client_id, filter.webhook_id, filter.event_type,
                                   filter.since, filter.until, filter.include_replayed, req.after,
                                   limit + 1);
      return to_page(rows, limit, dlq_entry_from_row,
                     [](const dlq_entry& e) { return e.delivery_id; });
    });
  }

  result<int64_t> count_dlq() override {
    return read<int64_t>("count_dlq", [](pqxx::nontransaction& tx) -> result<int64_t> {
      return tx.exec_prepared("dlq_count")[0][0].as<int64_t>();
    });
  }

  result<std::vector<delivery>> replay_dlq(const std::string& client_id,
                                           const std::vector<std::string>& delivery_ids,
                                           int64_t now) override {
    if (delivery_ids.empty()) return std::vector<delivery>{};
    return write<std::vector<delivery>>("replay_dlq", [&](pqxx::work& tx) {
      return rows_to(tx.exec_prepared("dlq_replay", client_id, json_text(delivery_ids), now),
                     delivery_from_row);
    });
  }

  // --- cluster ---

  status heartbeat_node(const node& n) override {
    return to_status(write<done>("heartbeat_node", [&](pqxx::work& tx) -> result<done> {
      tx.exec_prepared("node_heartbeat", n.id, n.address, n.heartbeat_at);
      return done{};
    }));
  }

  result<std::vector<node>> list_nodes() override {
    return read<std::vector<node>>("list_nodes", [](pqxx::nontransaction& tx) {
      return rows_to(tx.exec_prepared("node_list"), node_from_row);
    });
  }

  result<bool> acquire_lease(int partition, const std::string& node_id, int64_t now,
                             int64_t expires_at) override {
    return write<bool>("acquire_lease", [&](pqxx::work& tx) -> result<bool> {
      return !tx.exec_prepared("lease_acquire", partition, node_id, now, expires_at).empty();
    });
  }

  result<std::vector<partition_lease>> list_leases() override {
    return read<std::vector<partition_lease>>("list_leases", [](pqxx::nontransaction& tx) {
      return rows_to(tx.exec_prepared("lease_list"), lease_from_row);
    });
  }

 private:
  /// Runs `body(connection)` on a pooled connection; every exception becomes an error, and a
  /// connection that broke is dropped so the next call reconnects.
  template <class T, class Body>
  result<T> with_connection(const std::string& operation, Body&& body) {
    auto lease = pool_.acquire_blocking();
    if (!lease) return lease.err();
    try {
      return body(lease->connection());
    } catch (const json::type_error& e) {
      return error{errc::invalid, operation + ": " + e.what()};
    } catch (...) {
      bool broken = false;
      auto err = pg_error_from_current_exception(pool_.endpoint(), operation, broken);
      if (broken || !lease->connection().is_open()) lease->mark_broken();
      return err;
    }
  }

  /// Runs `body(tx)` in a transaction of type Tx, committed when the body returns a value.
  template <class Tx, class T, class Body>
  result<T> in_transaction(const std::string& operation, Body&& body) {
    return with_connection<T>(operation, [&](pqxx::connection& conn) -> result<T> {
      Tx tx(conn);
      result<T> out = body(tx);
      if (out) tx.commit();
      return out;
    });
  }

  /// Reads: no BEGIN/COMMIT round trips.
  template <class T, class Body>
  result<T> read(const std::string& operation, Body&& body) {
    return in_transaction<pqxx::nontransaction, T>(operation, std::forward<Body>(body));
  }

  template <class T, class Body>
  result<T> write(const std::string& operation, Body&& body) {
    return in_transaction<pqxx::work, T>(operation, std::forward<Body>(body));
  }

  /// A write that is one statement: it commits on its own, without BEGIN and COMMIT round trips.
  template <class T, class Body>
  result<T> write_one_statement(const std::string& operation, Body&& body) {
    return in_transaction<pqxx::nontransaction, T>(operation, std::forward<Body>(body));
  }

  /// One attempt at append_events; sets `missing_partition` when an event found no partition.
  result<append_result> append_once(const std::vector<new_event>& batch, bool& missing_partition) {
    json events = json::array();
    json deliveries = json::array();
    for (size_t seq = 0; seq < batch.size(); ++seq) {
      events.push_back(event_to_json(batch[seq].ev));
      events.back()["seq"] = seq;
      for (const auto& d : batch[seq].deliveries) {
        deliveries.push_back(delivery_to_json(d));
        deliveries.back()["seq"] = seq;
      }
    }
    return write_one_statement<append_result>(
        "append_events", [&](pqxx::nontransaction& tx) -> result<append_result> {
          append_result out;
          out.duplicate.assign(batch.size(), true);
          try {
            for (const auto& row :
                 tx.exec_prepared("events_append", json_text(events), json_text(deliveries))) {
              auto seq = row[0].as<size_t>();
              if (seq >= batch.size())
                return error{errc::internal, "append_events: the store returned seq " +
                                                 std::to_string(seq) + " of a batch of " +
                                                 std::to_string(batch.size())};
              out.duplicate[seq] = false;
            }
          } catch (const pqxx::check_violation&) {
            missing_partition = true;
            throw;
          }
          return out;
        });
  }

  /// Creates the event partitions of these days that this process hasn't seen yet.
  status ensure_event_partitions(const std::vector<int64_t>& days) {
    std::vector<int64_t> missing;
    {
      std::lock_guard<std::mutex> lock(days_mutex_);
      for (int64_t day : days)
        if (known_days_.count(day) == 0 &&
            std::find(missing.begin(), missing.end(), day) == missing.end())
          missing.push_back(day);
    }
    if (missing.empty()) return {};
    auto created = with_connection<done>("create event partitions",
                                         [&](pqxx::connection& conn) -> result<done> {
                                           ensure_pg_event_partitions_blocking(conn, missing);
                                           return done{};
                                         });
    if (!created) return created.err();
    std::lock_guard<std::mutex> lock(days_mutex_);
    known_days_.insert(missing.begin(), missing.end());
    return {};
  }

  void forget_event_partitions() {
    std::lock_guard<std::mutex> lock(days_mutex_);
    known_days_.clear();
  }

  pg_pool pool_;
  std::mutex days_mutex_;
  std::set<int64_t> known_days_;  ///< days whose events partition exists
};

}  // namespace

result<std::unique_ptr<blocking_store>> open_pg_store_blocking(const std::string& url,
                                                               int pool_size) {
  if (pool_size < 1)
    return error{errc::invalid,
                 "PostgreSQL pool size must be at least 1, got " + std::to_string(pool_size)};
  auto target = parse_pg_target(url);
  if (!target) return target.err();
  auto store = std::make_unique<pg_store>(std::move(*target), pool_size);
  if (auto opened = store->open_blocking(); !opened) return opened.err();
  return std::unique_ptr<blocking_store>(std::move(store));
}

}  // namespace webhookd::storage
