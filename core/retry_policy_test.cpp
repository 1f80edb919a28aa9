#include "core/retry_policy.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace webhookd;
using json = nlohmann::json;

namespace {

retry_policy parsed(const std::string& text) {
  auto result = retry_policy::parse(text);
  INFO(text);
  INFO((result ? std::string{} : result.err().message));
  REQUIRE(result.ok());
  return *result;
}

retry_policy_error error_of(const std::string& text) {
  auto result = retry_policy::parse(text);
  INFO(text);
  REQUIRE_FALSE(result.ok());
  return result.err();
}

std::vector<int64_t> base_delays(const retry_policy& policy, int attempts) {
  std::vector<int64_t> delays;
  for (int n = 1; n <= attempts; ++n) delays.push_back(policy.base_delay_ms(n));
  return delays;
}

}  // namespace

TEST_CASE("the default policy is design section 4's schedule", "[unit]") {
  const retry_policy policy = retry_policy::default_policy();
  CHECK(policy.max_attempts() == 8);
  CHECK(policy.jitter() == 0.2);
  CHECK_FALSE(policy.is_exponential());
  CHECK(base_delays(policy, 8) == std::vector<int64_t>{0, 5'000, 300'000, 1'800'000, 7'200'000,
                                                       18'000'000, 36'000'000, 36'000'000});
  CHECK(policy.largest_delay_ms() == 36'000'000);
  CHECK(policy == retry_policy{});
}

TEST_CASE("the design's example document is the default policy", "[unit]") {
  const auto policy =
      parsed(R"({"max_attempts": 8, "schedule": [0, 5, 300, 1800, 7200, 18000, 36000, 36000]})");
  CHECK(policy == retry_policy::default_policy());
  CHECK(retry_policy::default_policy().to_json() ==
        json::parse(R"({"max_attempts": 8, "schedule": [0, 5, 300, 1800, 7200, 18000, 36000,
                        36000], "jitter": 0.2})"));
}

TEST_CASE("exhausted counts attempts made against max_attempts", "[unit]") {
  const auto policy = parsed(R"({"max_attempts": 3})");
  CHECK_FALSE(policy.exhausted(0));
  CHECK_FALSE(policy.exhausted(2));
  CHECK(policy.exhausted(3));
  CHECK(policy.exhausted(4));
  CHECK(parsed(R"({"max_attempts": 1})").exhausted(1));
}

TEST_CASE("jitter stays within +/- 20 % of the default schedule over many draws", "[unit]") {
  const retry_policy policy;
  std::mt19937_64 rng(42);
  for (int attempt = 2; attempt <= 8; ++attempt) {
    const auto base = static_cast<double>(policy.base_delay_ms(attempt));
    int64_t lowest = INT64_MAX;
    int64_t highest = 0;
    double sum = 0;
    const int draws = 20'000;
    for (int i = 0; i < draws; ++i) {
      const int64_t delay = policy.delay_before_attempt(attempt, rng);
      lowest = std::min(lowest, delay);
      highest = std::max(highest, delay);
      sum += static_cast<double>(delay);
    }
    INFO("attempt " << attempt);
    CHECK(lowest >= std::llround(base * 0.8));
    CHECK(highest <= std::llround(base * 1.2));
    // The draws cover the band, not just its middle, and centre on the base delay.
    CHECK(lowest <= std::llround(base * 0.81));
    CHECK(highest >= std::llround(base * 1.19));
    CHECK(sum / draws == Approx(base).epsilon(0.01));
  }
}

TEST_CASE("the first attempt of the default policy is immediate, whatever the draw", "[unit]") {
  const retry_policy policy;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) CHECK(policy.delay_before_attempt(1, rng) == 0);
}

