#include "app/token.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "core/jwt.hpp"

namespace {

using namespace webhookd;
using namespace webhookd::app;

std::variant<config, early_exit> parse(std::vector<std::string> args) {
  return parse_config(config_inputs{std::move(args), nullptr, "test-host"});
}

config parse_ok(std::vector<std::string> args) {
  auto result = parse(std::move(args));
  if (auto* exit = std::get_if<early_exit>(&result)) FAIL("unexpected exit: " << exit->text);
  return std::get<config>(result);
}

std::string parse_error(std::vector<std::string> args) {
  auto result = parse(std::move(args));
  REQUIRE(std::holds_alternative<early_exit>(result));
  CHECK(std::get<early_exit>(result).code == exit_usage);
  return std::get<early_exit>(result).text;
}

}  // namespace

TEST_CASE("token parses --client, --admin and --ttl", "[unit][config]") {
  config cfg = parse_ok({"token", "--jwt-secret", "k", "--client", "acme"});
  CHECK(cfg.cmd == command::token);
  CHECK(cfg.token.client_id == "acme");
  CHECK_FALSE(cfg.token.admin);
  CHECK(cfg.token.ttl_seconds == 86400);
  CHECK(cfg.auth.jwt_secret == "k");

  config admin =
      parse_ok({"token", "--jwt-secret", "k", "--client", "ops", "--admin", "--ttl", "60"});
  CHECK(admin.token.admin);
  CHECK(admin.token.ttl_seconds == 60);
}

TEST_CASE("token refuses a missing client, a bad ttl and a missing secret", "[unit][config]") {
  CHECK_THAT(parse_error({"token", "--jwt-secret", "k"}), Catch::Contains("--client"));
  CHECK_THAT(parse_error({"token", "--jwt-secret", "k", "--client", "a", "--ttl", "0"}),
             Catch::Contains("invalid --ttl '0'"));
  CHECK_THAT(parse_error({"token", "--jwt-secret", "k", "--client", "a", "--ttl", "1h"}),
             Catch::Contains("invalid --ttl"));
  CHECK_THAT(parse_error({"token", "--jwt-secret", "k", "--client", "a b"}),
             Catch::Contains("invalid --client"));
  CHECK_THAT(parse_error({"token", "--client", "a"}), Catch::Contains("missing JWT secret"));
}

TEST_CASE("run_token prints a token the server's secret verifies", "[unit]") {
  config cfg =
      parse_ok({"token", "--jwt-secret", "s3cret", "--client", "acme", "--admin", "--ttl", "120"});
  manual_clock clock(1'700'000'000'000);
  std::ostringstream out;
  std::ostringstream err;
  REQUIRE(run_token(cfg, clock, out, err) == exit_ok);
  CHECK(err.str().empty());
  std::string token = out.str();
  REQUIRE(!token.empty());
  CHECK(token.back() == '\n');
  token.pop_back();

  auto claims = verify_jwt("s3cret", token, 1'700'000'000);
  REQUIRE(claims);
  CHECK(claims->sub == "acme");
  CHECK(has_scope(*claims, "admin"));
  CHECK(claims->exp == 1'700'000'120);
  // It expires after the ttl, and another secret does not verify it.
  CHECK_FALSE(verify_jwt("s3cret", token, 1'700'000'120));
  CHECK_FALSE(verify_jwt("other", token, 1'700'000'000));

  config plain = parse_ok({"token", "--jwt-secret", "s3cret", "--client", "acme"});
  std::ostringstream out2;
  REQUIRE(run_token(plain, clock, out2, err) == exit_ok);
  std::string token2 = out2.str();
  token2.pop_back();
  auto claims2 = verify_jwt("s3cret", token2, 1'700'000'000);
  REQUIRE(claims2);
  CHECK_FALSE(has_scope(*claims2, "admin"));
}
