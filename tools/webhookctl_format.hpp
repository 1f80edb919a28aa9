#pragma once

// webhookctl's human output: aligned tables for lists, "key: value" records for one object, and
// the one-line rendering of API errors. Everything the server sends is made safe for a terminal
// here (control characters are escaped), so a hostile description can't rewrite the screen.

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webhookctl {

/// Escapes control characters (\n, \t, \xNN; DEL too) so `text` stays on one terminal line.
std::string terminal_safe(std::string_view text);

/// How a JSON value reads in a cell: strings as they are, null as "-", arrays of scalars joined
/// with ",", empty arrays/objects as "-", other objects and arrays as compact JSON.
std::string cell_text(const nlohmann::json& value);

/// Columns of text separated by two spaces, a header row in upper case, the last column not
/// padded. Cells pass through terminal_safe; widths count UTF-8 code points.
class text_table {
 public:
  /// `headers` fixes the number of columns.
  explicit text_table(std::vector<std::string> headers);
  /// Adds one row; missing cells are blank, extra cells are dropped.
  void add_row(std::vector<std::string> cells);
  /// Number of rows added (the header not counted).
  std::size_t rows() const { return rows_.size(); }
  /// Writes the header and the rows, one line each.
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// One object's fields as (label, text) pairs, in display order.
using record = std::vector<std::pair<std::string, std::string>>;

/// Writes "label:  value" lines with the values aligned; values pass through terminal_safe.
void print_record(std::ostream& out, const record& fields);

/// The fields of `object` named in `order` (those present), then every other field in the
/// object's own order; labels are the JSON names. Values use cell_text.
record object_record(const nlohmann::json& object, const std::vector<std::string>& order);

/// A webhook (as GET, create, PATCH or rotate-secret return it) as a record: the main fields
/// first, then the signing secret and verification when present; a PEM key is summarised.
record webhook_record(const nlohmann::json& webhook);
/// The webhooks of a list page: ID, STATUS, PRIORITY, EVENTS, URL, DESCRIPTION.
text_table webhook_table(const std::vector<nlohmann::json>& webhooks);

/// An event type as a record.
record event_type_record(const nlohmann::json& event_type);
/// Event types: NAME, DESCRIPTION, CREATED.
text_table event_type_table(const std::vector<nlohmann::json>& event_types);

/// A source as a record (with its secret when create returned it).
record source_record(const nlohmann::json& source);
/// Sources: ID, NAME, API KEY, EVENTS, IP ALLOWLIST, CREATED.
text_table source_table(const std::vector<nlohmann::json>& sources);

/// A delivery (GET /deliveries/{id}, resend) as a record, its attempts left out.
record delivery_record(const nlohmann::json& delivery);
/// Deliveries: ID, WEBHOOK, EVENT, TYPE, STATUS, ATTEMPTS, LAST ERROR, CREATED.
text_table delivery_table(const std::vector<nlohmann::json>& deliveries);
/// Attempts of one delivery: #, STARTED, MS, STATUS, ERROR, RESPONSE (the excerpt's start).
text_table attempt_table(const std::vector<nlohmann::json>& attempts);
/// DLQ entries: DELIVERY, WEBHOOK, EVENT, TYPE, REASON, CREATED, REPLAYED.
text_table dlq_table(const std::vector<nlohmann::json>& entries);
/// One attempt of the attempt feed on one line (`webhookctl tail`):
/// "STARTED  DELIVERY  WEBHOOK  TYPE  #N  STATUS-or-ERROR  MSms".
std::string attempt_line(const nlohmann::json& attempt);

/// The `verification` object of a created webhook in one line, e.g.
/// "dns ok (93.184.216.34); reachable (HTTP 200)" or "dns ok (...); not reachable: timeout".
std::string verification_text(const nlohmann::json& verification);

/// The stderr line for a non-2xx answer: "error: <code>: <message>" from the API's error body,
/// or "error: http_<status>: <start of the body>" when the body is not one.
std::string error_line(long status, std::string_view body);

}  // namespace webhookctl
