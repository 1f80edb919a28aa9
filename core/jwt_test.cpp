#include "core/jwt.hpp"

#include <catch2/catch.hpp>

#include "core/crypto.hpp"

using namespace webhookd;

namespace {

constexpr std::string_view secret = "test-jwt-secret-0123456789abcdef";
constexpr int64_t now = 1'700'000'000;

jwt_claims admin_claims() {
  jwt_claims claims;
  claims.sub = "client_42";
  claims.scope = "admin";
  claims.iat = now - 10;
  claims.exp = now + 3600;
  return claims;
}

std::string mint(const jwt_claims& claims, std::string_view key = secret) {
  auto token = mint_jwt(key, claims);
  REQUIRE(token.ok());
  return *token;
}

/// A token assembled by hand from raw JSON, so tests can say what a hostile client would send.
std::string craft(std::string_view header_json, std::string_view payload_json,
                  std::string_view key = secret) {
  std::string token = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  auto mac = hmac_sha256(key, token);
  REQUIRE(mac.ok());
  return token + "." + base64url_encode(*mac);
}

std::string valid_payload() {
  return R"({"sub":"client_42","exp":)" + std::to_string(now + 60) + "}";
}

jwt_errc refusal(std::string_view token, int64_t at = now, int64_t leeway = 0) {
  auto claims = verify_jwt(secret, token, at, leeway);
  REQUIRE_FALSE(claims.ok());
  CHECK_FALSE(claims.err().message.empty());
  return claims.err().code;
}

/// The three parts of a token.
std::vector<std::string> parts_of(const std::string& token) {
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  return {token.substr(0, first), token.substr(first + 1, second - first - 1),
          token.substr(second + 1)};
}

}  // namespace

TEST_CASE("a minted token verifies and returns its claims", "[unit]") {
  auto claims = admin_claims();
  claims.nbf = now - 5;
  auto verified = verify_jwt(secret, mint(claims), now);
  REQUIRE(verified.ok());
  CHECK(verified->sub == "client_42");
  CHECK(verified->scope == "admin");
  CHECK(verified->iat == now - 10);
  CHECK(verified->exp == now + 3600);
  CHECK(verified->nbf == std::optional<int64_t>(now - 5));
  CHECK(has_scope(*verified, "admin"));
}

TEST_CASE("a minted token has an HS256 JWT header and omits empty optional claims", "[unit]") {
  jwt_claims claims;
  claims.sub = "client_1";
  claims.iat = now;
  claims.exp = now + 60;
  auto parts = parts_of(mint(claims));
  CHECK(base64url_decode(parts[0]) == std::optional<std::string>(R"({"alg":"HS256","typ":"JWT"})"));
  auto payload = base64url_decode(parts[1]);
  REQUIRE(payload.has_value());
  CHECK(payload->find("scope") == std::string::npos);
  CHECK(payload->find("nbf") == std::string::npos);
  auto verified = verify_jwt(secret, mint(claims), now);
  REQUIRE(verified.ok());
  CHECK(verified->scope.empty());
  CHECK_FALSE(has_scope(*verified, "admin"));
}

// RFC 7515 appendix A.1: an HS256 JWS made by someone else. Its signature must verify with the
// RFC's key; the token carries no "sub", so it is then refused for that reason alone.
TEST_CASE("verify_jwt checks the RFC 7515 A.1 HS256 example signature", "[unit]") {
  auto key = base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  REQUIRE(key.has_value());
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
      "cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  auto with_rfc_key = verify_jwt(*key, token, 1300819379);
  REQUIRE_FALSE(with_rfc_key.ok());
  CHECK(with_rfc_key.err().code == jwt_errc::missing_subject);
  auto with_other_key = verify_jwt(secret, token, 1300819379);
  REQUIRE_FALSE(with_other_key.ok());
  CHECK(with_other_key.err().code == jwt_errc::bad_signature);
}

TEST_CASE("expired tokens are refused, exp itself included", "[unit]") {
  auto claims = admin_claims();
  claims.exp = now;
  CHECK(refusal(mint(claims)) == jwt_errc::expired);
  CHECK(verify_jwt(secret, mint(claims), now - 1).ok());
  claims.exp = now - 3600;
  CHECK(refusal(mint(claims)) == jwt_errc::expired);
}

TEST_CASE("tokens before their nbf are refused", "[unit]") {
  auto claims = admin_claims();
  claims.nbf = now + 1;
  CHECK(refusal(mint(claims)) == jwt_errc::not_yet_valid);
  CHECK(verify_jwt(secret, mint(claims), now + 1).ok());
}

TEST_CASE("leeway absorbs small clock skew and is capped", "[unit]") {
  auto claims = admin_claims();
  claims.exp = now - 10;
  CHECK(verify_jwt(secret, mint(claims), now, 11).ok());
  CHECK(refusal(mint(claims), now, 10) == jwt_errc::expired);
  claims.exp = now + 3600;
  claims.nbf = now + 20;
  CHECK(verify_jwt(secret, mint(claims), now, 20).ok());
  CHECK(refusal(mint(claims), now, 19) == jwt_errc::not_yet_valid);
  // A huge leeway is clamped to jwt_max_leeway_seconds, a negative one to 0.
  claims.nbf.reset();
  claims.exp = now - jwt_max_leeway_seconds - 1;
  CHECK(refusal(mint(claims), now, 1'000'000) == jwt_errc::expired);
  claims.exp = now;
  CHECK(refusal(mint(claims), now, -100) == jwt_errc::expired);
}

