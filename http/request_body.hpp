#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "http/api_error.hpp"

namespace webhookd::http {

/// Largest request body the management routes accept: 1 MiB (more is 413 payload_too_large).
inline constexpr std::size_t max_management_body_bytes = 1024 * 1024;

/// Deepest nesting of arrays and objects accepted in a request body.
inline constexpr std::size_t max_json_depth = 64;

/// Parses a management request body that must be one JSON object. Errors:
/// 413 payload_too_large above max_management_body_bytes; 400 invalid_json "syntax error at byte
/// N: ..." for malformed JSON (including an empty body unless `empty_is_object`), and for nesting
/// deeper than max_json_depth; 422 validation_failed when the document is not an object.
/// An empty body (or only whitespace) is `{}` when `empty_is_object`.
api_result<nlohmann::json> parse_json_object(const std::string& body, bool empty_is_object = false);

/// The 0-based byte offset at which `text` first nests arrays/objects deeper than `max_depth`
/// (strings are skipped), or std::string::npos when it never does. Does not validate JSON.
std::size_t find_excess_nesting(const std::string& text, std::size_t max_depth);

}  // namespace webhookd::http
