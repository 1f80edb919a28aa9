#include "webhookctl_format.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace webhookctl {

using nlohmann::json;

namespace {

// Code points in valid-looking UTF-8: continuation bytes don't count.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

bool is_scalar(const json& value) {
  return !value.is_object() && !value.is_array();
}

// object[name] when object is an object holding it, else null (never throws on odd shapes).
json member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  return it == object.end() ? json(nullptr) : *it;
}

// True only for a JSON `true` at object[name].
bool is_true(const json& object, const char* name) {
  const json value = member(object, name);
  return value.is_boolean() && value.get<bool>();
}

// Field of an object as cell text; "-" when absent.
std::string field(const json& object, const char* name) {
  if (!object.is_object()) return "-";
  const auto it = object.find(name);
  return it == object.end() ? "-" : cell_text(*it);
}

std::vector<std::string> fields(const json& object, std::initializer_list<const char*> names) {
  std::vector<std::string> cells;
  for (const char* name : names) cells.push_back(field(object, name));
  return cells;
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7F) {
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0x0F]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string cell_text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if ((value.is_array() || value.is_object()) && value.empty()) return "-";
  if (value.is_array() && std::all_of(value.begin(), value.end(), is_scalar)) {
    std::string joined;
    for (const auto& item : value) {
      if (!joined.empty()) joined += ",";
      joined += item.is_string() ? item.get<std::string>() : item.dump();
    }
    return joined;
  }
  return value.dump();
}

text_table::text_table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void text_table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& cell : cells) cell = terminal_safe(cell);
  rows_.push_back(std::move(cells));
}

