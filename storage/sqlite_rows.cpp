#include "storage/sqlite_rows.hpp"

#include <nlohmann/json.hpp>

#include <sstream>

namespace webhookd::storage::sqlite {

namespace {

std::vector<std::string> split_columns(const char* columns) {
  std::vector<std::string> out;
  std::stringstream in(columns);
  std::string column;
  while (std::getline(in, column, ',')) {
    auto first = column.find_first_not_of(' ');
    out.push_back(column.substr(first));
  }
  return out;
}

std::string placeholder(size_t index) {
  return "?" + std::to_string(index);
}

/// Reads a JSON array of strings; a corrupt value is an internal error naming the column.
std::vector<std::string> decode_list(const std::string& text, const char* column) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  bool ok = json.is_array();
  for (size_t i = 0; ok && i < json.size(); ++i) {
    ok = json[i].is_string();
    if (ok) out.push_back(json[i].get<std::string>());
  }
  if (!ok)
    throw_failure(errc::internal,
                  std::string("stored ") + column + " is not a JSON array of strings: " + text);
  return out;
}

delivery_status decode_status(const std::string& text) {
  auto status = delivery_status_from_string(text);
  if (!status) throw_failure(errc::internal, "stored delivery status '" + text + "' is unknown");
  return *status;
}

}  // namespace

std::string select_sql(const table& t) {
  return std::string("SELECT ") + t.columns + " FROM " + t.name + " ";
}

std::string insert_sql(const table& t) {
  auto columns = split_columns(t.columns);
  std::string values;
  for (size_t i = 1; i <= columns.size(); ++i) values += (i > 1 ? ", " : "") + placeholder(i);
  return std::string("INSERT INTO ") + t.name + " (" + t.columns + ") VALUES (" + values + ")";
}

std::string update_sql(const table& t, int key_columns) {
  auto columns = split_columns(t.columns);
  auto keys = static_cast<size_t>(key_columns);
  std::string sets;
  std::string where;
  for (size_t i = 0; i < columns.size(); ++i) {
    auto term = columns[i] + " = " + placeholder(i + 1);
    if (i < keys)
      where += (i > 0 ? " AND " : "") + term;
    else
      sets += (i > keys ? ", " : "") + term;
  }
  return std::string("UPDATE ") + t.name + " SET " + sets + " WHERE " + where;
}

std::string encode_list(const std::vector<std::string>& items) {
  return nlohmann::json(items).dump();
}

std::string encode_list(const std::vector<int>& items) {
  return nlohmann::json(items).dump();
}

// --- readers ---

template <>
webhook read_row<webhook>(const statement& stmt) {
  row_reader r(stmt);
  webhook w;
  w.id = r.text();
  w.client_id = r.text();
  w.callback_url = r.text();
  w.event_types = decode_list(r.text(), "webhooks.event_types");
  w.trigger_conditions = r.text();
  w.retry_policy = r.text();
  w.rate_limit = r.int32();
  w.priority = r.text();
  w.ordered = r.boolean();
  w.public_key = r.text();
  w.encrypt_fields = r.text();
  w.headers = r.text();
  w.description = r.text();
  w.status = r.text();
  w.disabled_reason = r.text();
  w.signing_secret = r.text();
  w.previous_secret = r.text();
  w.previous_secret_expires_at = r.int64();
  w.created_at = r.int64();
  w.updated_at = r.int64();
  w.timeout_ms = r.int64();
  return w;
}

template <>
event_type read_row<event_type>(const statement& stmt) {
  row_reader r(stmt);
  event_type t;
  t.name = r.text();
  t.description = r.text();
  t.schema = r.text();
  t.created_at = r.int64();
  return t;
}

template <>
source read_row<source>(const statement& stmt) {
  row_reader r(stmt);
  source s;
  s.id = r.text();
  s.name = r.text();
  s.api_key = r.text();
  s.secret = r.text();
  s.allowed_event_types = decode_list(r.text(), "sources.allowed_event_types");
  s.ip_allowlist = decode_list(r.text(), "sources.ip_allowlist");
  s.created_at = r.int64();
  s.updated_at = r.int64();
  return s;
}

