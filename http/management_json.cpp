#include "http/management_json.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <utility>

#include "core/event_types.hpp"
#include "core/ip_address.hpp"
#include "core/jwe.hpp"
#include "core/retry_policy.hpp"
#include "core/time_format.hpp"
#include "core/trigger_filter.hpp"
#include "core/url.hpp"

namespace webhookd::http {

namespace {

using json = nlohmann::json;

// The JSON type of `value`, for messages ("a string", "null", ...).
std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

api_error wrong_type(const std::string& field, const std::string& expected, const json& got) {
  return validation_failed(field + ": must be " + expected + ", got " + type_name(got));
}

// Refuses keys other than `known`.
std::optional<api_error> check_known_fields(const json& body,
                                            const std::vector<std::string>& known) {
  for (const auto& item : body.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return validation_failed(item.key() + ": unknown field (expected " + list + ")");
    }
  }
  return std::nullopt;
}

// An integer in [lo, hi], or nullopt when `value` is not such an integer.
std::optional<int64_t> integer_in(const json& value, int64_t lo, int64_t hi) {
  if (value.is_number_unsigned()) {
    auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(hi)) return std::nullopt;
    auto s = static_cast<int64_t>(v);
    if (s < lo) return std::nullopt;
    return s;
  }
  if (value.is_number_integer()) {
    auto v = value.get<int64_t>();
    if (v < lo || v > hi) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

bool printable_ascii(const std::string& text, bool allow_space) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u > 0x20 && u < 0x7f) || (allow_space && (u == ' ' || u == '\t'));
  });
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Why a custom header name is refused, or nullopt. `name` is lower case.
std::optional<std::string> header_name_error(const std::string& name) {
  if (name.empty() || name.size() > 256) return "must be 1 to 256 characters";
  if (!std::all_of(name.begin(), name.end(), is_token_char)) {
    return "is not an RFC 7230 token";
  }
  static const std::set<std::string> reserved = {"host",
                                                 "content-length",
                                                 "content-type",
                                                 "content-encoding",
                                                 "connection",
                                                 "keep-alive",
                                                 "transfer-encoding",
                                                 "te",
                                                 "trailer",
                                                 "upgrade",
                                                 "user-agent",
                                                 "expect",
                                                 "proxy-authorization",
                                                 "proxy-authenticate",
                                                 "proxy-connection",
                                                 "date",
                                                 "accept-encoding"};
  if (reserved.count(name) != 0) return "is reserved (set by webhookd or hop-by-hop)";
  if (name.rfind("webhook-", 0) == 0) return "is reserved (webhook-* headers are the signature's)";
  return std::nullopt;
}

// A JSON-path of encrypt_fields: dot-separated, non-empty segments of printable characters.
bool valid_field_path(const std::string& path) {
  if (path.empty() || path.size() > 256) return false;
  if (!printable_ascii(path, false)) return false;
  if (path.front() == '.' || path.back() == '.') return false;
  return path.find("..") == std::string::npos;
}

// Whether `pem` is an RSA public key of at least 2048 bits in PEM ("BEGIN PUBLIC KEY").
std::optional<std::string> public_key_error(const std::string& pem) {
  if (pem.empty()) return "must not be empty (use null to remove the key)";
  if (pem.size() > max_public_key_length) {
    return "must be at most " + std::to_string(max_public_key_length) + " characters";
  }
  return rsa_public_key_error(pem);
}

// A string field with a length bound.
api_result<std::string> string_field(const json& value, const std::string& field,
                                     std::size_t min_length, std::size_t max_length) {
  if (!value.is_string()) return wrong_type(field, "a string", value);
  const auto& text = value.get_ref<const std::string&>();
  if (text.size() < min_length || text.size() > max_length) {
    if (min_length == 0) {
      return validation_failed(field + ": must be at most " + std::to_string(max_length) +
                               " characters");
    }
    return validation_failed(field + ": must be " + std::to_string(min_length) + " to " +
                             std::to_string(max_length) + " characters");
  }
  return text;
}

