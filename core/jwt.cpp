#include "core/jwt.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/crypto.hpp"

namespace webhookd {

namespace {

using json = nlohmann::json;

constexpr std::string_view jwt_header = R"({"alg":"HS256","typ":"JWT"})";

jwt_error fail(jwt_errc code, std::string message) {
  return jwt_error{code, std::move(message)};
}

/// Parses a base64url segment holding a JSON object; nullopt if it is anything else.
std::optional<json> decode_json_object(std::string_view segment) {
  auto text = base64url_decode(segment);
  if (!text) return std::nullopt;
  try {
    auto value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded() || !value.is_object()) return std::nullopt;
    return value;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

enum class rounding { down, up };

/// A JSON NumericDate as whole seconds: integers as they are, fractions rounded `toward` the
/// stricter side for the claim. nullopt for non-numbers and values outside int64.
std::optional<int64_t> numeric_date(const json& value, rounding toward) {
  if (value.is_number_unsigned()) {
    auto raw = value.get<uint64_t>();
    if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(raw);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    double raw = value.get<double>();
    if (!std::isfinite(raw)) return std::nullopt;
    double whole = toward == rounding::down ? std::floor(raw) : std::ceil(raw);
    // 2^62 is far beyond any meaningful date and safely inside int64.
    constexpr double limit = 4611686018427387904.0;
    if (whole < -limit || whole > limit) return std::nullopt;
    return static_cast<int64_t>(whole);
  }
  return std::nullopt;
}

int64_t saturating_add(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b)
    return std::numeric_limits<int64_t>::max();
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b)
    return std::numeric_limits<int64_t>::min();
  return a + b;
}

}  // namespace

const char* to_string(jwt_errc code) {
  switch (code) {
    case jwt_errc::malformed:
      return "malformed";
    case jwt_errc::bad_algorithm:
      return "bad_algorithm";
    case jwt_errc::bad_signature:
      return "bad_signature";
    case jwt_errc::expired:
      return "expired";
    case jwt_errc::not_yet_valid:
      return "not_yet_valid";
    case jwt_errc::missing_subject:
      return "missing_subject";
    case jwt_errc::invalid_key:
      return "invalid_key";
    case jwt_errc::internal:
      return "internal";
  }
  return "unknown";
}

jwt_result<std::string> mint_jwt(std::string_view secret, const jwt_claims& claims) {
  if (secret.empty()) return fail(jwt_errc::invalid_key, "the JWT secret is empty");
  if (claims.sub.empty()) return fail(jwt_errc::missing_subject, "the token needs a subject");
  std::string payload;
  try {
    json body = json::object();
    body["sub"] = claims.sub;
    if (!claims.scope.empty()) body["scope"] = claims.scope;
    body["iat"] = claims.iat;
    body["exp"] = claims.exp;
    if (claims.nbf) body["nbf"] = *claims.nbf;
    payload = body.dump();
  } catch (const json::exception& e) {
    return fail(jwt_errc::malformed, std::string{"claims can't be serialized: "} + e.what());
  }
  std::string token = base64url_encode(jwt_header);
  token.push_back('.');
  token.append(base64url_encode(payload));
  auto mac = hmac_sha256(secret, token);
  if (!mac) return fail(jwt_errc::internal, mac.err().message);
  token.push_back('.');
  token.append(base64url_encode(*mac));
  return token;
}

jwt_result<jwt_claims> verify_jwt(std::string_view secret, std::string_view token,
                                  int64_t now_seconds, int64_t leeway_seconds) {
  if (secret.empty()) return fail(jwt_errc::invalid_key, "the JWT secret is empty");
  if (token.size() > jwt_max_token_size) return fail(jwt_errc::malformed, "token is too long");
  if (std::count(token.begin(), token.end(), '.') != 2)
    return fail(jwt_errc::malformed, "token must have three dot-separated parts");
  auto first_dot = token.find('.');
  auto second_dot = token.find('.', first_dot + 1);
  auto header_part = token.substr(0, first_dot);
  auto payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  auto signature_part = token.substr(second_dot + 1);
  auto signed_part = token.substr(0, second_dot);

  auto header = decode_json_object(header_part);
  if (!header) return fail(jwt_errc::malformed, "token header is not base64url JSON object");
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "HS256")
    return fail(jwt_errc::bad_algorithm, "token algorithm must be HS256");
  if (header->contains("crit"))
    return fail(jwt_errc::malformed, "token header has unsupported critical extensions");

  if (signature_part.empty()) return fail(jwt_errc::bad_signature, "token has no signature");
  auto signature = base64url_decode(signature_part);
  if (!signature || signature->size() != sha256_size)
    return fail(jwt_errc::bad_signature, "token signature is not an HS256 signature");
  auto expected = hmac_sha256(secret, signed_part);
  if (!expected) return fail(jwt_errc::internal, expected.err().message);
  if (!constant_time_equals(*signature, *expected))
    return fail(jwt_errc::bad_signature, "token signature does not match");

  auto payload = decode_json_object(payload_part);
  if (!payload) return fail(jwt_errc::malformed, "token payload is not a base64url JSON object");

  jwt_claims claims;
  auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string() || sub->get<std::string>().empty())
    return fail(jwt_errc::missing_subject, "token has no subject");
  claims.sub = sub->get<std::string>();

  auto scope = payload->find("scope");
  if (scope != payload->end()) {
    if (!scope->is_string()) return fail(jwt_errc::malformed, "token scope is not a string");
    claims.scope = scope->get<std::string>();
  }

  auto exp = payload->find("exp");
  if (exp == payload->end()) return fail(jwt_errc::malformed, "token has no exp claim");
  auto exp_value = numeric_date(*exp, rounding::down);
  if (!exp_value) return fail(jwt_errc::malformed, "token exp is not a number");
  claims.exp = *exp_value;

  auto nbf = payload->find("nbf");
  if (nbf != payload->end()) {
    auto nbf_value = numeric_date(*nbf, rounding::up);
    if (!nbf_value) return fail(jwt_errc::malformed, "token nbf is not a number");
    claims.nbf = *nbf_value;
  }

  auto iat = payload->find("iat");
  if (iat != payload->end()) {
    auto iat_value = numeric_date(*iat, rounding::down);
    if (!iat_value) return fail(jwt_errc::malformed, "token iat is not a number");
    claims.iat = *iat_value;
  }

  int64_t leeway = std::clamp<int64_t>(leeway_seconds, 0, jwt_max_leeway_seconds);
  if (claims.exp <= saturating_add(now_seconds, -leeway))
    return fail(jwt_errc::expired, "token has expired");
  if (claims.nbf && *claims.nbf > saturating_add(now_seconds, leeway))
    return fail(jwt_errc::not_yet_valid, "token is not valid yet");
  return claims;
}

bool has_scope(const jwt_claims& claims, std::string_view wanted) {
  if (wanted.empty()) return false;
  std::string_view rest = claims.scope;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    auto item = rest.substr(0, space);
    if (item == wanted) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace webhookd
