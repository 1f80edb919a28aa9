#pragma once

#include <string>
#include <vector>

#include "storage/sqlite_connection.hpp"
#include "storage/types.hpp"

/// How the SQLite store's rows map onto storage types: one column list, one reader and one
/// binder per type, all in the same column order.
namespace webhookd::storage::sqlite {

/// A table and its columns, in the order row readers and binders use.
struct table {
  const char* name;
  const char* columns;
};

inline constexpr table webhooks_table{
    "webhooks",
    "id, client_id, callback_url, event_types, trigger_conditions, retry_policy, rate_limit, "
    "priority, ordered, public_key, encrypt_fields, headers, description, status, "
    "disabled_reason, signing_secret, previous_secret, previous_secret_expires_at, created_at, "
    "updated_at, timeout_ms"};
inline constexpr table event_types_table{"event_types", "name, description, schema, created_at"};
inline constexpr table sources_table{
    "sources",
    "id, name, api_key, secret, allowed_event_types, ip_allowlist, created_at, updated_at"};
inline constexpr table events_table{
    "events", "client_id, event_id, event_type, timestamp, payload, source_id, received_at"};
inline constexpr table deliveries_table{
    "deliveries",
    "id, client_id, event_id, event_type, webhook_id, \"partition\", status, attempts, "
    "next_attempt_at, last_error, created_at, updated_at, series_start"};
inline constexpr table attempts_table{
    "delivery_attempts",
    "delivery_id, attempt_no, started_at, duration_ms, status_code, error, response_excerpt"};
inline constexpr table dlq_table{
    "dlq",
    "delivery_id, client_id, webhook_id, event_id, event_type, reason, created_at, replayed_at"};
inline constexpr table nodes_table{"nodes", "id, address, heartbeat_at"};
inline constexpr table leases_table{"partition_leases", "\"partition\", node_id, expires_at"};

/// "SELECT <columns> FROM <table> " (append the WHERE clause).
std::string select_sql(const table& t);
/// "INSERT INTO <table> (<columns>) VALUES (?1, ..., ?n)".
std::string insert_sql(const table& t);
/// "UPDATE <table> SET <column k+1> = ?k+1, ... WHERE <column 1> = ?1 AND ... <column k> = ?k":
/// the first `key_columns` columns identify the row, the rest are replaced.
std::string update_sql(const table& t, int key_columns);

/// The row the statement is on, read in its table's column order.
template <class T>
T read_row(const statement& stmt);

template <>
webhook read_row<webhook>(const statement& stmt);
template <>
event_type read_row<event_type>(const statement& stmt);
template <>
source read_row<source>(const statement& stmt);
template <>
event read_row<event>(const statement& stmt);
template <>
delivery read_row<delivery>(const statement& stmt);
template <>
attempt read_row<attempt>(const statement& stmt);
template <>
dlq_entry read_row<dlq_entry>(const statement& stmt);
template <>
node read_row<node>(const statement& stmt);
template <>
partition_lease read_row<partition_lease>(const statement& stmt);

/// Binds every column of a row to ?1..?n in its table's column order.
void bind_row(statement& stmt, const webhook& w);
void bind_row(statement& stmt, const event_type& t);
void bind_row(statement& stmt, const source& s);
void bind_row(statement& stmt, const event& e);
void bind_row(statement& stmt, const delivery& d);
void bind_row(statement& stmt, const attempt& a);
void bind_row(statement& stmt, const node& n);
void bind_row(statement& stmt, const partition_lease& l);

/// A list of strings as JSON array text.
std::string encode_list(const std::vector<std::string>& items);
/// Ints as JSON array text.
std::string encode_list(const std::vector<int>& items);

}  // namespace webhookd::storage::sqlite