void text_table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& header : headers_) widths.push_back(display_width(header));
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], display_width(row[i]));
  }
  auto print_line = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line.append(widths[i] - display_width(cells[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  std::vector<std::string> header_cells;
  for (const auto& header : headers_) header_cells.push_back(upper(header));
  print_line(header_cells);
  for (const auto& row : rows_) print_line(row);
}

void print_record(std::ostream& out, const record& fields) {
  std::size_t width = 0;
  for (const auto& [label, value] : fields) width = std::max(width, display_width(label));
  for (const auto& [label, value] : fields) {
    const std::string safe_label = terminal_safe(label);
    out << safe_label << ':' << std::string(width - display_width(label) + 2, ' ')
        << terminal_safe(value) << '\n';
  }
}

record object_record(const json& object, const std::vector<std::string>& order) {
  record out;
  if (!object.is_object()) return out;
  std::set<std::string> seen;
  for (const auto& name : order) {
    const auto it = object.find(name);
    if (it == object.end()) continue;
    out.emplace_back(name, cell_text(*it));
    seen.insert(name);
  }
  for (const auto& [name, value] : object.items()) {
    if (seen.count(name) == 0) out.emplace_back(name, cell_text(value));
  }
  return out;
}

std::string verification_text(const json& verification) {
  if (!verification.is_object()) return cell_text(verification);
  const json dns = member(verification, "dns");
  std::string text = is_true(dns, "ok") ? "dns ok" : "dns failed";
  const json addresses = member(dns, "addresses");
  if (addresses.is_array() && !addresses.empty()) text += " (" + cell_text(addresses) + ")";
  const json reach = member(verification, "reachability");
  const json status = member(reach, "status_code");
  const json error = member(reach, "error");
  if (is_true(reach, "ok")) {
    text += "; reachable";
    if (status.is_number()) text += " (HTTP " + status.dump() + ")";
  } else {
    text += "; not reachable";
    if (error.is_string()) {
      text += ": " + error.get<std::string>();
    } else if (status.is_number()) {
      text += ": HTTP " + status.dump();
    }
  }
  return text;
}

record webhook_record(const json& webhook) {
  json shown = webhook;
  if (shown.is_object()) {
    // Multi-line PEM would break the layout; its presence and size is what a reader needs.
    const auto key = shown.find("public_key");
    if (key != shown.end() && key->is_string()) {
      *key = "PEM, " + std::to_string(key->get_ref<const std::string&>().size()) + " bytes";
    }
    const auto verification = shown.find("verification");
    if (verification != shown.end()) *verification = verification_text(*verification);
  }
  return object_record(shown, {"webhook_id",
                               "client_id",
                               "status",
                               "disabled_reason",
                               "callback_url",
                               "event_types",
                               "trigger_conditions",
                               "priority",
                               "rate_limit",
                               "timeout_seconds",
                               "ordered",
                               "retry_policy",
                               "headers",
                               "public_key",
                               "encrypt_fields",
                               "description",
                               "created_at",
                               "updated_at",
                               "previous_secret_expires_at",
                               "signing_secret",
                               "verification"});
}

text_table webhook_table(const std::vector<json>& webhooks) {
  text_table table({"id", "status", "priority", "events", "url", "description"});
  for (const auto& w : webhooks) {
    table.add_row(fields(
        w, {"webhook_id", "status", "priority", "event_types", "callback_url", "description"}));
  }
  return table;
}

record event_type_record(const json& event_type) {
  return object_record(event_type, {"name", "description", "schema", "created_at"});
}

text_table event_type_table(const std::vector<json>& event_types) {
  text_table table({"name", "description", "created"});
  for (const auto& t : event_types) table.add_row(fields(t, {"name", "description", "created_at"}));
  return table;
}

record source_record(const json& source) {
  return object_record(source, {"source_id", "name", "api_key", "secret", "allowed_event_types",
                                "ip_allowlist", "created_at", "updated_at"});
}

text_table source_table(const std::vector<json>& sources) {
  text_table table({"id", "name", "api key", "events", "ip allowlist", "created"});
  for (const auto& s : sources) {
    table.add_row(fields(
        s, {"source_id", "name", "api_key", "allowed_event_types", "ip_allowlist", "created_at"}));
  }
  return table;
}

record delivery_record(const json& delivery) {
  json shown = delivery;
  if (shown.is_object()) shown.erase("attempts");
  return object_record(
      shown, {"delivery_id", "webhook_id", "event_id", "event_type", "status", "attempt_count",
              "next_attempt_at", "last_error", "created_at", "updated_at"});
}

text_table delivery_table(const std::vector<json>& deliveries) {
  text_table table(
      {"id", "webhook", "event", "type", "status", "attempts", "last error", "created"});
  for (const auto& d : deliveries) {
    table.add_row(fields(d, {"delivery_id", "webhook_id", "event_id", "event_type", "status",
                             "attempt_count", "last_error", "created_at"}));
  }
  return table;
}

namespace {

// The start of a response excerpt, on one line.
std::string excerpt_start(const json& value) {
  std::string text = cell_text(value);
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return text;
}

}  // namespace

text_table attempt_table(const std::vector<json>& attempts) {
  text_table table({"#", "started", "ms", "status", "error", "response"});
  for (const auto& a : attempts) {
    table.add_row({cell_text(member(a, "attempt_no")), cell_text(member(a, "started_at")),
                   cell_text(member(a, "duration_ms")), cell_text(member(a, "status_code")),
                   cell_text(member(a, "error")), excerpt_start(member(a, "response_excerpt"))});
  }
  return table;
}

text_table dlq_table(const std::vector<json>& entries) {
  text_table table({"delivery", "webhook", "event", "type", "reason", "created", "replayed"});
  for (const auto& e : entries) {
    table.add_row(fields(e, {"delivery_id", "webhook_id", "event_id", "event_type", "reason",
                             "created_at", "replayed_at"}));
  }
  return table;
}

std::string attempt_line(const json& attempt) {
  const json code = member(attempt, "status_code");
  std::string outcome = code.is_number() ? "HTTP " + cell_text(code)
                                         : "error: " + cell_text(member(attempt, "error"));
  return terminal_safe(
      cell_text(member(attempt, "started_at")) + "  " + cell_text(member(attempt, "delivery_id")) +
      "  " + cell_text(member(attempt, "webhook_id")) + "  " +
      cell_text(member(attempt, "event_type")) + "  #" + cell_text(member(attempt, "attempt_no")) +
      "  " + outcome + "  " + cell_text(member(attempt, "duration_ms")) + "ms");
}

std::string error_line(long status, std::string_view body) {
  const json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_object()) {
    const json error = member(doc, "error");
    const json code = member(error, "code");
    const json message = member(error, "message");
    if (code.is_string() && !code.get_ref<const std::string&>().empty()) {
      return terminal_safe("error: " + code.get<std::string>() + ": " +
                           (message.is_null() ? std::string() : cell_text(message)));
    }
  }
  // Not our error shape (a proxy, another server): show the start of what came back.
  std::string excerpt(body.substr(0, 200));
  while (!excerpt.empty() && std::isspace(static_cast<unsigned char>(excerpt.back()))) {
    excerpt.pop_back();
  }
  if (excerpt.empty()) excerpt = "no error body";
  return terminal_safe("error: http_" + std::to_string(status) + ": " + excerpt);
}

}  // namespace webhookctl
