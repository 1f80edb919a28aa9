#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model.hpp"
#include "http/api_error.hpp"

/// The JSON of the management API (the shapes of the API contract): objects to JSON, and request
/// bodies to validated model values. Every refusal is a 422 validation_failed whose message starts
/// with the offending field ("event_types[2]: ...", "trigger_conditions at /data.amount/$gte:
/// ..."). Unknown fields are refused too. Checks that need the outside world (DNS and the SSRF
/// policy for callback_url, the event-type catalogue) are the caller's.
namespace webhookd::http {

/// Field limits of the contract.
inline constexpr std::size_t max_event_types_per_webhook = 100;
inline constexpr std::size_t max_description_length = 1024;
inline constexpr std::size_t max_custom_headers = 32;
inline constexpr std::size_t max_header_value_length = 1024;
inline constexpr int max_rate_limit = 100000;
inline constexpr std::size_t max_encrypt_fields = 32;
/// Bounds of a webhook's timeout_seconds, in milliseconds (the message of management_json.cpp
/// names them).
inline constexpr int64_t min_timeout_ms = 100;
inline constexpr int64_t max_timeout_ms = 60'000;
inline constexpr std::size_t max_public_key_length = 16 * 1024;
inline constexpr std::size_t max_source_name_length = 256;
inline constexpr std::size_t max_ip_allowlist_entries = 100;
/// Longest grace period of a rotated-out secret: 30 days.
inline constexpr int64_t max_rotation_grace_seconds = 30 * 24 * 3600;

/// Whether a body creates an object (required fields must be there, null means absent) or
/// patches one (any non-empty subset; null clears a clearable field).
enum class body_kind { create, patch };

/// A validated webhook body: the values of the fields it carries and their names.
struct webhook_body {
  webhook values;  ///< client_id, ids, secrets and times are not set here
  /// The fields present, in the names of webhook_patch::fields.
  std::vector<std::string> fields;
  /// Set when the body carries callback_url: the caller must still vet it (SSRF policy, DNS).
  std::optional<std::string> callback_url;
};

/// Validates a webhook create or PATCH body: types, ranges and formats of every field
/// (event type patterns by shape, trigger_conditions compiled, retry_policy parsed, headers
/// names and values, public_key as an RSA public key in PEM). A create body needs callback_url
/// and event_types; a PATCH body at least one field and may carry "status".
api_result<webhook_body> parse_webhook_body(const nlohmann::json& body, body_kind kind);

/// Checks subscription patterns against the catalogue: a name must be in it; a prefix pattern
/// "p.*" needs at least one catalogue type under "p."; "*" is always accepted. nullopt when all
/// pass, else the 422 naming the first offending entry.
std::optional<api_error> check_patterns_in_catalogue(const std::vector<std::string>& patterns,
                                                     const std::vector<event_type>& catalogue);

/// The webhook object of the contract (never the signing secrets).
nlohmann::json webhook_to_json(const webhook& w);

/// A validated event-type create body.
api_result<event_type> parse_event_type_body(const nlohmann::json& body);

/// {"name","description","schema"|null,"created_at"}.
nlohmann::json event_type_to_json(const event_type& t);

/// A validated source body: the values it carries and their names (source_patch::fields).
struct source_body {
  source values;
  std::vector<std::string> fields;
};

/// Validates a source create or PATCH body (name, api_key, secret, allowed_event_types,
/// ip_allowlist). api_key and secret, when given, are 16..256 printable characters without
/// spaces; ip_allowlist entries are CIDRs or single addresses (stored in canonical form).
api_result<source_body> parse_source_body(const nlohmann::json& body, body_kind kind);

/// The source object; "secret" only when `include_secret` (the answer to create).
nlohmann::json source_to_json(const source& s, bool include_secret);

/// grace_period_seconds of a rotate-secret body (0..max_rotation_grace_seconds), or the default
/// when absent.
api_result<int64_t> parse_rotate_body(const nlohmann::json& body, int64_t default_seconds);

/// A page's next_cursor: null when empty.
nlohmann::json cursor_to_json(const std::string& next_cursor);

}  // namespace webhookd::http
