#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto_result.hpp"

namespace webhookd {

/// Why a source's ingestion request was refused.
enum class source_signature_errc {
  bad_secret,       ///< the source has an empty secret (nothing to verify against)
  bad_timestamp,    ///< X-Source-Timestamp is not unix seconds (digits only)
  stale_timestamp,  ///< X-Source-Timestamp is more than the tolerance away from now
  bad_signature,    ///< no v1= entry of X-Source-Signature matches
  internal,         ///< OpenSSL failed while computing the MAC
};

/// Short stable name of a source signature error code ("stale_timestamp", ...).
const char* to_string(source_signature_errc code);

/// A refused ingestion request: a code callers branch on and a message for humans.
struct source_signature_error {
  source_signature_errc code = source_signature_errc::bad_signature;
  std::string message;
};

/// Largest allowed distance between X-Source-Timestamp and now, in seconds.
inline constexpr int64_t source_timestamp_tolerance_seconds = 300;

/// The X-Source-Signature value a source sends: "v1=" + lower-case hex of
/// HMAC-SHA256(secret, timestamp + "." + body). `timestamp_seconds` is written in decimal.
outcome<std::string, source_signature_error> sign_source_request(std::string_view secret,
                                                                 int64_t timestamp_seconds,
                                                                 std::string_view body);

/// Verifies an ingestion request: `timestamp_header` (X-Source-Timestamp) must be unix seconds
/// within `tolerance_seconds` of `now_seconds` either way, and at least one "v1=<hex>" entry of
/// `signature_header` (entries separated by spaces and/or commas; hex in either case) must
/// match HMAC-SHA256(secret, timestamp_header + "." + body), compared in constant time.
/// Entries with other prefixes are ignored.
outcome<void, source_signature_error> verify_source_request(
    std::string_view secret, std::string_view timestamp_header, std::string_view signature_header,
    std::string_view body, int64_t now_seconds,
    int64_t tolerance_seconds = source_timestamp_tolerance_seconds);

}  // namespace webhookd
