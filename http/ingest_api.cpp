#include "http/ingest_api.hpp"

#include <chrono>
#include <cmath>
#include <optional>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/event_types.hpp"
#include "core/ip_address.hpp"
#include "core/source_signature.hpp"
#include "core/time_format.hpp"
#include "http/response.hpp"

namespace webhookd::http {

namespace {

using json = nlohmann::json;

// Deepest nesting of arrays and objects accepted in a body (a batch array, an event object and
// its payload's own levels). Bounds the recursion of serializing and filtering a payload.
constexpr int max_json_depth = 64;

// Latest accepted event timestamp: 9999-12-31T23:59:59Z.
constexpr int64_t max_timestamp_seconds = 253402300799;

// An answer other than 202.
struct refusal {
  int status = 400;
  std::string code;
  std::string message;
  const char* reason = nullptr;  // the metric's reason when it isn't `code`
};

refusal invalid(std::string message) {
  return {422, "validation_failed", std::move(message)};
}

// Whether `text` nests arrays/objects deeper than `limit` (strings are skipped, escapes included).
// Runs on the raw body before parsing, in one pass without recursion.
bool nests_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > limit) return true;
        break;
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

// Whether `address` connects from a network of `allowlist` (CIDRs). An IPv4-mapped IPv6 peer
// (::ffff:a.b.c.d) is checked as its IPv4 address.
bool address_allowed(const std::vector<std::string>& allowlist, const std::string& remote,
                     const std::shared_ptr<spdlog::logger>& log) {
  auto address = ip_address::parse(remote);
  if (!address) return false;
  std::optional<ip_address> mapped;
  if (address->is_v6()) {
    const auto& b = address->bytes();
    bool is_mapped = b[10] == 0xff && b[11] == 0xff;
    for (int i = 0; i < 10 && is_mapped; ++i) is_mapped = b[i] == 0;
    if (is_mapped) {
      mapped = ip_address::v4((uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) |
                              (uint32_t{b[14]} << 8) | uint32_t{b[15]});
    }
  }
  for (const auto& entry : allowlist) {
    auto block = cidr::parse(entry);
    if (!block) {
      if (log) log->warn("ingest: ignoring the invalid allowlist entry '{}'", entry);
      continue;
    }
    if (block->contains(*address) || (mapped && block->contains(*mapped))) return true;
  }
  return false;
}

bool type_allowed(const source& src, const std::string& type) {
  for (const auto& pattern : src.allowed_event_types) {
    if (pattern_matches(pattern, type)) return true;
  }
  return false;
}

// A required string field of 1..max_length bytes, or the refusal naming it.
std::optional<refusal> take_string(const json& object, const char* field, const std::string& where,
                                   std::size_t max_length, std::string& out) {
  auto found = object.find(field);
  if (found == object.end()) return invalid(where + field + ": required");
  if (!found->is_string()) return invalid(where + field + ": must be a string");
  const auto& text = found->get_ref<const std::string&>();
  if (text.empty() || text.size() > max_length) {
    return invalid(where + field + ": must be 1 to " + std::to_string(max_length) + " bytes");
  }
  out = text;
  return std::nullopt;
}

// The event's timestamp in unix milliseconds: an RFC 3339 string or unix seconds.
std::optional<refusal> take_timestamp(const json& object, const std::string& where,
                                      int64_t& out_ms) {
  auto found = object.find("timestamp");
  if (found == object.end()) return invalid(where + "timestamp: required");
  const std::string field = where + "timestamp";
  if (found->is_string()) {
    auto parsed = parse_rfc3339_ms(found->get_ref<const std::string&>());
    if (!parsed || *parsed < 0 || *parsed > max_timestamp_seconds * 1000) {
      return invalid(field + ": not an RFC 3339 time between 1970 and 9999");
    }
    out_ms = *parsed;
    return std::nullopt;
  }
  if (found->is_number_integer()) {
    // Unsigned values above int64's range read as a negative int64 here, and are refused.
    int64_t seconds = found->is_number_unsigned() && found->get<uint64_t>() > uint64_t(INT64_MAX)
                          ? -1
                          : found->get<int64_t>();
    if (seconds < 0 || seconds > max_timestamp_seconds) {
      return invalid(field + ": unix seconds must be between 0 and " +
                     std::to_string(max_timestamp_seconds));
    }
    out_ms = seconds * 1000;
    return std::nullopt;
  }
  if (found->is_number_float()) {
    double seconds = found->get<double>();
    if (!std::isfinite(seconds) || seconds < 0 ||
        seconds > static_cast<double>(max_timestamp_seconds)) {
      return invalid(field + ": unix seconds must be between 0 and " +
                     std::to_string(max_timestamp_seconds));
    }
    out_ms = static_cast<int64_t>(std::llround(seconds * 1000.0));
    return std::nullopt;
  }
  return invalid(field + ": must be unix seconds or an RFC 3339 string");
}

// Checks one event of the body and fills `out`, or says why it is refused. `where` prefixes
// field names ("" for a single event, "[3]." in a batch).
std::optional<refusal> take_event(const json& item, const std::string& where, const source& src,
                                  const ingest_api_settings& settings, event& out) {
  if (!item.is_object()) {
    std::string name = where.empty() ? std::string("the body") : where.substr(0, where.size() - 1);
    return invalid(name + ": an event must be a JSON object");
  }
  for (const auto& field : item.items()) {
    const std::string& key = field.key();
    if (key != "event_id" && key != "client_id" && key != "event_type" && key != "timestamp" &&
        key != "payload") {
      return invalid(where + key + ": unknown field");
    }
  }
  if (auto bad = take_string(item, "event_id", where, max_event_id_length, out.event_id)) {
    return bad;
  }
  if (auto bad = take_string(item, "client_id", where, max_event_id_length, out.client_id)) {
    return bad;
  }
  if (auto bad = take_string(item, "event_type", where, max_event_type_length, out.event_type)) {
    return bad;
  }
  if (auto why = event_type_name_error(out.event_type)) {
    return invalid(where + "event_type: " + *why);
  }
  if (auto bad = take_timestamp(item, where, out.timestamp)) return bad;
  auto payload = item.find("payload");
  if (payload == item.end()) return invalid(where + "payload: required");
  if (!payload->is_object()) return invalid(where + "payload: must be a JSON object");
  out.payload = payload->dump();
  if (out.payload.size() > settings.max_payload_bytes) {
    return refusal{413, "payload_too_large",
                   where + "payload: " + std::to_string(out.payload.size()) +
                       " bytes exceed the limit of " + std::to_string(settings.max_payload_bytes)};
  }
  if (!type_allowed(src, out.event_type)) {
    return refusal{
        403, "forbidden",
        where + "event_type: \"" + out.event_type + "\" is not allowed for source " + src.id};
  }
  return std::nullopt;
}

void write_refusal(httplib::Response& res, const refusal& r) {
  if (r.status == 503) res.set_header("Retry-After", "1");
  write_error(res, r.status, r.code, r.message);
}

}  // namespace