api_result<std::vector<std::string>> event_type_patterns(const json& value) {
  const std::string field = "event_types";
  if (!value.is_array()) return wrong_type(field, "an array of event types", value);
  if (value.empty() || value.size() > max_event_types_per_webhook) {
    return validation_failed(field + ": must have 1 to " +
                             std::to_string(max_event_types_per_webhook) + " entries");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string item_field = field + "[" + std::to_string(i) + "]";
    if (!value[i].is_string()) return wrong_type(item_field, "a string", value[i]);
    const auto& pattern = value[i].get_ref<const std::string&>();
    if (auto why = event_pattern_error(pattern)) {
      return validation_failed(item_field + ": " + *why);
    }
    if (std::find(out.begin(), out.end(), pattern) == out.end()) out.push_back(pattern);
  }
  return out;
}

api_result<std::string> trigger_conditions_field(const json& value) {
  if (!value.is_object()) return wrong_type("trigger_conditions", "an object", value);
  auto parsed = parse_trigger_filter(value);
  if (!parsed) {
    const auto& err = parsed.err();
    std::string where = err.pointer.empty() ? "" : " at " + err.pointer;
    return validation_failed("trigger_conditions" + where + ": " + err.message);
  }
  return value.dump();
}

api_result<std::string> retry_policy_field(const json& value) {
  if (!value.is_object()) return wrong_type("retry_policy", "an object", value);
  auto parsed = retry_policy::from_json(value);
  if (!parsed) {
    const auto& err = parsed.err();
    // The message starts with the field already ("max_attempts: must be ...").
    return validation_failed("retry_policy" + std::string(err.field.empty() ? ": " : ".") +
                             err.message);
  }
  return value.dump();
}

api_result<std::string> headers_field(const json& value) {
  if (!value.is_object()) return wrong_type("headers", "an object of strings", value);
  if (value.size() > max_custom_headers) {
    return validation_failed("headers: at most " + std::to_string(max_custom_headers) + " headers");
  }
  json out = json::object();
  for (const auto& item : value.items()) {
    std::string name = lower(item.key());
    std::string field = "headers." + item.key();
    if (auto why = header_name_error(name)) return validation_failed(field + ": name " + *why);
    if (out.contains(name)) return validation_failed(field + ": given twice (names ignore case)");
    if (!item.value().is_string()) return wrong_type(field, "a string", item.value());
    const auto& text = item.value().get_ref<const std::string&>();
    if (text.size() > max_header_value_length || !printable_ascii(text, true)) {
      return validation_failed(field + ": value must be printable ASCII, at most " +
                               std::to_string(max_header_value_length) + " characters");
    }
    out[name] = text;
  }
  return out.dump();
}

api_result<std::string> encrypt_fields_field(const json& value) {
  if (!value.is_array()) return wrong_type("encrypt_fields", "an array of paths", value);
  if (value.empty() || value.size() > max_encrypt_fields) {
    return validation_failed("encrypt_fields: must have 1 to " +
                             std::to_string(max_encrypt_fields) +
                             " paths (null encrypts the whole body)");
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string field = "encrypt_fields[" + std::to_string(i) + "]";
    if (!value[i].is_string()) return wrong_type(field, "a string", value[i]);
    if (!valid_field_path(value[i].get<std::string>())) {
      return validation_failed(field + ": must be a dotted path such as data.card");
    }
  }
  return value.dump();
}

// Parses the JSON text of a stored field, null when empty (or, defensively, unreadable).
json stored_json(const std::string& text) {
  if (text.empty()) return nullptr;
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? json(nullptr) : parsed;
}