template <>
event read_row<event>(const statement& stmt) {
  row_reader r(stmt);
  event e;
  e.client_id = r.text();
  e.event_id = r.text();
  e.event_type = r.text();
  e.timestamp = r.int64();
  e.payload = r.text();
  e.source_id = r.text();
  e.received_at = r.int64();
  return e;
}

template <>
delivery read_row<delivery>(const statement& stmt) {
  row_reader r(stmt);
  delivery d;
  d.id = r.text();
  d.client_id = r.text();
  d.event_id = r.text();
  d.event_type = r.text();
  d.webhook_id = r.text();
  d.partition = r.int32();
  d.status = decode_status(r.text());
  d.attempts = r.int32();
  d.next_attempt_at = r.int64();
  d.last_error = r.text();
  d.created_at = r.int64();
  d.updated_at = r.int64();
  d.series_start = r.int32();
  return d;
}

template <>
attempt read_row<attempt>(const statement& stmt) {
  row_reader r(stmt);
  attempt a;
  a.delivery_id = r.text();
  a.attempt_no = r.int32();
  a.started_at = r.int64();
  a.duration_ms = r.int64();
  a.status_code = r.int32();
  a.error = r.text();
  a.response_excerpt = r.text();
  return a;
}

template <>
dlq_entry read_row<dlq_entry>(const statement& stmt) {
  row_reader r(stmt);
  dlq_entry e;
  e.delivery_id = r.text();
  e.client_id = r.text();
  e.webhook_id = r.text();
  e.event_id = r.text();
  e.event_type = r.text();
  e.reason = r.text();
  e.created_at = r.int64();
  e.replayed_at = r.int64();
  return e;
}

template <>
node read_row<node>(const statement& stmt) {
  row_reader r(stmt);
  node n;
  n.id = r.text();
  n.address = r.text();
  n.heartbeat_at = r.int64();
  return n;
}

template <>
partition_lease read_row<partition_lease>(const statement& stmt) {
  row_reader r(stmt);
  partition_lease l;
  l.partition = r.int32();
  l.node_id = r.text();
  l.expires_at = r.int64();
  return l;
}

// --- binders ---

void bind_row(statement& stmt, const webhook& w) {
  stmt.bind(w.id, w.client_id, w.callback_url, encode_list(w.event_types), w.trigger_conditions,
            w.retry_policy, w.rate_limit, w.priority, w.ordered, w.public_key, w.encrypt_fields,
            w.headers, w.description, w.status, w.disabled_reason, w.signing_secret,
            w.previous_secret, w.previous_secret_expires_at, w.created_at, w.updated_at,
            w.timeout_ms);
}

void bind_row(statement& stmt, const event_type& t) {
  stmt.bind(t.name, t.description, t.schema, t.created_at);
}

void bind_row(statement& stmt, const source& s) {
  stmt.bind(s.id, s.name, s.api_key, s.secret, encode_list(s.allowed_event_types),
            encode_list(s.ip_allowlist), s.created_at, s.updated_at);
}

void bind_row(statement& stmt, const event& e) {
  stmt.bind(e.client_id, e.event_id, e.event_type, e.timestamp, e.payload, e.source_id,
            e.received_at);
}

void bind_row(statement& stmt, const delivery& d) {
  stmt.bind(d.id, d.client_id, d.event_id, d.event_type, d.webhook_id, d.partition,
            to_string(d.status), d.attempts, d.next_attempt_at, d.last_error, d.created_at,
            d.updated_at, d.series_start);
}

void bind_row(statement& stmt, const attempt& a) {
  stmt.bind(a.delivery_id, a.attempt_no, a.started_at, a.duration_ms, a.status_code, a.error,
            a.response_excerpt);
}

void bind_row(statement& stmt, const node& n) {
  stmt.bind(n.id, n.address, n.heartbeat_at);
}

void bind_row(statement& stmt, const partition_lease& l) {
  stmt.bind(l.partition, l.node_id, l.expires_at);
}

}  // namespace webhookd::storage::sqlite