TEST_CASE("a tampered payload is refused", "[unit]") {
  auto parts = parts_of(mint(admin_claims()));
  auto other_client = admin_claims();
  other_client.sub = "client_43";
  auto forged_payload = parts_of(mint(other_client, "attacker-key"))[1];
  CHECK(refusal(parts[0] + "." + forged_payload + "." + parts[2]) == jwt_errc::bad_signature);
  // Flip one character of the payload.
  auto flipped = parts[1];
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  CHECK(refusal(parts[0] + "." + flipped + "." + parts[2]) == jwt_errc::bad_signature);
}

TEST_CASE("a tampered signature is refused", "[unit]") {
  auto parts = parts_of(mint(admin_claims()));
  for (std::size_t i : {std::size_t{0}, std::size_t{20}, parts[2].size() - 1}) {
    auto signature = parts[2];
    signature[i] = signature[i] == 'A' ? 'B' : 'A';
    CHECK(refusal(parts[0] + "." + parts[1] + "." + signature) == jwt_errc::bad_signature);
  }
  CHECK(refusal(parts[0] + "." + parts[1] + "." + parts[2].substr(0, 40)) ==
        jwt_errc::bad_signature);
  CHECK(refusal(parts[0] + "." + parts[1] + "." + parts[2] + "AA") == jwt_errc::bad_signature);
}

TEST_CASE("a missing signature is refused", "[unit]") {
  auto parts = parts_of(mint(admin_claims()));
  CHECK(refusal(parts[0] + "." + parts[1] + ".") == jwt_errc::bad_signature);
}

TEST_CASE("alg none is refused with and without a signature", "[unit]") {
  for (std::string alg : {"none", "None", "NONE", "nOnE"}) {
    auto header = R"({"alg":")" + alg + R"(","typ":"JWT"})";
    auto unsigned_token = base64url_encode(header) + "." + base64url_encode(valid_payload()) + ".";
    CHECK(refusal(unsigned_token) == jwt_errc::bad_algorithm);
    CHECK(refusal(craft(header, valid_payload())) == jwt_errc::bad_algorithm);
  }
}

TEST_CASE("algorithms other than HS256 are refused even with a valid HMAC", "[unit]") {
  for (std::string alg : {"HS512", "HS384", "RS256", "ES256", "hs256", "HS256 ", ""}) {
    CHECK(refusal(craft(R"({"alg":")" + alg + R"("})", valid_payload())) ==
          jwt_errc::bad_algorithm);
  }
  CHECK(refusal(craft(R"({"typ":"JWT"})", valid_payload())) == jwt_errc::bad_algorithm);
  CHECK(refusal(craft(R"({"alg":null})", valid_payload())) == jwt_errc::bad_algorithm);
  CHECK(refusal(craft(R"({"alg":["HS256"]})", valid_payload())) == jwt_errc::bad_algorithm);
  CHECK(refusal(craft(R"({"alg":"HS256","crit":["exp"]})", valid_payload())) ==
        jwt_errc::malformed);
  CHECK(verify_jwt(secret, craft(R"({"alg":"HS256"})", valid_payload()), now).ok());
}

TEST_CASE("a token signed with another secret is refused", "[unit]") {
  CHECK(refusal(mint(admin_claims(), "some-other-secret")) == jwt_errc::bad_signature);
}

TEST_CASE("a token without a usable subject is refused", "[unit]") {
  auto exp = std::to_string(now + 60);
  CHECK(refusal(craft(R"({"alg":"HS256"})", R"({"exp":)" + exp + "}")) ==
        jwt_errc::missing_subject);
  CHECK(refusal(craft(R"({"alg":"HS256"})", R"({"sub":"","exp":)" + exp + "}")) ==
        jwt_errc::missing_subject);
  CHECK(refusal(craft(R"({"alg":"HS256"})", R"({"sub":42,"exp":)" + exp + "}")) ==
        jwt_errc::missing_subject);
  CHECK(refusal(craft(R"({"alg":"HS256"})", R"({"sub":null,"exp":)" + exp + "}")) ==
        jwt_errc::missing_subject);
}

TEST_CASE("claims of the wrong type are malformed", "[unit]") {
  auto header = R"({"alg":"HS256"})";
  CHECK(refusal(craft(header, R"({"sub":"c"})")) == jwt_errc::malformed);  // no exp
  CHECK(refusal(craft(header, R"({"sub":"c","exp":"1800000000"})")) == jwt_errc::malformed);
  CHECK(refusal(craft(header, R"({"sub":"c","exp":null})")) == jwt_errc::malformed);
  CHECK(refusal(craft(header, R"({"sub":"c","exp":18446744073709551615})")) == jwt_errc::malformed);
  CHECK(refusal(craft(header, R"({"sub":"c","exp":1800000000,"nbf":"0"})")) == jwt_errc::malformed);
  CHECK(refusal(craft(header, R"({"sub":"c","exp":1800000000,"iat":true})")) ==
        jwt_errc::malformed);
  CHECK(refusal(craft(header, R"({"sub":"c","exp":1800000000,"scope":["admin"]})")) ==
        jwt_errc::malformed);
}

