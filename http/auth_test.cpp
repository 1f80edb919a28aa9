#include "http/auth.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/crypto.hpp"
#include "core/jwt.hpp"

using namespace webhookd;
using namespace webhookd::http;

namespace {

const int64_t now_s = 1'700'000'000;

std::string mint(const std::string& secret, const std::string& sub, const std::string& scope,
                 int64_t exp, std::optional<int64_t> nbf = std::nullopt) {
  jwt_claims claims;
  claims.sub = sub;
  claims.scope = scope;
  claims.iat = now_s - 10;
  claims.exp = exp;
  claims.nbf = nbf;
  auto token = mint_jwt(secret, claims);
  REQUIRE(token);
  return token.value();
}

httplib::Request with_header(const std::string& value) {
  httplib::Request req;
  req.headers.emplace("Authorization", value);
  return req;
}

void check_401(const api_result<principal>& r, const std::string& reason) {
  REQUIRE_FALSE(r);
  CHECK(r.err().status == 401);
  CHECK(r.err().code == "unauthorized");
  CHECK_THAT(r.err().message, Catch::Contains(reason));
}

}  // namespace

TEST_CASE("a valid bearer token names the client and its admin scope", "[unit]") {
  manual_clock clock(now_s * 1000);
  authenticator auth("s3cret", clock);
  auto who = auth.authenticate(with_header("Bearer " + mint("s3cret", "acme", "", now_s + 60)));
  REQUIRE(who);
  CHECK(who->client_id == "acme");
  CHECK_FALSE(who->admin);

  auto admin = auth.authenticate_admin(
      with_header("bearer  " + mint("s3cret", "ops", "read admin", now_s + 60)));
  REQUIRE(admin);
  CHECK(admin->admin);

  auto not_admin =
      auth.authenticate_admin(with_header("Bearer " + mint("s3cret", "acme", "", now_s + 60)));
  REQUIRE_FALSE(not_admin);
  CHECK(not_admin.err().status == 403);
  CHECK(not_admin.err().code == "forbidden");
}

TEST_CASE("missing, malformed, expired, early, forged and alg:none tokens are refused", "[unit]") {
  manual_clock clock(now_s * 1000);
  authenticator auth("s3cret", clock);
  check_401(auth.authenticate(httplib::Request{}), "missing Authorization");
  check_401(auth.authenticate_header("Basic abc"), "Bearer");
  check_401(auth.authenticate_header("Bearer"), "Bearer");
  check_401(auth.authenticate_header("Bearer    "), "Bearer");
  check_401(auth.authenticate_header("Bearer a.b"), "malformed");
  check_401(auth.authenticate_header("Bearer " + mint("s3cret", "acme", "", now_s)), "expired");
  check_401(
      auth.authenticate_header("Bearer " + mint("s3cret", "acme", "", now_s + 60, now_s + 30)),
      "not valid yet");
  check_401(auth.authenticate_header("Bearer " + mint("other", "acme", "", now_s + 60)),
            "signature");

  // The token expires by the injected clock.
  std::string token = mint("s3cret", "acme", "", now_s + 60);
  REQUIRE(auth.authenticate_header("Bearer " + token));
  clock.advance_ms(60'000);
  check_401(auth.authenticate_header("Bearer " + token), "expired");

  std::string header = base64url_encode(R"({"alg":"none","typ":"JWT"})");
  std::string payload = base64url_encode(
      nlohmann::json{{"sub", "acme"}, {"scope", "admin"}, {"exp", now_s + 600}}.dump());
  check_401(auth.authenticate_header("Bearer " + header + "." + payload + "."), "algorithm");
  check_401(auth.authenticate_admin(with_header("Bearer " + header + "." + payload + ".")),
            "algorithm");
}

TEST_CASE("401 answers carry a Bearer challenge", "[unit]") {
  httplib::Response res;
  write_auth_error(res, api_error{401, "unauthorized", "token expired", std::nullopt});
  CHECK(res.status == 401);
  CHECK(res.get_header_value("WWW-Authenticate") == "Bearer realm=\"webhookd\"");
  auto body = nlohmann::json::parse(res.body);
  CHECK(body["error"]["code"] == "unauthorized");
  CHECK(body["error"]["message"] == "token expired");
}