TEST_CASE("full jitter never makes a delay negative", "[unit]") {
  const auto policy = parsed(R"({"max_attempts": 2, "schedule": [0, 10], "jitter": 1})");
  std::mt19937_64 rng(1);
  int64_t lowest = INT64_MAX;
  for (int i = 0; i < 20'000; ++i) {
    const int64_t delay = policy.delay_before_attempt(2, rng);
    CHECK(delay >= 0);
    CHECK(delay <= 20'000);
    lowest = std::min(lowest, delay);
  }
  CHECK(lowest < 100);
}

TEST_CASE("zero jitter gives the configured delays exactly", "[unit]") {
  const auto policy = parsed(R"({"schedule": [1, 2.5, 30], "jitter": 0})");
  std::mt19937_64 rng(3);
  CHECK(policy.delay_before_attempt(1, rng) == 1'000);
  CHECK(policy.delay_before_attempt(2, rng) == 2'500);
  CHECK(policy.delay_before_attempt(3, rng) == 30'000);
}

TEST_CASE("the same seed gives the same delays", "[unit]") {
  const retry_policy policy;
  std::mt19937_64 a(99);
  std::mt19937_64 b(99);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    CHECK(policy.delay_before_attempt(attempt, a) == policy.delay_before_attempt(attempt, b));
  }
}

TEST_CASE("a custom schedule shorter than max_attempts repeats its last entry", "[unit]") {
  const auto policy = parsed(R"({"max_attempts": 6, "schedule": [0, 0.5, 60]})");
  CHECK(policy.max_attempts() == 6);
  CHECK(base_delays(policy, 6) == std::vector<int64_t>{0, 500, 60'000, 60'000, 60'000, 60'000});
  CHECK(policy.largest_delay_ms() == 60'000);
  CHECK_FALSE(policy.exhausted(5));
  CHECK(policy.exhausted(6));
}

TEST_CASE("a schedule without max_attempts gets one attempt per entry", "[unit]") {
  const auto policy = parsed(R"({"schedule": [2, 4, 8]})");
  CHECK(policy.max_attempts() == 3);
  CHECK(base_delays(policy, 3) == std::vector<int64_t>{2'000, 4'000, 8'000});
}

TEST_CASE("entries beyond max_attempts are never used", "[unit]") {
  const auto policy = parsed(R"({"max_attempts": 2, "schedule": [0, 1, 604800]})");
  CHECK(policy.largest_delay_ms() == 1'000);
  CHECK(policy.base_delay_ms(3) == 1'000);  // beyond max_attempts: the last attempt's delay
}

TEST_CASE("an exponential policy doubles up to its max", "[unit]") {
  const auto policy =
      parsed(R"({"max_attempts": 7, "initial": 1, "multiplier": 2, "max": 10, "jitter": 0})");
  CHECK(policy.is_exponential());
  CHECK(base_delays(policy, 7) ==
        std::vector<int64_t>{0, 1'000, 2'000, 4'000, 8'000, 10'000, 10'000});
  CHECK(policy.largest_delay_ms() == 10'000);
}

TEST_CASE("an exponential policy without max_attempts has 8 attempts", "[unit]") {
  const auto policy = parsed(R"({"initial": 0.25, "multiplier": 1.5, "max": 3600})");
  CHECK(policy.max_attempts() == 8);
  CHECK(policy.jitter() == 0.2);
  CHECK(base_delays(policy, 4) == std::vector<int64_t>{0, 250, 375, 563});
}

TEST_CASE("a steep exponential policy saturates at max without overflow", "[unit]") {
  const auto policy =
      parsed(R"({"max_attempts": 50, "initial": 1, "multiplier": 1e9, "max": 604800})");
  CHECK(policy.base_delay_ms(3) == 604'800'000);
  CHECK(policy.base_delay_ms(50) == 604'800'000);
  CHECK(policy.largest_delay_ms() == 604'800'000);
}

TEST_CASE("multiplier 1 gives a constant delay", "[unit]") {
  const auto policy = parsed(R"({"max_attempts": 4, "initial": 30, "multiplier": 1, "max": 30})");
  CHECK(base_delays(policy, 4) == std::vector<int64_t>{0, 30'000, 30'000, 30'000});
}

TEST_CASE("max_attempts alone keeps the default schedule", "[unit]") {
  const auto policy = parsed(R"({"max_attempts": 12, "jitter": 0.1})");
  CHECK(policy.max_attempts() == 12);
  CHECK(policy.jitter() == 0.1);
  CHECK(policy.base_delay_ms(2) == 5'000);
  CHECK(policy.base_delay_ms(12) == 36'000'000);
  CHECK(parsed("{}") == retry_policy::default_policy());
}

TEST_CASE("to_json reads back to an equal policy", "[unit]") {
  const std::vector<std::string> documents = {
      R"({"max_attempts": 8, "schedule": [0, 5, 300, 1800, 7200, 18000, 36000, 36000]})",
      R"({"max_attempts": 5, "schedule": [0.5, 1.25, 2.001], "jitter": 0})",
      R"({"max_attempts": 9, "initial": 1.5, "multiplier": 2.5, "max": 7200, "jitter": 0.35})",
      R"({"max_attempts": 2, "schedule": [0, 1, 2, 3]})",
      R"({"max_attempts": 50})",
  };
  for (const auto& text : documents) {
    const auto policy = parsed(text);
    const json document = policy.to_json();
    INFO(document.dump());
    const auto again = retry_policy::from_json(document);
    REQUIRE(again.ok());
    CHECK(*again == policy);
    CHECK(again->to_json() == document);
  }
}

TEST_CASE("to_json writes whole seconds as integers and fractions as numbers", "[unit]") {
  const auto document = parsed(R"({"schedule": [3, 0.5]})").to_json();
  CHECK(document["schedule"][0].is_number_integer());
  CHECK(document["schedule"][1] == 0.5);
}

TEST_CASE("the factories validate like the document reader", "[unit]") {
  auto ok = retry_policy::with_schedule(3, {0, 1, 2}, 0.0);
  REQUIRE(ok.ok());
  CHECK(ok->base_delay_ms(3) == 2'000);
  auto bad = retry_policy::with_schedule(3, {0, -1});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().field == "schedule[1]");
  auto exp = retry_policy::exponential(4, 2, 3, 100);
  REQUIRE(exp.ok());
  CHECK(exp->base_delay_ms(4) == 18'000);
  auto bad_exp = retry_policy::exponential(4, 2, 0.9, 100);
  REQUIRE_FALSE(bad_exp.ok());
  CHECK(bad_exp.err().field == "multiplier");
}

TEST_CASE("invalid documents are refused naming the field", "[unit]") {
  struct row {
    const char* text;
    const char* field;
  };
  const row rows[] = {
      {R"({"max_attempts": 8)", ""},
      {R"([0, 5])", ""},
      {R"("fast")", ""},
      {R"({"max_attempt": 8})", "max_attempt"},
      {R"({"max_attempts": 0})", "max_attempts"},
      {R"({"max_attempts": 51})", "max_attempts"},
      {R"({"max_attempts": -3})", "max_attempts"},
      {R"({"max_attempts": 2.5})", "max_attempts"},
      {R"({"max_attempts": "8"})", "max_attempts"},
      {R"({"max_attempts": true})", "max_attempts"},
      {R"({"max_attempts": 18446744073709551615})", "max_attempts"},
      {R"({"schedule": 5})", "schedule"},
      {R"({"schedule": []})", "schedule"},
      {R"({"schedule": [0, -1]})", "schedule[1]"},
      {R"({"schedule": [0, 604801]})", "schedule[1]"},
      {R"({"schedule": [0, "5"]})", "schedule[1]"},
      {R"({"schedule": [null]})", "schedule[0]"},
      {R"({"schedule": [0], "initial": 1, "multiplier": 2, "max": 5})", "schedule"},
      {R"({"initial": 1, "multiplier": 2})", "max"},
      {R"({"multiplier": 2, "max": 5})", "initial"},
      {R"({"initial": -1, "multiplier": 2, "max": 5})", "initial"},
      {R"({"initial": 1, "multiplier": 0.5, "max": 5})", "multiplier"},
      {R"({"initial": 10, "multiplier": 2, "max": 5})", "max"},
      {R"({"initial": 1, "multiplier": 2, "max": 604801})", "max"},
      {R"({"initial": "1", "multiplier": 2, "max": 5})", "initial"},
      {R"({"jitter": -0.1})", "jitter"},
      {R"({"jitter": 1.5})", "jitter"},
      {R"({"jitter": "0.2"})", "jitter"},
  };
  for (const auto& r : rows) {
    const auto err = error_of(r.text);
    INFO(r.text << " -> " << err.message);
    CHECK(err.field == r.field);
    CHECK(err.message.rfind(r.field, 0) == 0);  // the message starts with the field
    CHECK(err.message.size() > err.field.size() + 2);
  }
}

TEST_CASE("a schedule of 51 entries is refused, 50 are accepted", "[unit]") {
  json document;
  document["schedule"] = std::vector<int>(50, 1);
  CHECK(retry_policy::from_json(document).ok());
  document["schedule"] = std::vector<int>(51, 1);
  const auto result = retry_policy::from_json(document);
  REQUIRE_FALSE(result.ok());
  CHECK(result.err().field == "schedule");
}

TEST_CASE("a non-finite number is refused", "[unit]") {
  json document;
  document["schedule"] = {0.0, std::numeric_limits<double>::infinity()};
  const auto result = retry_policy::from_json(document);
  REQUIRE_FALSE(result.ok());
  CHECK(result.err().field == "schedule[1]");
}
