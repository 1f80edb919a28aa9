#include "storage/pg_schema.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace webhookd::storage {
namespace {

// Advisory lock keys ("webhookd" in ASCII, and the next number) shared by every node.
constexpr int64_t migration_lock_key = 0x776562686f6f6b64;
constexpr int64_t partition_lock_key = migration_lock_key + 1;

struct migration {
  int version;
  const char* sql;
};

// Ordered steps; never edit a released step, append a new one. Key columns use the "C" collation
// so ids and cursors compare bytewise (as on SQLite) whatever the server's locale.
const migration migrations[] = {
    {1, R"sql(
CREATE TABLE webhooks (
  id text COLLATE "C" PRIMARY KEY,
  client_id text COLLATE "C" NOT NULL,
  callback_url text NOT NULL,
  event_types jsonb NOT NULL,
  trigger_conditions text NOT NULL,
  retry_policy text NOT NULL,
  rate_limit integer NOT NULL,
  priority text NOT NULL,
  ordered boolean NOT NULL,
  public_key text NOT NULL,
  encrypt_fields text NOT NULL,
  headers text NOT NULL,
  description text NOT NULL,
  status text NOT NULL,
  disabled_reason text NOT NULL,
  signing_secret text NOT NULL,
  previous_secret text NOT NULL,
  previous_secret_expires_at bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX webhooks_client_idx ON webhooks (client_id, id);
CREATE TABLE event_types (
  name text COLLATE "C" PRIMARY KEY,
  description text NOT NULL,
  schema text NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE sources (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  api_key text COLLATE "C" NOT NULL UNIQUE,
  secret text NOT NULL,
  allowed_event_types jsonb NOT NULL,
  ip_allowlist jsonb NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
)sql"},
    {2, R"sql(
CREATE TABLE event_keys (
  client_id text COLLATE "C" NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  received_day date NOT NULL,
  PRIMARY KEY (client_id, event_id)
);
CREATE TABLE events (
  client_id text COLLATE "C" NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  event_type text NOT NULL,
  source_timestamp bigint NOT NULL,
  payload text NOT NULL,
  source_id text NOT NULL,
  received_at bigint NOT NULL,
  received_day date NOT NULL,
  PRIMARY KEY (client_id, event_id, received_day)
) PARTITION BY RANGE (received_day);
)sql"},
    {3, R"sql(
CREATE TABLE deliveries (
  id text COLLATE "C" PRIMARY KEY,
  client_id text COLLATE "C" NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  event_type text NOT NULL,
  webhook_id text COLLATE "C" NOT NULL,
  partition integer NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
  attempts integer NOT NULL,
  next_attempt_at bigint NOT NULL,
  last_error text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX deliveries_due_idx ON deliveries (partition, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook_idx ON deliveries (webhook_id, id);
CREATE INDEX deliveries_event_idx ON deliveries (client_id, event_id);
CREATE TABLE delivery_attempts (
  delivery_id text COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt_no integer NOT NULL,
  started_at bigint NOT NULL,
  duration_ms bigint NOT NULL,
  status_code integer NOT NULL,
  error text NOT NULL,
  response_excerpt text NOT NULL,
  PRIMARY KEY (delivery_id, attempt_no)
);
CREATE TABLE dlq (
  delivery_id text COLLATE "C" PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
  client_id text COLLATE "C" NOT NULL,
  webhook_id text COLLATE "C" NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  event_type text NOT NULL,
  reason text NOT NULL,
  created_at bigint NOT NULL,
  replayed_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX dlq_client_idx ON dlq (client_id, delivery_id);
)sql"},
    {4, R"sql(
CREATE TABLE nodes (
  id text COLLATE "C" PRIMARY KEY,
  address text NOT NULL,
  heartbeat_at bigint NOT NULL
);
CREATE TABLE partition_leases (
  partition integer PRIMARY KEY,
  node_id text COLLATE "C" NOT NULL,
  expires_at bigint NOT NULL
);
)sql"},
    // The attempt feed's position: attempts in the order they were recorded.
    {5, R"sql(
ALTER TABLE delivery_attempts ADD COLUMN seq bigserial;
CREATE INDEX delivery_attempts_seq_idx ON delivery_attempts (seq);
)sql"},
    // A webhook's own attempt timeout; pending deliveries of one webhook found without scanning
    // its delivered history.
    {6, R"sql(
ALTER TABLE webhooks ADD COLUMN timeout_ms bigint NOT NULL DEFAULT 0;
CREATE INDEX deliveries_pending_idx ON deliveries (webhook_id, next_attempt_at)
  WHERE status = 'pending';
)sql"},
    // Where a delivery's current series of attempts began (a resend or replay starts a new one).
    {7, R"sql(
ALTER TABLE deliveries ADD COLUMN series_start integer NOT NULL DEFAULT 0;
)sql"},
};

struct civil_date {
  int64_t year;
  int month;
  int day;
};

// Howard Hinnant's civil_from_days: proleptic Gregorian date of a day number.
civil_date civil_from_days(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return civil_date{yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::string format_day(int64_t day, const char* format) {
  auto date = civil_from_days(day);
  char text[16];
  std::snprintf(text, sizeof text, format, static_cast<int>(date.year), date.month, date.day);
  return text;
}

}  // namespace

int latest_pg_schema_version() {
  return std::max_element(
             std::begin(migrations), std::end(migrations),
             [](const migration& a, const migration& b) { return a.version < b.version; })
      ->version;
}

int apply_pg_migrations_blocking(pqxx::connection& conn, int64_t now_ms) {
  pqxx::work tx(conn, "migrate");
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations "
      "(version integer PRIMARY KEY, applied_at bigint NOT NULL)");
  int version = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
  if (version > latest_pg_schema_version())
    throw std::runtime_error("schema version " + std::to_string(version) +
                             " is newer than this build supports (" +
                             std::to_string(latest_pg_schema_version()) + ")");
  for (const auto& step : migrations) {
    if (step.version <= version) continue;
    tx.exec(step.sql);
    tx.exec_params("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                   step.version, now_ms);
    version = step.version;
  }
  tx.commit();
  return version;
}

int64_t pg_day_of(int64_t unix_ms) {
  constexpr int64_t ms_per_day = 86'400'000;
  return unix_ms >= 0 ? unix_ms / ms_per_day : -((-unix_ms + ms_per_day - 1) / ms_per_day);
}

bool pg_day_in_range(int64_t day) {
  // 0001-01-01 and 9999-12-31 as day numbers.
  return day >= -719162 && day <= 2932896;
}

std::string pg_day_text(int64_t day) {
  return format_day(day, "%04d-%02d-%02d");
}

void ensure_pg_event_partitions_blocking(pqxx::connection& conn, const std::vector<int64_t>& days) {
  pqxx::work tx(conn, "event_partitions");
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", partition_lock_key);
  for (int64_t day : days) {
    tx.exec("CREATE TABLE IF NOT EXISTS events_p" + format_day(day, "%04d%02d%02d") +
            " PARTITION OF events FOR VALUES FROM ('" + pg_day_text(day) + "') TO ('" +
            pg_day_text(day + 1) + "')");
  }
  tx.commit();
}

}  // namespace webhookd::storage
