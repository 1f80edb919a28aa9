#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webhookd {

/// Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. "2026-11-28T23:41:02.123Z".
std::string format_rfc3339_ms(int64_t unix_ms);

/// Parses an RFC 3339 timestamp ("2026-11-28T23:41:02Z", optional fraction, "Z" or +hh:mm
/// offset) into unix milliseconds; nullopt when malformed or out of range.
std::optional<int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace webhookd