TEST_CASE("fractional times are rounded toward the stricter side", "[unit]") {
  auto header = R"({"alg":"HS256"})";
  auto exp_fraction = R"({"sub":"c","exp":)" + std::to_string(now) + ".5}";
  CHECK(refusal(craft(header, exp_fraction)) == jwt_errc::expired);
  auto verified = verify_jwt(secret, craft(header, exp_fraction), now - 1);
  REQUIRE(verified.ok());
  CHECK(verified->exp == now);
  auto nbf_fraction = R"({"sub":"c","exp":1800000000,"nbf":)" + std::to_string(now - 1) + ".5}";
  CHECK(refusal(craft(header, nbf_fraction), now - 1) == jwt_errc::not_yet_valid);
  CHECK(verify_jwt(secret, craft(header, nbf_fraction), now).ok());
}

TEST_CASE("garbage tokens are malformed", "[unit]") {
  auto parts = parts_of(mint(admin_claims()));
  for (std::string token :
       {std::string{}, std::string{"garbage"}, std::string{"a.b"}, std::string{"a.b.c.d"},
        std::string{".."}, std::string{"..."}, parts[0] + "." + parts[1],
        parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2]}) {
    CHECK(refusal(token) == jwt_errc::malformed);
  }
  // Header not base64url, not JSON, not an object.
  CHECK(refusal("eyJ*bGciOiJIUzI1NiJ9." + parts[1] + "." + parts[2]) == jwt_errc::malformed);
  CHECK(refusal(base64url_encode("not json") + "." + parts[1] + "." + parts[2]) ==
        jwt_errc::malformed);
  CHECK(refusal(base64url_encode(R"(["HS256"])") + "." + parts[1] + "." + parts[2]) ==
        jwt_errc::malformed);
  // Padded base64 is not base64url.
  CHECK(refusal(parts[0] + "=." + parts[1] + "." + parts[2]) == jwt_errc::malformed);
  // A correctly signed payload that is not a JSON object.
  CHECK(refusal(craft(R"({"alg":"HS256"})", "not json")) == jwt_errc::malformed);
  CHECK(refusal(craft(R"({"alg":"HS256"})", "[1,2]")) == jwt_errc::malformed);
  CHECK(refusal(std::string(jwt_max_token_size + 1, 'a')) == jwt_errc::malformed);
}

TEST_CASE("an empty secret is refused for minting and verifying", "[unit]") {
  auto minted = mint_jwt("", admin_claims());
  REQUIRE_FALSE(minted.ok());
  CHECK(minted.err().code == jwt_errc::invalid_key);
  auto verified = verify_jwt("", mint(admin_claims()), now);
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.err().code == jwt_errc::invalid_key);
}

TEST_CASE("mint_jwt refuses claims it cannot represent", "[unit]") {
  auto claims = admin_claims();
  claims.sub.clear();
  auto no_subject = mint_jwt(secret, claims);
  REQUIRE_FALSE(no_subject.ok());
  CHECK(no_subject.err().code == jwt_errc::missing_subject);
  claims.sub = "bad\xff utf8";
  auto bad_utf8 = mint_jwt(secret, claims);
  REQUIRE_FALSE(bad_utf8.ok());
  CHECK(bad_utf8.err().code == jwt_errc::malformed);
}

TEST_CASE("has_scope matches whole space-separated scopes", "[unit]") {
  jwt_claims claims;
  claims.scope = "read admin write";
  CHECK(has_scope(claims, "admin"));
  CHECK(has_scope(claims, "read"));
  CHECK(has_scope(claims, "write"));
  CHECK_FALSE(has_scope(claims, "adm"));
  CHECK_FALSE(has_scope(claims, "admin write"));
  CHECK_FALSE(has_scope(claims, ""));
  claims.scope = "administrator";
  CHECK_FALSE(has_scope(claims, "admin"));
  claims.scope = "";
  CHECK_FALSE(has_scope(claims, "admin"));
}

TEST_CASE("jwt error codes have stable names", "[unit]") {
  CHECK(std::string(to_string(jwt_errc::malformed)) == "malformed");
  CHECK(std::string(to_string(jwt_errc::bad_algorithm)) == "bad_algorithm");
  CHECK(std::string(to_string(jwt_errc::bad_signature)) == "bad_signature");
  CHECK(std::string(to_string(jwt_errc::expired)) == "expired");
  CHECK(std::string(to_string(jwt_errc::not_yet_valid)) == "not_yet_valid");
  CHECK(std::string(to_string(jwt_errc::missing_subject)) == "missing_subject");
}
