#include "storage/sqlite_migrations.hpp"

#include <string>

namespace webhookd::storage::sqlite {

namespace {

// Vector-valued fields (event_types, allowed_event_types, ip_allowlist) are JSON array text.
// Times are unix milliseconds; dlq.replayed_at is 0 until the entry is replayed.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  callback_url TEXT NOT NULL,
  event_types TEXT NOT NULL,
  trigger_conditions TEXT NOT NULL,
  retry_policy TEXT NOT NULL,
  rate_limit INTEGER NOT NULL,
  priority TEXT NOT NULL,
  ordered INTEGER NOT NULL,
  public_key TEXT NOT NULL,
  encrypt_fields TEXT NOT NULL,
  headers TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  disabled_reason TEXT NOT NULL,
  signing_secret TEXT NOT NULL,
  previous_secret TEXT NOT NULL,
  previous_secret_expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX webhooks_by_client ON webhooks (client_id, id);

CREATE TABLE event_types (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  schema TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE sources (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  api_key TEXT NOT NULL UNIQUE,
  secret TEXT NOT NULL,
  allowed_event_types TEXT NOT NULL,
  ip_allowlist TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE events (
  client_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  payload TEXT NOT NULL,
  source_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, event_id)
);

CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  "partition" INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  FOREIGN KEY (client_id, event_id) REFERENCES events (client_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (status, "partition", next_attempt_at);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_by_event ON deliveries (client_id, event_id);

CREATE TABLE delivery_attempts (
  delivery_id TEXT NOT NULL REFERENCES deliveries (id),
  attempt_no INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  error TEXT NOT NULL,
  response_excerpt TEXT NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, attempt_no);

CREATE TABLE dlq (
  delivery_id TEXT PRIMARY KEY REFERENCES deliveries (id),
  client_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  replayed_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dlq_by_client ON dlq (client_id, delivery_id);

CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  heartbeat_at INTEGER NOT NULL
);

CREATE TABLE partition_leases (
  "partition" INTEGER PRIMARY KEY,
  node_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
)sql";

// Per-webhook attempt timeout; pending deliveries of one webhook found without scanning its
// delivered history.
constexpr const char* schema_v2 = R"sql(
ALTER TABLE webhooks ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_pending_by_webhook ON deliveries (webhook_id, next_attempt_at)
  WHERE status = 'pending';
)sql";

// Where a delivery's current series of attempts began (a resend or replay starts a new one).
constexpr const char* schema_v3 = R"sql(
ALTER TABLE deliveries ADD COLUMN series_start INTEGER NOT NULL DEFAULT 0;
)sql";

// The due index holds pending deliveries only (every reader asks for status = 'pending'): a
// delivery leaving pending is one index delete instead of a delete and an insert, and the index
// stays the size of the backlog instead of the history.
constexpr const char* schema_v4 = R"sql(
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries ("partition", next_attempt_at) WHERE status = 'pending';
)sql";

// One attempt per (delivery, attempt number), as on PostgreSQL (its primary key), so recording an
// outcome again keeps the stored attempt. None should have copies (a batch was one transaction);
// any that do keep the first, or the unique index could not be made.
constexpr const char* schema_v5 = R"sql(
DELETE FROM delivery_attempts WHERE rowid NOT IN
  (SELECT MIN(rowid) FROM delivery_attempts GROUP BY delivery_id, attempt_no);
DROP INDEX delivery_attempts_by_delivery;
CREATE UNIQUE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, attempt_no);
)sql";

// The DLQ size (entries not replayed) kept by triggers: /metrics reads it on every scrape, and a
// count(*) under the store's one connection held every commit for about 100 ms per million
// entries. The DLQ is only inserted into (fresh, or re-parked with replayed_at = 0 by an upsert)
// and updated (replayed_at set by a replay or resend); the delete trigger keeps it right anyway.
constexpr const char* schema_v6 = R"sql(
CREATE TABLE dlq_size (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  waiting INTEGER NOT NULL
);
INSERT INTO dlq_size (id, waiting) SELECT 1, count(*) FROM dlq WHERE replayed_at = 0;
CREATE TRIGGER dlq_size_insert AFTER INSERT ON dlq WHEN NEW.replayed_at = 0
BEGIN
  UPDATE dlq_size SET waiting = waiting + 1 WHERE id = 1;
END;
CREATE TRIGGER dlq_size_update AFTER UPDATE OF replayed_at ON dlq
  WHEN (OLD.replayed_at = 0) <> (NEW.replayed_at = 0)
BEGIN
  UPDATE dlq_size SET waiting = waiting + (NEW.replayed_at = 0) - (OLD.replayed_at = 0)
    WHERE id = 1;
END;
CREATE TRIGGER dlq_size_delete AFTER DELETE ON dlq WHEN OLD.replayed_at = 0
BEGIN
  UPDATE dlq_size SET waiting = waiting - 1 WHERE id = 1;
END;
)sql";

constexpr const char* create_migrations_table =
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";

constexpr const char* now_ms_sql = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

bool is_applied(connection& conn, int version) {
  auto stmt = conn.prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
  return stmt.bind(version).step();
}

void apply(connection& conn, const migration& step) {
  transaction tx(conn);
  if (is_applied(conn, step.version)) return;  // another process got there first
  conn.exec(step.sql);
  conn.prepare(std::string("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ") +
               now_ms_sql + ")")
      .bind(step.version)
      .run();
  tx.commit();
}

}  // namespace

std::vector<migration> migrations() {
  return {{1, schema_v1}, {2, schema_v2}, {3, schema_v3},
          {4, schema_v4}, {5, schema_v5}, {6, schema_v6}};
}

int applied_version(connection& conn) {
  auto stmt = conn.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return stmt.step() ? static_cast<int>(stmt.column_int64(0)) : 0;
}

void apply_migrations(connection& conn) {
  auto steps = migrations();
  int known = steps.empty() ? 0 : steps.back().version;
  conn.exec(create_migrations_table);
  int current = applied_version(conn);
  if (current > known)
    throw_failure(errc::internal, "schema version " + std::to_string(current) +
                                      " is newer than this build supports (" +
                                      std::to_string(known) + ")");
  for (const auto& step : steps)
    if (step.version > current) apply(conn, step);
}

}  // namespace webhookd::storage::sqlite
