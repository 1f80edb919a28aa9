#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Standard Webhooks signature checking for the test receiver `webhookd-sink`. Written apart from
/// webhookd's own signer on purpose: the sink is an independent witness of what goes on the wire.
namespace webhookd::sink {

/// Standard base64 (RFC 4648 alphabet, with `=` padding) of `bytes`.
std::string base64_encode(std::string_view bytes);

/// Decodes standard base64 (padding optional, no whitespace); nullopt if `text` is not base64.
std::optional<std::string> base64_decode(std::string_view text);

/// The HMAC key of a Standard Webhooks secret: base64-decode of what follows `whsec_` (the prefix
/// is optional). nullopt if the rest is not base64 or decodes to nothing.
std::optional<std::string> decode_secret(std::string_view secret);

/// The `v1,<base64>` signature of one message: HMAC-SHA256(key, id + "." + timestamp + "." + body).
std::string sign_v1(std::string_view key, std::string_view id, std::string_view timestamp,
                    std::string_view body);

/// What the sink concluded about a delivery's signature.
enum class verification {
  unchecked,  ///< no secret is configured for the path
  verified,   ///< one `v1` signature of the header matched one of the keys
  failed,     ///< keys are configured but no signature matched (or headers were missing)
};

/// "unchecked", "verified" or "failed".
std::string_view to_string(verification v);

/// Checks a `webhook-signature` header (space-separated `version,signature` entries; versions other
/// than `v1` are ignored) against every key. Empty `keys` gives `unchecked`; a missing id,
/// timestamp or signature with keys configured gives `failed`. Comparison is constant-time.
verification verify(const std::vector<std::string>& keys, std::string_view id,
                    std::string_view timestamp, std::string_view body,
                    std::string_view signature_header);

}  // namespace webhookd::sink
