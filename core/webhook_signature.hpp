#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto_result.hpp"

namespace webhookd {

/// Why a Standard Webhooks signature could not be made or was refused.
enum class webhook_signature_errc {
  bad_secret,       ///< not "whsec_" + base64 of 24..64 bytes
  bad_message_id,   ///< empty, or contains '.' (which would make the signed content ambiguous)
  bad_timestamp,    ///< negative, or a webhook-timestamp header that is not unix seconds
  stale_timestamp,  ///< the timestamp is more than the tolerance away from now (either way)
  bad_signature,    ///< no "v1," signature in the header matches
  internal,         ///< OpenSSL failed while computing the MAC
};

/// Short stable name of a webhook signature error code ("bad_signature", ...).
const char* to_string(webhook_signature_errc code);

/// A failed signing or verification: a code callers branch on and a message for humans.
struct webhook_signature_error {
  webhook_signature_errc code = webhook_signature_errc::bad_signature;
  std::string message;
};

/// A signing operation's value or its error.
template <class T>
using webhook_signature_result = outcome<T, webhook_signature_error>;

/// Smallest and largest signing key (decoded secret) the Standard Webhooks spec allows, in bytes.
inline constexpr std::size_t webhook_secret_min_bytes = 24;
inline constexpr std::size_t webhook_secret_max_bytes = 64;

/// Default tolerance between webhook-timestamp and the verifier's clock, in seconds.
inline constexpr int64_t webhook_timestamp_tolerance_seconds = 300;

/// The HMAC key of a signing secret: base64-decode of the part after "whsec_". Refuses secrets
/// without the prefix, with invalid base64, or whose key is outside 24..64 bytes (bad_secret).
webhook_signature_result<std::string> webhook_signing_key(std::string_view secret);

/// Signs one delivery per Standard Webhooks: "v1," + base64(HMAC-SHA256(key,
/// msg_id + "." + timestamp + "." + body)), with key from webhook_signing_key(secret).
/// `timestamp_seconds` must be >= 0 and `msg_id` non-empty without '.'.
webhook_signature_result<std::string> sign_webhook(std::string_view secret, std::string_view msg_id,
                                                   int64_t timestamp_seconds,
                                                   std::string_view body);

/// The webhook-signature header value: one "v1,..." signature per secret, space-separated, in
/// the order given (current secret first, then those still in their rotation grace period).
/// Fails if `secrets` is empty or any secret is bad.
webhook_signature_result<std::string> webhook_signature_header(
    const std::vector<std::string>& secrets, std::string_view msg_id, int64_t timestamp_seconds,
    std::string_view body);

/// Verifies a delivery as a Standard Webhooks receiver would: `timestamp_header` must be unix
/// seconds (digits only) within `tolerance_seconds` of `now_seconds` in either direction, and at
/// least one "v1,<base64>" entry of the space-separated `signature_header` must equal the
/// expected signature (constant-time comparison). Entries of other versions (e.g. "v1a,") are
/// ignored. Used by tests and the bundled sink; the server itself only signs.
outcome<void, webhook_signature_error> verify_webhook_signature(
    std::string_view secret, std::string_view msg_id, std::string_view timestamp_header,
    std::string_view body, std::string_view signature_header, int64_t now_seconds,
    int64_t tolerance_seconds = webhook_timestamp_tolerance_seconds);

}  // namespace webhookd