json string_or_null(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

api_result<std::vector<std::string>> allowed_event_types_field(const json& value) {
  const std::string field = "allowed_event_types";
  if (!value.is_array()) return wrong_type(field, "an array of event type names", value);
  if (value.empty() || value.size() > max_event_types_per_webhook) {
    return validation_failed(field + ": must have 1 to " +
                             std::to_string(max_event_types_per_webhook) + " entries");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string item_field = field + "[" + std::to_string(i) + "]";
    if (!value[i].is_string()) return wrong_type(item_field, "a string", value[i]);
    const auto& name = value[i].get_ref<const std::string&>();
    if (auto why = event_type_name_error(name)) return validation_failed(item_field + ": " + *why);
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

api_result<std::vector<std::string>> ip_allowlist_field(const json& value) {
  const std::string field = "ip_allowlist";
  if (value.is_null()) return std::vector<std::string>{};
  if (!value.is_array()) return wrong_type(field, "an array of CIDRs", value);
  if (value.size() > max_ip_allowlist_entries) {
    return validation_failed(field + ": at most " + std::to_string(max_ip_allowlist_entries) +
                             " entries");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string item_field = field + "[" + std::to_string(i) + "]";
    if (!value[i].is_string()) return wrong_type(item_field, "a string", value[i]);
    auto block = cidr::parse(value[i].get<std::string>());
    if (!block) return validation_failed(item_field + ": " + block.err().message);
    out.push_back(block->to_string());
  }
  return out;
}

api_result<std::string> credential_field(const json& value, const std::string& field) {
  auto text = string_field(value, field, 16, 256);
  if (!text) return text;
  if (!printable_ascii(*text, false)) {
    return validation_failed(field + ": must be printable ASCII without spaces");
  }
  return text;
}

// timeout_seconds: a number of seconds (fractions allowed) within the bounds, as milliseconds.
api_result<int64_t> timeout_ms_field(const json& value) {
  const std::string bounds = "timeout_seconds: must be a number of seconds from 0.1 to 60";
  if (!value.is_number()) return validation_failed(bounds);
  const double seconds = value.get<double>();
  if (!(seconds * 1000 >= min_timeout_ms && seconds * 1000 <= max_timeout_ms)) {
    return validation_failed(bounds);
  }
  return static_cast<int64_t>(std::llround(seconds * 1000));
}

}  // namespace

api_result<webhook_body> parse_webhook_body(const json& body, body_kind kind) {
  static const std::vector<std::string> create_fields = {
      "callback_url", "event_types",    "trigger_conditions", "retry_policy",   "rate_limit",
      "priority",     "ordered",        "public_key",         "encrypt_fields", "headers",
      "description",  "timeout_seconds"};
  std::vector<std::string> known = create_fields;
  if (kind == body_kind::patch) known.push_back("status");
  if (auto unknown = check_known_fields(body, known)) return *unknown;

  const bool creating = kind == body_kind::create;
  webhook_body out;
  webhook& w = out.values;
  for (const auto& item : body.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    // On create, null is the same as leaving a field out.
    if (value.is_null() && creating) continue;
    const bool clear = value.is_null();
    if (key == "callback_url") {
      auto url = string_field(value, key, 1, max_url_length);
      if (!url) return url.err();
      out.callback_url = *url;
      w.callback_url = *url;
    } else if (key == "event_types") {
      auto patterns = event_type_patterns(value);
      if (!patterns) return patterns.err();
      w.event_types = std::move(*patterns);
    } else if (key == "trigger_conditions") {
      if (!clear) {
        auto text = trigger_conditions_field(value);
        if (!text) return text.err();
        w.trigger_conditions = std::move(*text);
      }
    } else if (key == "retry_policy") {
      if (!clear) {
        auto text = retry_policy_field(value);
        if (!text) return text.err();
        w.retry_policy = std::move(*text);
      }
    } else if (key == "rate_limit") {
      auto limit = integer_in(value, 1, max_rate_limit);
      if (!limit) {
        return validation_failed("rate_limit: must be an integer from 1 to " +
                                 std::to_string(max_rate_limit));
      }
      w.rate_limit = static_cast<int>(*limit);
    } else if (key == "priority") {
      if (!value.is_string()) return wrong_type(key, "high, standard or bulk", value);
      const auto& p = value.get_ref<const std::string&>();
      if (p != "high" && p != "standard" && p != "bulk") {
        return validation_failed("priority: must be high, standard or bulk");
      }
      w.priority = p;
    } else if (key == "ordered") {
      if (!value.is_boolean()) return wrong_type(key, "a boolean", value);
      w.ordered = value.get<bool>();
    } else if (key == "public_key") {
      if (!clear) {
        if (!value.is_string()) return wrong_type(key, "a PEM string", value);
        if (auto why = public_key_error(value.get<std::string>())) {
          return validation_failed("public_key: " + *why);
        }
        w.public_key = value.get<std::string>();
      }
    } else if (key == "encrypt_fields") {
      if (!clear) {
        auto text = encrypt_fields_field(value);
        if (!text) return text.err();
        w.encrypt_fields = std::move(*text);
      }
    } else if (key == "headers") {
      if (!clear) {
        auto text = headers_field(value);
        if (!text) return text.err();
        w.headers = std::move(*text);
      }
    } else if (key == "description") {
      if (!clear) {
        auto text = string_field(value, key, 0, max_description_length);
        if (!text) return text.err();
        w.description = std::move(*text);
      }
    } else if (key == "timeout_seconds") {
      if (!clear) {
        auto ms = timeout_ms_field(value);
        if (!ms) return ms.err();
        w.timeout_ms = *ms;
      }
    } else if (key == "status") {
      if (!value.is_string()) return wrong_type(key, "active, paused or disabled", value);
      const auto& s = value.get_ref<const std::string&>();
      if (s != "active" && s != "paused" && s != "disabled") {
        return validation_failed("status: must be active, paused or disabled");
      }
      w.status = s;
    }
    out.fields.push_back(key);
  }
  if (creating) {
    for (const char* required : {"callback_url", "event_types"}) {
      if (std::find(out.fields.begin(), out.fields.end(), required) == out.fields.end()) {
        return validation_failed(std::string(required) + ": required");
      }
    }
  } else if (out.fields.empty()) {
    return validation_failed("body: names no field to change");
  }
  return out;
}

std::optional<api_error> check_patterns_in_catalogue(const std::vector<std::string>& patterns,
                                                     const std::vector<event_type>& catalogue) {
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const std::string& pattern = patterns[i];
    std::string field = "event_types[" + std::to_string(i) + "]";
    switch (event_pattern_kind_of(pattern)) {
      case event_pattern_kind::all:
        break;
      case event_pattern_kind::exact: {
        bool known = std::any_of(catalogue.begin(), catalogue.end(),
                                 [&](const event_type& t) { return t.name == pattern; });
        if (!known) return validation_failed(field + ": unknown event type \"" + pattern + "\"");
        break;
      }
      case event_pattern_kind::prefix: {
        bool covers = std::any_of(catalogue.begin(), catalogue.end(), [&](const event_type& t) {
          return pattern_matches(pattern, t.name);
        });
        if (!covers) {
          return validation_failed(field + ": no event type in the catalogue matches \"" + pattern +
                                   "\"");
        }
        break;
      }
    }
  }
  return std::nullopt;
}

json webhook_to_json(const webhook& w) {
  json headers = stored_json(w.headers);
  if (!headers.is_object()) headers = json::object();
  return json{
      {"webhook_id", w.id},
      {"client_id", w.client_id},
      {"callback_url", w.callback_url},
      {"event_types", w.event_types},
      {"trigger_conditions", stored_json(w.trigger_conditions)},
      {"retry_policy", stored_json(w.retry_policy)},
      {"rate_limit", w.rate_limit},
      {"priority", w.priority},
      {"ordered", w.ordered},
      {"public_key", string_or_null(w.public_key)},
      {"encrypt_fields", stored_json(w.encrypt_fields)},
      {"headers", std::move(headers)},
      {"description", w.description},
      {"status", w.status},
      {"disabled_reason", w.disabled_reason},
      {"previous_secret_expires_at", w.previous_secret.empty()
                                         ? json(nullptr)
                                         : json(format_rfc3339_ms(w.previous_secret_expires_at))},
      {"created_at", format_rfc3339_ms(w.created_at)},
      {"updated_at", format_rfc3339_ms(w.updated_at)},
      {"timeout_seconds",
       w.timeout_ms > 0 ? json(static_cast<double>(w.timeout_ms) / 1000) : json(nullptr)},
  };
}

api_result<event_type> parse_event_type_body(const json& body) {
  if (auto unknown = check_known_fields(body, {"name", "description", "schema"})) return *unknown;
  event_type t;
  auto name = body.find("name");
  if (name == body.end() || name->is_null()) return validation_failed("name: required");
  if (!name->is_string()) return wrong_type("name", "a string", *name);
  t.name = name->get<std::string>();
  if (auto why = event_type_name_error(t.name)) return validation_failed("name: " + *why);
  if (auto d = body.find("description"); d != body.end() && !d->is_null()) {
    auto text = string_field(*d, "description", 0, max_description_length);
    if (!text) return text.err();
    t.description = std::move(*text);
  }
  if (auto s = body.find("schema"); s != body.end() && !s->is_null()) {
    if (!s->is_object()) return wrong_type("schema", "an object (a JSON Schema)", *s);
    t.schema = s->dump();
  }
  return t;
}

json event_type_to_json(const event_type& t) {
  return json{{"name", t.name},
              {"description", t.description},
              {"schema", stored_json(t.schema)},
              {"created_at", format_rfc3339_ms(t.created_at)}};
}

api_result<source_body> parse_source_body(const json& body, body_kind kind) {
  if (auto unknown = check_known_fields(
          body, {"name", "api_key", "secret", "allowed_event_types", "ip_allowlist"})) {
    return *unknown;
  }
  const bool creating = kind == body_kind::create;
  source_body out;
  source& s = out.values;
  for (const auto& item : body.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    if (value.is_null() && creating) continue;
    if (key == "name") {
      auto text = string_field(value, key, 1, max_source_name_length);
      if (!text) return text.err();
      s.name = std::move(*text);
    } else if (key == "api_key") {
      auto text = credential_field(value, key);
      if (!text) return text.err();
      s.api_key = std::move(*text);
    } else if (key == "secret") {
      auto text = credential_field(value, key);
      if (!text) return text.err();
      s.secret = std::move(*text);
    } else if (key == "allowed_event_types") {
      auto names = allowed_event_types_field(value);
      if (!names) return names.err();
      s.allowed_event_types = std::move(*names);
    } else if (key == "ip_allowlist") {
      auto blocks = ip_allowlist_field(value);
      if (!blocks) return blocks.err();
      s.ip_allowlist = std::move(*blocks);
    }
    out.fields.push_back(key);
  }
  if (creating) {
    for (const char* required : {"name", "allowed_event_types"}) {
      if (std::find(out.fields.begin(), out.fields.end(), required) == out.fields.end()) {
        return validation_failed(std::string(required) + ": required");
      }
    }
  } else if (out.fields.empty()) {
    return validation_failed("body: names no field to change");
  }
  return out;
}

json source_to_json(const source& s, bool include_secret) {
  json out{{"source_id", s.id},
           {"name", s.name},
           {"api_key", s.api_key},
           {"allowed_event_types", s.allowed_event_types},
           {"ip_allowlist", s.ip_allowlist},
           {"created_at", format_rfc3339_ms(s.created_at)},
           {"updated_at", format_rfc3339_ms(s.updated_at)}};
  if (include_secret) out["secret"] = s.secret;
  return out;
}

api_result<int64_t> parse_rotate_body(const json& body, int64_t default_seconds) {
  if (auto unknown = check_known_fields(body, {"grace_period_seconds"})) return *unknown;
  auto grace = body.find("grace_period_seconds");
  if (grace == body.end() || grace->is_null()) return default_seconds;
  auto value = integer_in(*grace, 0, max_rotation_grace_seconds);
  if (!value) {
    return validation_failed("grace_period_seconds: must be an integer from 0 to " +
                             std::to_string(max_rotation_grace_seconds));
  }
  return *value;
}

json cursor_to_json(const std::string& next_cursor) {
  return string_or_null(next_cursor);
}

}  // namespace webhookd::http
