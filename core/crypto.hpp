#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/crypto_result.hpp"

namespace webhookd {

/// Why a crypto primitive failed.
enum class crypto_errc {
  invalid_argument,  ///< the caller passed something the primitive can't take (e.g. a huge size)
  openssl_failure,   ///< OpenSSL reported an error (no randomness, provider missing, ...)
};

/// Short stable name of a crypto error code ("openssl_failure", ...).
const char* to_string(crypto_errc code);

/// A failed crypto primitive: a code callers branch on and a message for humans (for OpenSSL
/// failures it carries OpenSSL's own error text).
struct crypto_error {
  crypto_errc code = crypto_errc::openssl_failure;
  std::string message;
};

/// A crypto primitive's value or its error.
template <class T>
using crypto_result = outcome<T, crypto_error>;

/// Length of a SHA-256 digest and of an HMAC-SHA256 tag, in bytes.
inline constexpr std::size_t sha256_size = 32;

/// Standard base64 (RFC 4648 section 4) with '=' padding.
std::string base64_encode(std::string_view bytes);

/// Decodes standard base64 with padding. Strict: the length must be a multiple of 4, only the
/// alphabet and at most two trailing '=' are allowed, no whitespace, and the unused bits of the
/// last character must be zero (so every byte string has exactly one accepted encoding).
/// Returns nullopt on any invalid input.
std::optional<std::string> base64_decode(std::string_view text);

/// base64url (RFC 4648 section 5, '-' and '_') without padding, as used by JWT.
std::string base64url_encode(std::string_view bytes);

/// Decodes unpadded base64url. Strict like base64_decode: '=' padding, characters outside the
/// url-safe alphabet, a length of 1 mod 4 and non-zero unused bits are all rejected (nullopt).
std::optional<std::string> base64url_decode(std::string_view text);

/// Lower-case hexadecimal.
std::string hex_encode(std::string_view bytes);

/// Decodes hexadecimal (either case). Odd lengths and non-hex characters give nullopt.
std::optional<std::string> hex_decode(std::string_view text);

/// HMAC-SHA256 of `data` under `key` (any length, including empty): the raw 32-byte tag.
/// Fails only if OpenSSL does (e.g. a provider configuration without HMAC).
crypto_result<std::string> hmac_sha256(std::string_view key, std::string_view data);

/// SHA-256 of `data`: the raw 32-byte digest.
crypto_result<std::string> sha256(std::string_view data);

/// `count` bytes from OpenSSL's CSPRNG (RAND_bytes). If the generator fails (not seeded, no
/// entropy) this returns an openssl_failure error: callers must not fall back to weaker
/// randomness. Counts above INT_MAX are an invalid_argument.
crypto_result<std::string> random_bytes(std::size_t count);

/// Compares two byte strings in time that depends only on their lengths (CRYPTO_memcmp).
/// Strings of different lengths are unequal; only the length, never the content, can leak.
bool constant_time_equals(std::string_view a, std::string_view b);

/// The prefix of Standard Webhooks signing secrets.
inline constexpr std::string_view signing_secret_prefix = "whsec_";

/// A new webhook signing secret: "whsec_" + base64 of 32 random bytes.
crypto_result<std::string> new_signing_secret();

/// Parses a unix-seconds timestamp header of a signed request: 1 to 18 ASCII digits, nothing
/// else (no sign, no spaces, no fraction). nullopt otherwise.
std::optional<int64_t> parse_unix_seconds(std::string_view text);

/// True if |a - b| <= tolerance, computed without overflow; a negative tolerance counts as 0.
bool within_tolerance(int64_t a, int64_t b, int64_t tolerance);

}  // namespace webhookd