const std::vector<std::string>& ingest_rejection_reasons() {
  static const std::vector<std::string> reasons{
      "unauthorized",      "forbidden",   "payload_too_large", "invalid_json",
      "validation_failed", "unavailable", "overloaded"};
  return reasons;
}

ingest_api::ingest_api(ingest_backend& backend, const clock_source& clock,
                       ingest_api_settings settings, std::shared_ptr<spdlog::logger> log)
    : backend_(backend), clock_(clock), settings_(settings), log_(std::move(log)) {
  if (metrics::registry* registry = settings_.metrics) {
    measures_.accepted = &registry->add_counter(
        "webhookd_events_accepted_total", "Events newly stored by the ingestion routes (202).");
    measures_.duplicates =
        &registry->add_counter("webhookd_events_duplicate_total",
                               "Events acknowledged as duplicates of stored ones (202, not "
                               "stored again).");
    measures_.rejected = &registry->add_counter_family(
        "webhookd_events_rejected_total",
        "Ingestion requests refused, by reason (a refused batch counts once).", {"reason"});
    for (const auto& reason : ingest_rejection_reasons()) measures_.rejected->labels({reason});
    measures_.ack_seconds =
        &registry->add_histogram("webhookd_ingest_ack_seconds",
                                 "Time from the ingestion handler's start to its 202 answer "
                                 "(authentication, validation, routing and durable commit).",
                                 metrics::latency_buckets());
  }
}

void ingest_api::count_rejection(const std::string& reason) {
  if (measures_.rejected) measures_.rejected->labels({reason}).inc();
}

