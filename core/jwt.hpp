#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/crypto_result.hpp"

namespace webhookd {

/// Why a token was refused (or could not be made).
enum class jwt_errc {
  malformed,        ///< not three base64url parts of JSON objects, a bad claim type, no exp, ...
  bad_algorithm,    ///< header alg is anything but exactly "HS256" (e.g. "none", "HS512")
  bad_signature,    ///< signature missing, undecodable or not matching (wrong secret, tampering)
  expired,          ///< exp <= now (minus leeway)
  not_yet_valid,    ///< nbf > now (plus leeway)
  missing_subject,  ///< sub absent, not a string, or empty
  invalid_key,      ///< the HS256 secret is empty
  internal,         ///< OpenSSL failed while computing the MAC
};

/// Short stable name of a JWT error code ("expired", ...), fit for an API error body.
const char* to_string(jwt_errc code);

/// A refused token: a code callers branch on and a message for humans.
struct jwt_error {
  jwt_errc code = jwt_errc::malformed;
  std::string message;
};

/// A JWT operation's value or its error.
template <class T>
using jwt_result = outcome<T, jwt_error>;

/// The claims webhookd puts in and reads from management tokens. Times are unix seconds.
struct jwt_claims {
  std::string sub;             ///< the client id; required, non-empty
  std::string scope;           ///< space-separated scopes (e.g. "admin"); empty = none
  int64_t iat = 0;             ///< issued at
  int64_t exp = 0;             ///< expires at; required (tokens without exp are refused)
  std::optional<int64_t> nbf;  ///< not valid before, if set
};

/// The largest leeway verify_jwt accepts, in seconds; larger values are clamped to it.
inline constexpr int64_t jwt_max_leeway_seconds = 30;

/// Longest token verify_jwt looks at (bytes); anything longer is malformed.
inline constexpr std::size_t jwt_max_token_size = 8 * 1024;

/// Makes an HS256 token `base64url(header).base64url(payload).base64url(mac)` with header
/// {"alg":"HS256","typ":"JWT"} and the claims sub, scope (only if non-empty), iat, exp, nbf (only
/// if set). Fails with invalid_key for an empty secret, missing_subject for an empty sub and
/// malformed if a string claim is not valid UTF-8.
jwt_result<std::string> mint_jwt(std::string_view secret, const jwt_claims& claims);

/// Verifies an HS256 token against `secret` at time `now_seconds` and returns its claims.
///
/// Checks, in order: shape (exactly three dot-separated parts, at most jwt_max_token_size
/// bytes), header (base64url JSON object whose "alg" is exactly "HS256"; a "crit" header is
/// refused), signature (present, 32 bytes, equal in constant time), payload (base64url JSON
/// object), sub (non-empty string), exp (required) and nbf/iat (optional) as JSON numbers,
/// scope (optional string), then time: expired if `exp <= now - leeway`, not_yet_valid if
/// `nbf > now + leeway`. Fractional times are rounded toward the stricter side.
///
/// `leeway_seconds` absorbs clock skew between minter and verifier; it is clamped to
/// [0, jwt_max_leeway_seconds]. The default 0 fits webhookd, which mints and verifies its tokens
/// with the same clock. An empty secret is refused with invalid_key.
jwt_result<jwt_claims> verify_jwt(std::string_view secret, std::string_view token,
                                  int64_t now_seconds, int64_t leeway_seconds = 0);

/// True if `scope` (a space-separated list) of the claims contains exactly `wanted`.
bool has_scope(const jwt_claims& claims, std::string_view wanted);

}  // namespace webhookd
