#include "webhookctl_cli.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <variant>

#include "webhookctl_actors.hpp"
#include "webhookctl_format.hpp"

#ifndef WEBHOOKCTL_VERSION
#define WEBHOOKCTL_VERSION "unknown"
#endif

namespace webhookctl {

using nlohmann::json;

namespace {

constexpr const char* webhooks_path = "/api/v1/webhooks";
constexpr const char* event_types_path = "/api/v1/event-types";
constexpr const char* sources_path = "/api/v1/sources";
constexpr const char* deliveries_path = "/api/v1/deliveries";
constexpr const char* dlq_path = "/api/v1/dlq";
constexpr const char* attempts_path = "/api/v1/attempts";

// A command line that parsed but makes no sense (bad JSON argument, unreadable file, ...).
struct usage_error {
  std::string message;
};

template <class T>
using checked = std::variant<T, usage_error>;

std::string trim(std::string text) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

checked<std::string> read_file_arg(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error{option + ": cannot read " + path};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return usage_error{option + ": cannot read " + path};
  return text;
}

// A JSON argument: the text itself, or "@path" for the contents of a file.
checked<json> json_arg(const std::string& option, const std::string& text) {
  std::string source = text;
  if (!text.empty() && text.front() == '@') {
    auto file = read_file_arg(option, text.substr(1));
    if (auto* error = std::get_if<usage_error>(&file)) return *error;
    source = std::get<std::string>(std::move(file));
  }
  try {
    return json::parse(source);
  } catch (const json::parse_error& e) {
    return usage_error{option + ": invalid JSON at byte " + std::to_string(e.byte)};
  }
}

// A list option: every occurrence split at commas; no entry may be empty ("a,,b", "a,").
checked<json> list_arg(const std::string& option, const std::vector<std::string>& items) {
  json out = json::array();
  for (const auto& item : items) {
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = item.find(',', start);
      const std::string value = trim(item.substr(start, comma - start));
      if (value.empty()) return usage_error{option + ": empty entry in \"" + item + "\""};
      out.push_back(value);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

checked<json> headers_arg(const std::vector<std::string>& items) {
  json out = json::object();
  std::set<std::string> seen;
  for (const auto& item : items) {
    auto header = parse_header_arg(item);
    if (!header) return usage_error{"--header: expected NAME:VALUE, got \"" + item + "\""};
    if (!seen.insert(lower(header->first)).second) {
      return usage_error{"--header: " + header->first + " given twice"};
    }
    out[header->first] = header->second;
  }
  return out;
}

// How one call went: the parsed body of a 2xx answer, or the exit code after the reason was
// printed.
class session {
 public:
  session(connection_settings settings, const transport_factory& factory, bool json_output,
          std::ostream& out, std::ostream& err)
      : settings_(std::move(settings)),
        factory_(factory),
        json_output_(json_output),
        out_(out),
        err_(err) {}

  bool json_output() const { return json_output_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  int failure() const { return failure_; }

  // Sends a request. A 2xx answer gives its JSON body (null when empty); anything else prints
  // one line on err and gives nullopt, failure() telling the exit code.
  std::optional<json> call(const std::string& method, const std::string& path,
                           const std::optional<json>& body = std::nullopt) {
    if (!transport_) transport_ = factory_(settings_);
    api_request request{method, path, std::nullopt};
    if (body) request.body = body->dump();
    transport_result result = transport_->send(request);
    if (const auto* error = std::get_if<transport_error>(&result)) {
      err_ << terminal_safe("error: cannot reach " + settings_.base_url + ": " + error->message)
           << '\n';
      failure_ = exit_unreachable;
      return std::nullopt;
    }
    const auto& response = std::get<api_response>(result);
    if (response.status < 200 || response.status > 299) {
      err_ << error_line(response.status, response.body) << '\n';
      failure_ = exit_api_error;
      return std::nullopt;
    }
    if (response.body.empty()) return json(nullptr);
    json doc = json::parse(response.body, nullptr, false);
    if (doc.is_discarded()) {
      return fail("the answer to " + method + " " + path + " is not JSON");
    }
    return doc;
  }

  // Reports an answer that does not have the documented shape.
  std::nullopt_t fail(const std::string& message) {
    err_ << terminal_safe("error: invalid_response: " + message) << '\n';
    failure_ = exit_api_error;
    return std::nullopt;
  }

  // fail() as an exit code.
  int failure_of(const std::string& message) {
    fail(message);
    return failure_;
  }

  void print_json(const json& value) {
    out_ << value.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
  }

 private:
  connection_settings settings_;
  const transport_factory& factory_;
  std::unique_ptr<transport> transport_;
  bool json_output_ = false;
  std::ostream& out_;
  std::ostream& err_;
  int failure_ = exit_ok;
};

int usage(std::ostream& err, const std::string& message) {
  err << "webhookctl: " << message << "\nRun with --help for more information.\n";
  return exit_usage;
}

// ---- lists ----------------------------------------------------------------------------------

struct list_args {
  int limit = 0;  // 0 = the server's default page size
  std::string cursor;
  bool all = false;
};

void add_list_options(CLI::App& cmd, list_args& args) {
  cmd.add_option("--limit", args.limit, "Page size (1..1000; the server's default otherwise)")
      ->check(CLI::Range(1, 1000));
  cmd.add_option("--cursor", args.cursor, "Start at this cursor (from a previous page)");
  cmd.add_flag("--all", args.all, "Follow the cursors and print every page");
}

struct list_page {
  std::vector<json> items;
  std::string next_cursor;  // empty on the last page
};

// GETs `path` page by page (only the first page unless args.all).
std::optional<list_page> fetch_list(session& s, const std::string& path, const list_args& args) {
  list_page result;
  std::string cursor = args.cursor;
  std::set<std::string> seen;
  for (;;) {
    std::string query;
    if (args.limit > 0) query = "limit=" + std::to_string(args.limit);
    if (!cursor.empty()) query += (query.empty() ? "" : "&") + ("cursor=" + percent_encode(cursor));
    const char separator = path.find('?') == std::string::npos ? '?' : '&';
    auto page = s.call("GET", query.empty() ? path : path + separator + query);
    if (!page) return std::nullopt;
    if (!page->is_object() || !page->contains("data") || !(*page)["data"].is_array()) {
      return s.fail("GET " + path + " did not answer a page ({\"data\": [...]})");
    }
    for (auto& item : (*page)["data"]) result.items.push_back(std::move(item));
    const json next = page->value("next_cursor", json(nullptr));
    const std::string next_cursor = next.is_string() ? next.get<std::string>() : "";
    if (!args.all || next_cursor.empty()) {
      result.next_cursor = next_cursor;
      return result;
    }
    if (!seen.insert(next_cursor).second) {
      return s.fail("GET " + path + " returned the cursor " + next_cursor + " twice");
    }
    cursor = next_cursor;
  }
}

int print_list(session& s, const std::string& path, const list_args& args,
               text_table (*make_table)(const std::vector<json>&)) {
  auto page = fetch_list(s, path, args);
  if (!page) return s.failure();
  if (s.json_output()) {
    s.print_json(
        {{"data", page->items},
         {"next_cursor", page->next_cursor.empty() ? json(nullptr) : json(page->next_cursor)}});
    return exit_ok;
  }
  make_table(page->items).print(s.out());
  if (!page->next_cursor.empty()) {
    s.err() << "more results: add --cursor " << terminal_safe(page->next_cursor) << " (or --all)\n";
  }
  return exit_ok;
}

// Prints one object as JSON or as a record.
int print_object(session& s, const json& object, record (*make_record)(const json&)) {
  if (s.json_output()) {
    s.print_json(object);
  } else {
    print_record(s.out(), make_record(object));
  }
  return exit_ok;
}

std::string item_path(const char* collection, const std::string& id) {
  return std::string(collection) + "/" + percent_encode(id);
}

// ---- webhooks -------------------------------------------------------------------------------

// Fields shared by `webhooks create` and `webhooks update`.
struct webhook_args {
  std::string id;  // update only
  std::string callback_url;
  std::vector<std::string> events;
  std::string filter;
  std::string retry_policy;
  int rate_limit = 0;
  double timeout_seconds = 0;
  std::string priority;
  std::vector<std::string> headers;
  std::string description;
  bool ordered = false;
  bool unordered = false;  // update only
  std::string public_key_file;
  std::vector<std::string> encrypt_fields;
  std::string status;              // update only
  std::vector<std::string> clear;  // update only
};

// Optional fields `--clear` may set to null, by the names it accepts.
const std::vector<std::pair<std::string, std::string>>& clearable_fields() {
  static const std::vector<std::pair<std::string, std::string>> fields = {
      {"filter", "trigger_conditions"},
      {"trigger_conditions", "trigger_conditions"},
      {"retry-policy", "retry_policy"},
      {"retry_policy", "retry_policy"},
      {"public-key", "public_key"},
      {"public_key", "public_key"},
      {"encrypt-fields", "encrypt_fields"},
      {"encrypt_fields", "encrypt_fields"},
      {"headers", "headers"},
      {"timeout", "timeout_seconds"},
      {"timeout_seconds", "timeout_seconds"},
      {"description", "description"}};
  return fields;
}

void add_webhook_options(CLI::App& cmd, webhook_args& a, bool create) {
  auto* url = cmd.add_option("--url,--callback-url", a.callback_url,
                             "Callback URL deliveries are POSTed to");
  auto* events =
      cmd.add_option("--events", a.events,
                     "Event types to subscribe to: names, prefix.* or * (comma-separated)")
          ->allow_extra_args(false);
  if (create) {
    url->required();
    events->required();
  }
  cmd.add_option("--filter", a.filter,
                 "Trigger conditions: a JSON filter on the delivered body, or @FILE");
  cmd.add_option("--retry-policy", a.retry_policy, "Retry policy as JSON, or @FILE");
  cmd.add_option("--rate-limit", a.rate_limit, "Deliveries per second at most");
  cmd.add_option("--timeout", a.timeout_seconds,
                 "Seconds one attempt may take in all (0.1 to 60; default 10)");
  cmd.add_option("--priority", a.priority, "high, standard or bulk")
      ->check(CLI::IsMember({"high", "standard", "bulk"}));
  cmd.add_option("--header", a.headers, "Extra delivery header NAME:VALUE (repeatable)")
      ->allow_extra_args(false);
  cmd.add_option("--description", a.description, "Free text");
  auto* ordered = cmd.add_flag("--ordered", a.ordered, "Deliver this webhook's events in order");
  cmd.add_option("--public-key-file", a.public_key_file,
                 "PEM RSA public key: payloads are encrypted to it (JWE)");
  cmd.add_option("--encrypt-fields", a.encrypt_fields,
                 "Encrypt only these JSON paths of the body (comma-separated)")
      ->allow_extra_args(false);
  if (!create) {
    cmd.add_option("id", a.id, "Webhook id")->required();
    auto* unordered =
        cmd.add_flag("--unordered", a.unordered, "Stop ordering this webhook's deliveries");
    unordered->excludes(ordered);
    cmd.add_option("--status", a.status, "active, paused or disabled")
        ->check(CLI::IsMember({"active", "paused", "disabled"}));
    std::vector<std::string> names;
    for (const auto& entry : clearable_fields()) names.push_back(entry.first);
    cmd.add_option("--clear", a.clear,
                   "Reset optional fields (comma-separated): filter, retry-policy, public-key, "
                   "encrypt-fields, headers, description")
        ->delimiter(',')
        ->allow_extra_args(false)
        ->check(CLI::IsMember(names));
  }
}

// The JSON body of a create (every given field) or update (only the given fields).
checked<json> webhook_body(const CLI::App& cmd, const webhook_args& a, bool create) {
  json body = json::object();
  auto given = [&](const char* option) { return cmd.count(option) > 0; };
  if (given("--url")) body["callback_url"] = a.callback_url;
  if (given("--events")) {
    auto events = list_arg("--events", a.events);
    if (auto* e = std::get_if<usage_error>(&events)) return *e;
    body["event_types"] = std::get<json>(std::move(events));
  }
  if (given("--filter")) {
    auto filter = json_arg("--filter", a.filter);
    if (auto* e = std::get_if<usage_error>(&filter)) return *e;
    body["trigger_conditions"] = std::get<json>(std::move(filter));
  }
  if (given("--retry-policy")) {
    auto policy = json_arg("--retry-policy", a.retry_policy);
    if (auto* e = std::get_if<usage_error>(&policy)) return *e;
    body["retry_policy"] = std::get<json>(std::move(policy));
  }
  if (given("--rate-limit")) body["rate_limit"] = a.rate_limit;
  if (given("--timeout")) body["timeout_seconds"] = a.timeout_seconds;
  if (given("--priority")) body["priority"] = a.priority;
  if (given("--header")) {
    auto headers = headers_arg(a.headers);
    if (auto* e = std::get_if<usage_error>(&headers)) return *e;
    body["headers"] = std::get<json>(std::move(headers));
  }
  if (given("--description")) body["description"] = a.description;
  if (a.ordered) body["ordered"] = true;
  if (a.unordered) body["ordered"] = false;
  if (given("--public-key-file")) {
    auto key = read_file_arg("--public-key-file", a.public_key_file);
    if (auto* e = std::get_if<usage_error>(&key)) return *e;
    body["public_key"] = std::get<std::string>(std::move(key));
  }
  if (given("--encrypt-fields")) {
    auto paths = list_arg("--encrypt-fields", a.encrypt_fields);
    if (auto* e = std::get_if<usage_error>(&paths)) return *e;
    body["encrypt_fields"] = std::get<json>(std::move(paths));
  }
  if (create) return body;

  if (given("--status")) body["status"] = a.status;
  for (const auto& name : a.clear) {
    const auto& fields = clearable_fields();
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](const auto& entry) { return entry.first == name; });
    if (body.contains(it->second)) {
      return usage_error{"--clear " + name + ": the same command also sets " + it->second};
    }
    body[it->second] = nullptr;
  }
  if (body.empty())
    return usage_error{"webhooks update: nothing to change (give at least one field)"};
  return body;
}

int webhooks_create(session& s, const CLI::App& cmd, const webhook_args& a) {
  auto body = webhook_body(cmd, a, true);
  if (auto* e = std::get_if<usage_error>(&body)) return usage(s.err(), e->message);
  auto created = s.call("POST", webhooks_path, std::get<json>(body));
  if (!created) return s.failure();
  print_object(s, *created, webhook_record);
  if (!s.json_output()) s.err() << "keep the signing secret: it is not shown again\n";
  return exit_ok;
}

int webhooks_update(session& s, const CLI::App& cmd, const webhook_args& a) {
  auto body = webhook_body(cmd, a, false);
  if (auto* e = std::get_if<usage_error>(&body)) return usage(s.err(), e->message);
  auto updated = s.call("PATCH", item_path(webhooks_path, a.id), std::get<json>(body));
  if (!updated) return s.failure();
  return print_object(s, *updated, webhook_record);
}

int webhooks_get(session& s, const std::string& id) {
  auto webhook = s.call("GET", item_path(webhooks_path, id));
  if (!webhook) return s.failure();
  return print_object(s, *webhook, webhook_record);
}

int webhooks_delete(session& s, const std::string& id) {
  auto deleted = s.call("DELETE", item_path(webhooks_path, id));
  if (!deleted) return s.failure();
  if (s.json_output()) {
    s.print_json(*deleted);
    return exit_ok;
  }
  s.out() << "deleted webhook " << terminal_safe(id);
  const json cancelled =
      deleted->is_object() ? deleted->value("cancelled_deliveries", json()) : json();
  if (cancelled.is_number_integer()) {
    s.out() << " (" << cancelled.get<long long>() << " pending "
            << (cancelled.get<long long>() == 1 ? "delivery" : "deliveries") << " cancelled)";
  }
  s.out() << '\n';
  return exit_ok;
}

int webhooks_rotate(session& s, const CLI::App& cmd, const std::string& id, long long grace) {
  json body = json::object();
  if (cmd.count("--grace") > 0) body["grace_period_seconds"] = grace;
  auto rotated = s.call("POST", item_path(webhooks_path, id) + "/rotate-secret", body);
  if (!rotated) return s.failure();
  return print_object(s, *rotated, webhook_record);
}

// ---- event types ----------------------------------------------------------------------------

int event_types_create(session& s, const CLI::App& cmd, const std::string& name,
                       const std::string& description, const std::string& schema) {
  json body = {{"name", name}};
  if (cmd.count("--description") > 0) body["description"] = description;
  if (cmd.count("--schema") > 0) {
    auto parsed = json_arg("--schema", schema);
    if (auto* e = std::get_if<usage_error>(&parsed)) return usage(s.err(), e->message);
    body["schema"] = std::get<json>(std::move(parsed));
  }
  auto created = s.call("POST", event_types_path, body);
  if (!created) return s.failure();
  return print_object(s, *created, event_type_record);
}

// ---- sources --------------------------------------------------------------------------------

struct source_args {
  std::string id;  // get, update, delete
  std::string name;
  std::vector<std::string> events;
  std::string api_key;
  std::string secret;
  std::vector<std::string> ips;
  bool no_ips = false;  // update only
};

void add_source_options(CLI::App& cmd, source_args& a, bool create) {
  auto* name = cmd.add_option("--name", a.name, "Name of the source application");
  auto* events = cmd.add_option("--events", a.events, "Event types it may post (comma-separated)")
                     ->allow_extra_args(false);
  cmd.add_option("--api-key", a.api_key, "Its X-Source-Key (generated when absent)");
  cmd.add_option("--secret", a.secret, "Its HMAC secret (generated when absent)");
  auto* ips = cmd.add_option("--ip", a.ips, "Allowed client address or CIDR (repeatable)")
                  ->allow_extra_args(false);
  if (create) {
    name->required();
    events->required();
  } else {
    cmd.add_option("id", a.id, "Source id")->required();
    cmd.add_flag("--no-ip-allowlist", a.no_ips, "Accept events from any address")->excludes(ips);
  }
}

checked<json> source_body(const CLI::App& cmd, const source_args& a, bool create) {
  json body = json::object();
  if (cmd.count("--name") > 0) body["name"] = a.name;
  if (cmd.count("--events") > 0) {
    auto events = list_arg("--events", a.events);
    if (auto* e = std::get_if<usage_error>(&events)) return *e;
    body["allowed_event_types"] = std::get<json>(std::move(events));
  }
  if (cmd.count("--api-key") > 0) body["api_key"] = a.api_key;
  if (cmd.count("--secret") > 0) body["secret"] = a.secret;
  if (cmd.count("--ip") > 0) {
    auto ips = list_arg("--ip", a.ips);
    if (auto* e = std::get_if<usage_error>(&ips)) return *e;
    body["ip_allowlist"] = std::get<json>(std::move(ips));
  }
  if (a.no_ips) body["ip_allowlist"] = json::array();
  if (!create && body.empty()) {
    return usage_error{"sources update: nothing to change (give at least one field)"};
  }
  return body;
}

int sources_write(session& s, const CLI::App& cmd, const source_args& a, bool create) {
  auto body = source_body(cmd, a, create);
  if (auto* e = std::get_if<usage_error>(&body)) return usage(s.err(), e->message);
  auto answer = create ? s.call("POST", sources_path, std::get<json>(body))
                       : s.call("PATCH", item_path(sources_path, a.id), std::get<json>(body));
  if (!answer) return s.failure();
  print_object(s, *answer, source_record);
  if (create && !s.json_output()) s.err() << "keep the secret: it is not shown again\n";
  return exit_ok;
}

int sources_get(session& s, const std::string& id) {
  auto source = s.call("GET", item_path(sources_path, id));
  if (!source) return s.failure();
  return print_object(s, *source, source_record);
}

int sources_delete(session& s, const std::string& id) {
  auto deleted = s.call("DELETE", item_path(sources_path, id));
  if (!deleted) return s.failure();
  if (s.json_output()) {
    s.print_json(*deleted);
  } else {
    s.out() << "deleted source " << terminal_safe(id) << '\n';
  }
  return exit_ok;
}

// ---- deliveries, attempts, the DLQ ---------------------------------------------------------

// Appends "name=value" (percent-encoded) to a query string.
void add_query(std::string& query, const char* name, const std::string& value) {
  query += (query.empty() ? "?" : "&") + std::string(name) + "=" + percent_encode(value);
}

struct delivery_list_args {
  std::string webhook_id;
  std::string status;
  std::string since;
  std::string until;
  list_args list;
};

int deliveries_list(session& s, const delivery_list_args& a) {
  std::string query;
  if (!a.status.empty()) add_query(query, "status", a.status);
  if (!a.since.empty()) add_query(query, "since", a.since);
  if (!a.until.empty()) add_query(query, "until", a.until);
  return print_list(s, item_path(webhooks_path, a.webhook_id) + "/deliveries" + query, a.list,
                    delivery_table);
}

int deliveries_get(session& s, const std::string& id) {
  auto got = s.call("GET", item_path(deliveries_path, id));
  if (!got) return s.failure();
  if (s.json_output()) {
    s.print_json(*got);
    return exit_ok;
  }
  print_record(s.out(), delivery_record(*got));
  const json attempts = got->is_object() ? got->value("attempts", json::array()) : json::array();
  s.out() << '\n';
  attempt_table(attempts.get<std::vector<json>>()).print(s.out());
  return exit_ok;
}

int attempts_of(session& s, const std::string& id) {
  auto got = s.call("GET", item_path(deliveries_path, id));
  if (!got) return s.failure();
  const json attempts = got->is_object() ? got->value("attempts", json()) : json();
  if (!attempts.is_array())
    return s.failure_of("GET /api/v1/deliveries/" + id + " has no attempts");
  if (s.json_output()) {
    s.print_json({{"data", attempts}});
    return exit_ok;
  }
  attempt_table(attempts.get<std::vector<json>>()).print(s.out());
  return exit_ok;
}

int deliveries_resend(session& s, const std::string& id) {
  auto resent = s.call("POST", item_path(deliveries_path, id) + "/resend", json::object());
  if (!resent) return s.failure();
  if (s.json_output()) {
    s.print_json(*resent);
  } else {
    s.out() << "delivery " << terminal_safe(id) << " queued for a new series of attempts\n";
  }
  return exit_ok;
}

int event_deliveries(session& s, const std::string& event_id) {
  return print_list(s, "/api/v1/events/" + percent_encode(event_id) + "/deliveries", list_args{},
                    delivery_table);
}

struct dlq_args {
  std::string webhook_id;
  std::string event_type;
  std::string since;
  std::string until;
  bool include_replayed = false;
  std::vector<std::string> ids;  // replay only
  list_args list;
};

int dlq_list(session& s, const dlq_args& a) {
  std::string query;
  if (!a.webhook_id.empty()) add_query(query, "webhook_id", a.webhook_id);
  if (!a.event_type.empty()) add_query(query, "event_type", a.event_type);
  if (!a.since.empty()) add_query(query, "since", a.since);
  if (!a.until.empty()) add_query(query, "until", a.until);
  if (a.include_replayed) add_query(query, "include_replayed", "true");
  return print_list(s, dlq_path + query, a.list, dlq_table);
}

int dlq_replay(session& s, const dlq_args& a) {
  json body = json::object();
  if (!a.ids.empty()) {
    auto ids = list_arg("--id", a.ids);
    if (auto* e = std::get_if<usage_error>(&ids)) return usage(s.err(), e->message);
    body["delivery_ids"] = std::get<json>(std::move(ids));
  } else {
    if (a.webhook_id.empty())
      return usage(s.err(),
                   "dlq replay: give --id ..., or --webhook ID [--since --until "
                   "--event-type]");
    body["webhook_id"] = a.webhook_id;
    if (!a.event_type.empty()) body["event_type"] = a.event_type;
    if (!a.since.empty()) body["since"] = a.since;
    if (!a.until.empty()) body["until"] = a.until;
  }
  auto replayed = s.call("POST", std::string(dlq_path) + "/replay", body);
  if (!replayed) return s.failure();
  if (s.json_output()) {
    s.print_json(*replayed);
    return exit_ok;
  }
  const json ids = replayed->value("delivery_ids", json::array());
  const json skipped = replayed->value("skipped", json::array());
  s.out() << "replayed " << ids.size() << (ids.empty() ? "" : ": " + terminal_safe(cell_text(ids)))
          << '\n';
  if (!skipped.empty()) {
    s.out() << "skipped " << skipped.size() << " (already replayed, not in the DLQ or unknown): "
            << terminal_safe(cell_text(skipped)) << '\n';
  }
  if (replayed->value("more", false)) {
    s.err() << "more entries match: run the same replay again\n";
  }
  return exit_ok;
}

struct tail_args {
  std::string webhook_id;
  double interval_seconds = 1.0;
  int max_lines = 0;  // 0 = until interrupted
  int backlog = 10;
};

// Follows the attempt feed: the latest `backlog` attempts, then every new one as it is recorded,
// one line each, until interrupted (or max_lines lines).
int tail(session& s, const tail_args& a) {
  std::string cursor;
  int printed = 0;
  bool first = true;
  for (;;) {
    std::string query;
    if (!a.webhook_id.empty()) add_query(query, "webhook_id", a.webhook_id);
    add_query(query, "limit", std::to_string(first ? std::max(a.backlog, 1) : 1000));
    if (!cursor.empty()) add_query(query, "cursor", cursor);
    auto page = s.call("GET", attempts_path + query);
    if (!page) return s.failure();
    const json data = page->is_object() ? page->value("data", json()) : json();
    const json next = page->is_object() ? page->value("next_cursor", json()) : json();
    if (!data.is_array() || !next.is_string())
      return s.failure_of("GET /api/v1/attempts did not answer a feed page");
    // The first read shows the backlog only when asked for (backlog 0: new attempts only).
    if (!first || a.backlog > 0) {
      for (const auto& attempt : data) {
        if (s.json_output()) {
          s.out() << attempt.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
        } else {
          s.out() << attempt_line(attempt) << '\n';
        }
        s.out().flush();
        if (a.max_lines > 0 && ++printed >= a.max_lines) return exit_ok;
      }
    }
    first = false;
    cursor = next.get<std::string>();
    if (data.size() < 1000)
      std::this_thread::sleep_for(
          std::chrono::milliseconds(static_cast<long long>(a.interval_seconds * 1000)));
  }
}

bool has_control_characters(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

// ---- actors ---------------------------------------------------------------------------------

int actors_show(session& s) {
  auto tree = s.call("GET", "/api/v1/actors");
  if (!tree) return s.failure();
  if (!tree->is_object()) {
    s.fail("GET /api/v1/actors did not answer an object");
    return s.failure();
  }
  if (s.json_output()) {
    s.print_json(*tree);
  } else {
    print_actor_tree(s.out(), *tree);
  }
  return exit_ok;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> parse_header_arg(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string name = trim(text.substr(0, colon));
  if (name.empty()) return std::nullopt;
  return std::make_pair(std::move(name), trim(text.substr(colon + 1)));
}

int run(const std::vector<std::string>& args, const env_lookup& env,
        const transport_factory& make_transport, std::ostream& out, std::ostream& err) {
  CLI::App app{"webhookctl: manage webhookd's webhooks, event types, sources, deliveries and DLQ",
               "webhookctl"};
  app.set_version_flag("--version", "webhookctl " WEBHOOKCTL_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Environment: WEBHOOKD_URL (server, default http://127.0.0.1:8080), WEBHOOKD_TOKEN.\n"
      "Exit status: 0 done, 1 the server refused (error: <code>: <message>), 2 the server\n"
      "could not be reached or the command line is wrong.\n");

  std::string server_url;
  std::string token;
  bool json_output = false;
  double timeout_seconds = 60;
  app.add_option("--url,--server", server_url,
                 "webhookd's address (env WEBHOOKD_URL, default http://127.0.0.1:8080). In "
                 "`webhooks create|update`, --url after the command is the callback URL");
  app.add_option("--token", token, "Bearer token (env WEBHOOKD_TOKEN)");
  app.add_flag("--json", json_output, "Print the server's JSON instead of tables");
  app.add_option("--timeout", timeout_seconds, "Seconds to wait for an answer")
      ->check(CLI::Range(0.1, 3600.0));

  // The chosen command, set by the callback of the subcommand that parsed.
  std::function<int(session&)> chosen;
  auto group = [&](const char* name, const char* help) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->require_subcommand(1);
    sub->fallthrough();
    return sub;
  };
  auto command = [&](CLI::App* parent, const char* name, const char* help) {
    CLI::App* sub = parent->add_subcommand(name, help);
    sub->fallthrough();
    return sub;
  };

  // webhooks
  CLI::App* webhooks = group("webhooks", "Register and manage webhooks");
  webhook_args create_args;
  CLI::App* w_create =
      command(webhooks, "create", "Register a webhook (prints its signing secret)");
  add_webhook_options(*w_create, create_args, true);
  w_create->callback(
      [&] { chosen = [&](session& s) { return webhooks_create(s, *w_create, create_args); }; });

  list_args w_list_args;
  CLI::App* w_list = command(webhooks, "list", "List your webhooks");
  add_list_options(*w_list, w_list_args);
  w_list->callback([&] {
    chosen = [&](session& s) { return print_list(s, webhooks_path, w_list_args, webhook_table); };
  });

  std::string webhook_id;
  CLI::App* w_get = command(webhooks, "get", "Show one webhook");
  w_get->add_option("id", webhook_id, "Webhook id")->required();
  w_get->callback([&] { chosen = [&](session& s) { return webhooks_get(s, webhook_id); }; });

  webhook_args update_args;
  CLI::App* w_update = command(webhooks, "update", "Change fields of a webhook");
  add_webhook_options(*w_update, update_args, false);
  w_update->callback(
      [&] { chosen = [&](session& s) { return webhooks_update(s, *w_update, update_args); }; });

  CLI::App* w_delete =
      command(webhooks, "delete", "Delete a webhook (cancels its pending deliveries)");
  w_delete->add_option("id", webhook_id, "Webhook id")->required();
  w_delete->callback([&] { chosen = [&](session& s) { return webhooks_delete(s, webhook_id); }; });

  long long grace_seconds = 0;
  CLI::App* w_rotate = command(webhooks, "rotate-secret",
                               "New signing secret; the old one signs on for a grace period");
  w_rotate->add_option("id", webhook_id, "Webhook id")->required();
  w_rotate
      ->add_option("--grace", grace_seconds,
                   "Seconds the previous secret keeps signing (server default: 86400)")
      ->check(CLI::NonNegativeNumber);
  w_rotate->callback([&] {
    chosen = [&](session& s) { return webhooks_rotate(s, *w_rotate, webhook_id, grace_seconds); };
  });

  // event-types
  CLI::App* event_types = group("event-types", "The event-type catalogue");
  list_args t_list_args;
  CLI::App* t_list = command(event_types, "list", "List event types");
  add_list_options(*t_list, t_list_args);
  t_list->callback([&] {
    chosen = [&](session& s) {
      return print_list(s, event_types_path, t_list_args, event_type_table);
    };
  });
  std::string type_name;
  std::string type_description;
  std::string type_schema;
  CLI::App* t_create = command(event_types, "create", "Add an event type (admin)");
  t_create->add_option("name", type_name, "Dotted name, e.g. invoice.paid")->required();
  t_create->add_option("--description", type_description, "What it means");
  t_create->add_option("--schema", type_schema, "JSON Schema of its payload, or @FILE");
  t_create->callback([&] {
    chosen = [&](session& s) {
      return event_types_create(s, *t_create, type_name, type_description, type_schema);
    };
  });

  // sources
  CLI::App* sources = group("sources", "Source applications allowed to post events (admin)");
  source_args source_create_args;
  CLI::App* s_create = command(sources, "create", "Register a source (prints its secret)");
  add_source_options(*s_create, source_create_args, true);
  s_create->callback([&] {
    chosen = [&](session& s) { return sources_write(s, *s_create, source_create_args, true); };
  });
  list_args s_list_args;
  CLI::App* s_list = command(sources, "list", "List sources");
  add_list_options(*s_list, s_list_args);
  s_list->callback([&] {
    chosen = [&](session& s) { return print_list(s, sources_path, s_list_args, source_table); };
  });
  std::string source_id;
  CLI::App* s_get = command(sources, "get", "Show one source");
  s_get->add_option("id", source_id, "Source id")->required();
  s_get->callback([&] { chosen = [&](session& s) { return sources_get(s, source_id); }; });
  source_args source_update_args;
  CLI::App* s_update = command(sources, "update", "Change fields of a source");
  add_source_options(*s_update, source_update_args, false);
  s_update->callback([&] {
    chosen = [&](session& s) { return sources_write(s, *s_update, source_update_args, false); };
  });
  CLI::App* s_delete = command(sources, "delete", "Delete a source");
  s_delete->add_option("id", source_id, "Source id")->required();
  s_delete->callback([&] { chosen = [&](session& s) { return sources_delete(s, source_id); }; });

  // actors
  CLI::App* actors = command(&app, "actors", "The engine's live actor tree (admin)");
  actors->callback([&] { chosen = [&](session& s) { return actors_show(s); }; });

  // deliveries
  CLI::App* deliveries = group("deliveries", "Follow and resend deliveries");
  delivery_list_args d_list_args;
  CLI::App* d_list = command(deliveries, "list", "List a webhook's deliveries, newest first");
  d_list->add_option("--webhook", d_list_args.webhook_id, "Webhook id")->required();
  d_list->add_option("--status", d_list_args.status, "pending, succeeded, failed or cancelled")
      ->check(CLI::IsMember({"pending", "succeeded", "failed", "cancelled"}));
  d_list->add_option("--since", d_list_args.since, "Created at or after (RFC 3339)");
  d_list->add_option("--until", d_list_args.until, "Created before (RFC 3339)");
  add_list_options(*d_list, d_list_args.list);
  d_list->callback([&] { chosen = [&](session& s) { return deliveries_list(s, d_list_args); }; });
  std::string delivery_id;
  CLI::App* d_get = command(deliveries, "get", "Show one delivery with its attempts");
  d_get->add_option("id", delivery_id, "Delivery id (msg_...)")->required();
  d_get->callback([&] { chosen = [&](session& s) { return deliveries_get(s, delivery_id); }; });
  CLI::App* d_resend =
      command(deliveries, "resend", "Send a succeeded or failed delivery again (same webhook-id)");
  d_resend->add_option("id", delivery_id, "Delivery id (msg_...)")->required();
  d_resend->callback(
      [&] { chosen = [&](session& s) { return deliveries_resend(s, delivery_id); }; });

  // events
  CLI::App* events = group("events", "Your events");
  std::string event_id;
  CLI::App* e_deliveries =
      command(events, "deliveries", "One event's delivery at every webhook it went to");
  e_deliveries->add_option("event_id", event_id, "The event's id")->required();
  e_deliveries->callback(
      [&] { chosen = [&](session& s) { return event_deliveries(s, event_id); }; });

  // attempts
  CLI::App* attempts = app.add_subcommand("attempts", "The attempts of one delivery");
  attempts->fallthrough();
  attempts->add_option("id", delivery_id, "Delivery id (msg_...)")->required();
  attempts->callback([&] { chosen = [&](session& s) { return attempts_of(s, delivery_id); }; });

  // dlq
  CLI::App* dlq = group("dlq", "The dead-letter queue");
  dlq_args q_list_args;
  CLI::App* q_list = command(dlq, "list", "List DLQ entries, newest first");
  q_list->add_option("--webhook", q_list_args.webhook_id, "Only this webhook's");
  q_list->add_option("--event-type", q_list_args.event_type, "Only this event type");
  q_list->add_option("--since", q_list_args.since, "Parked at or after (RFC 3339)");
  q_list->add_option("--until", q_list_args.until, "Parked before (RFC 3339)");
  q_list->add_flag("--include-replayed", q_list_args.include_replayed,
                   "Also entries replayed already");
  add_list_options(*q_list, q_list_args.list);
  q_list->callback([&] { chosen = [&](session& s) { return dlq_list(s, q_list_args); }; });
  dlq_args q_replay_args;
  CLI::App* q_replay =
      command(dlq, "replay", "Deliver DLQ entries again (each once), by id or in bulk");
  auto* q_ids = q_replay
                    ->add_option("--id", q_replay_args.ids,
                                 "Delivery ids (comma-separated or repeated; at most 1000)")
                    ->allow_extra_args(false);
  auto* q_webhook = q_replay->add_option("--webhook", q_replay_args.webhook_id,
                                         "Replay this webhook's entries (up to 1000 a run)");
  q_ids->excludes(q_webhook);
  auto* q_type = q_replay->add_option("--event-type", q_replay_args.event_type,
                                      "With --webhook: only this type");
  auto* q_since =
      q_replay->add_option("--since", q_replay_args.since, "With --webhook: parked at or after");
  auto* q_until =
      q_replay->add_option("--until", q_replay_args.until, "With --webhook: parked before");
  for (auto* option : {q_type, q_since, q_until}) option->needs(q_webhook);
  q_replay->callback([&] { chosen = [&](session& s) { return dlq_replay(s, q_replay_args); }; });

  // tail
  tail_args t_args;
  CLI::App* tail_cmd =
      app.add_subcommand("tail", "Follow delivery attempts live, one line each, until Ctrl-C");
  tail_cmd->fallthrough();
  tail_cmd->add_option("--webhook", t_args.webhook_id, "Only this webhook's attempts");
  tail_cmd->add_option("--interval", t_args.interval_seconds, "Seconds between polls")
      ->check(CLI::Range(0.05, 60.0));
  tail_cmd->add_option("--backlog", t_args.backlog, "Recent attempts shown first (default 10)")
      ->check(CLI::Range(0, 1000));
  tail_cmd->add_option("--max", t_args.max_lines, "Stop after this many lines")
      ->check(CLI::PositiveNumber);
  tail_cmd->callback([&] { chosen = [&](session& s) { return tail(s, t_args); }; });

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? exit_ok : exit_usage;
  }
  if (!chosen) return usage(err, "no command given");

  connection_settings settings;
  if (app.count("--url") == 0) {
    server_url = env("WEBHOOKD_URL").value_or(default_server_url);
  }
  auto base = normalize_base_url(server_url);
  if (!base)
    return usage(err, "--url: expected http://HOST[:PORT] or https://..., got \"" +
                          terminal_safe(server_url) + "\"");
  settings.base_url = *base;
  if (app.count("--token") == 0) token = env("WEBHOOKD_TOKEN").value_or("");
  if (has_control_characters(token) || token.find(' ') != std::string::npos) {
    return usage(err, "--token: a token has no spaces or control characters");
  }
  settings.token = token;
  settings.timeout = std::chrono::milliseconds(static_cast<long long>(timeout_seconds * 1000));
  settings.user_agent = "webhookctl/" WEBHOOKCTL_VERSION;

  session s(std::move(settings), make_transport, json_output, out, err);
  return chosen(s);
}

}  // namespace webhookctl