void ingest_api::register_routes(httplib::Server& routes) {
  routes.Post("/api/v1/events", [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, res, false);
  });
  routes.Post("/api/v1/events/batch", [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, res, true);
  });
}

void ingest_api::handle(const httplib::Request& req, httplib::Response& res, bool batch) {
  const auto started = std::chrono::steady_clock::now();
  auto refuse = [this, &res](refusal r) {
    count_rejection(r.reason != nullptr ? std::string(r.reason) : r.code);
    write_refusal(res, r);
  };

  // 1. Size, before any work.
  std::size_t limit = batch ? settings_.max_batch_body_bytes : settings_.max_event_body_bytes;
  if (req.body.size() > limit) {
    return refuse({413, "payload_too_large",
                   "the body's " + std::to_string(req.body.size()) + " bytes exceed the limit of " +
                       std::to_string(limit)});
  }

  // 2. Who is it: key, timestamp, signature, address.
  std::string key = req.get_header_value("X-Source-Key");
  if (key.empty()) return refuse({401, "unauthorized", "X-Source-Key is missing"});
  source_lookup_result lookup = backend_.find_source(key);
  if (lookup.status == source_lookup_result::kind::unavailable) {
    return refuse({503, "unavailable", "the source registry did not answer: " + lookup.message});
  }
  if (lookup.status == source_lookup_result::kind::unknown) {
    return refuse({401, "unauthorized", "unknown X-Source-Key"});
  }
  const source& src = lookup.src;
  int64_t now_ms = clock_.now_ms();
  auto verified = verify_source_request(src.secret, req.get_header_value("X-Source-Timestamp"),
                                        req.get_header_value("X-Source-Signature"), req.body,
                                        now_ms / 1000, settings_.timestamp_tolerance_seconds);
  if (!verified) {
    return refuse({401, "unauthorized",
                   std::string(to_string(verified.err().code)) + ": " + verified.err().message});
  }
  if (!src.ip_allowlist.empty() && !address_allowed(src.ip_allowlist, req.remote_addr, log_)) {
    return refuse({403, "forbidden",
                   "address " + req.remote_addr + " is not in the allowlist of source " + src.id});
  }

  // 3. What is it: JSON, schema, sizes, allowed types.
  if (nests_deeper_than(req.body, max_json_depth)) {
    return refuse(invalid("the body nests arrays and objects deeper than " +
                          std::to_string(max_json_depth) + " levels"));
  }
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::parse_error& e) {
    return refuse({400, "invalid_json", "byte " + std::to_string(e.byte) + ": malformed JSON"});
  }
  std::vector<event> events;
  if (batch) {
    if (!body.is_array()) return refuse(invalid("the body must be a JSON array of events"));
    if (body.empty()) return refuse(invalid("the batch must hold at least one event"));
    if (body.size() > settings_.max_batch_events) {
      return refuse(invalid("the batch holds " + std::to_string(body.size()) + " events; at most " +
                            std::to_string(settings_.max_batch_events) + " are allowed"));
    }
    events.resize(body.size());
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (auto bad =
              take_event(body[i], "[" + std::to_string(i) + "].", src, settings_, events[i])) {
        return refuse(*bad);
      }
    }
  } else {
    events.resize(1);
    if (auto bad = take_event(body, "", src, settings_, events[0])) return refuse(*bad);
  }
  body = json();  // the events hold their own copies now
  for (auto& ev : events) {
    ev.source_id = src.id;
    ev.received_at = now_ms;
  }

  // 4. Store it; 202 only once committed.
  std::size_t count = events.size();
  submit_result submitted = backend_.submit(std::move(events));
  switch (submitted.status) {
    case submit_result::kind::accepted:
      write_json(res, 202,
                 {{"accepted", submitted.accepted}, {"duplicates", submitted.duplicates}});
      if (measures_.accepted) {
        measures_.accepted->inc(static_cast<uint64_t>(submitted.accepted));
        measures_.duplicates->inc(static_cast<uint64_t>(submitted.duplicates));
        measures_.ack_seconds->observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      return;
    case submit_result::kind::overloaded:
      return refuse({503, "unavailable", "overloaded: " + submitted.message, "overloaded"});
    case submit_result::kind::unavailable:
      if (log_) log_->warn("ingest: {} events refused: {}", count, submitted.message);
      return refuse({503, "unavailable", submitted.message});
  }
}

}  // namespace webhookd::http
