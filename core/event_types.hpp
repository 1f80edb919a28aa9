#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace webhookd {

/// Longest event type name or subscription pattern, in bytes.
inline constexpr std::size_t max_event_type_length = 128;

/// Why `name` is not a valid event type name, or nullopt when it is. A name is 1..128 bytes of
/// dot-separated, non-empty segments of [a-z0-9_-], e.g. "invoice.paid", "user_created".
[[nodiscard]] std::optional<std::string> event_type_name_error(std::string_view name);

/// Whether `name` is a valid event type name (see event_type_name_error).
[[nodiscard]] bool is_valid_event_type_name(std::string_view name);

/// The three shapes of a subscription pattern.
enum class event_pattern_kind {
  exact,   ///< "invoice.paid": that type only
  prefix,  ///< "invoice.*": every type strictly under "invoice." at any depth, not "invoice"
  all,     ///< "*": every type
};

/// Why `pattern` is not a valid subscription pattern, or nullopt when it is. A pattern is "*",
/// a valid event type name, or a valid name followed by ".*" (1..128 bytes in total); "*" is
/// allowed only as the whole last segment.
[[nodiscard]] std::optional<std::string> event_pattern_error(std::string_view pattern);

/// Whether `pattern` is a valid subscription pattern (see event_pattern_error).
[[nodiscard]] bool is_valid_event_pattern(std::string_view pattern);

/// The shape of a pattern. Precondition: is_valid_event_pattern(pattern).
[[nodiscard]] event_pattern_kind event_pattern_kind_of(std::string_view pattern);

/// For a prefix pattern "a.b.*", the text every matching type starts with: "a.b." (dot
/// included). For "*" the empty string; for an exact pattern the name itself.
/// Precondition: is_valid_event_pattern(pattern).
[[nodiscard]] std::string_view event_pattern_stem(std::string_view pattern);

/// Whether events of type `type` are delivered to a subscription with `pattern`: "*" matches
/// every type, "p.*" every type that starts with "p." ("invoice.*" matches "invoice.paid" and
/// "invoice.line.added", not "invoice" nor "invoices.paid"), any other pattern only the identical
/// name. Checks shape only: callers validate both strings when they are registered or ingested.
[[nodiscard]] bool pattern_matches(std::string_view pattern, std::string_view type);

}  // namespace webhookd
