#include "core/delivery_outcome.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "core/clock.hpp"

using namespace webhookd;

namespace {

constexpr int64_t now = 1'700'000'000'000;  // whole seconds, so HTTP-dates land exactly
constexpr int64_t second = 1'000;
constexpr int64_t hour = 3'600 * second;

/// The default schedule without jitter, so delays are exact.
retry_policy exact_default() {
  auto policy = retry_policy::from_json({{"jitter", 0}});
  REQUIRE(policy.ok());
  return *policy;
}

retry_policy exact_schedule(std::vector<double> seconds, int max_attempts) {
  auto policy = retry_policy::with_schedule(max_attempts, std::move(seconds), 0.0);
  REQUIRE(policy.ok());
  return *policy;
}

attempt_result http(int status, std::string retry_after = {}) {
  attempt_result r;
  r.status_code = status;
  r.retry_after = std::move(retry_after);
  return r;
}

attempt_result transport(transport_error error, std::string detail = {}) {
  attempt_result r;
  r.error = error;
  r.error_detail = std::move(detail);
  return r;
}

delivery_decision classify(const attempt_result& r, int attempt_no = 1,
                           const retry_policy& policy = exact_default()) {
  std::mt19937_64 rng(5);
  return classify_attempt(r, attempt_no, policy, now, rng);
}

/// Delay of a retry decision, in ms.
int64_t retry_delay(const delivery_decision& d) {
  REQUIRE(d.verdict == delivery_verdict::retry);
  return d.retry_at_ms - now;
}

}  // namespace

// --- design section 4, outcome table, row by row ---

TEST_CASE("2xx is a success", "[unit]") {
  for (int status : {200, 201, 202, 204, 299}) {
    INFO(status);
    const auto d = classify(http(status));
    CHECK(d.verdict == delivery_verdict::success);
    CHECK(d.error.empty());
    CHECK(d.dlq_reason.empty());
    CHECK_FALSE(d.endpoint_failure);
  }
}

TEST_CASE("3xx is a failure, never followed, retried", "[unit]") {
  for (int status : {301, 302, 303, 307, 308}) {
    INFO(status);
    const auto d = classify(http(status), 1);
    CHECK(retry_delay(d) == 5 * second);
    CHECK(d.error == "HTTP " + std::to_string(status) + " (redirects are not followed)");
    CHECK(d.endpoint_failure);
  }
}

TEST_CASE("410 Gone disables the webhook and parks the delivery", "[unit]") {
  const auto d = classify(http(410), 1);
  CHECK(d.verdict == delivery_verdict::disable_webhook_and_dlq);
  CHECK(d.error == "HTTP 410 Gone");
  CHECK(d.dlq_reason == "HTTP 410 Gone: webhook disabled");
  CHECK_FALSE(d.endpoint_failure);
  // Also on the last attempt: the webhook is still disabled, not merely exhausted.
  CHECK(classify(http(410), 8).verdict == delivery_verdict::disable_webhook_and_dlq);
}

TEST_CASE("429 and 503 with Retry-After are retried no sooner than Retry-After", "[unit]") {
  for (int status : {429, 503}) {
    INFO(status);
    const auto d = classify(http(status, "120"), 1);
    CHECK(retry_delay(d) == 120 * second);
    CHECK(d.error == "HTTP " + std::to_string(status));
    CHECK(d.endpoint_failure);
  }
}

TEST_CASE("other 4xx go straight to the DLQ as client errors", "[unit]") {
  for (int status : {400, 401, 403, 404, 405, 408, 413, 422, 451, 499}) {
    INFO(status);
    const auto d = classify(http(status), 1);
    CHECK(d.verdict == delivery_verdict::dlq);
    CHECK(d.dlq_reason == "client error HTTP " + std::to_string(status));
    CHECK(d.error == "HTTP " + std::to_string(status));
    CHECK_FALSE(d.endpoint_failure);
  }
}

TEST_CASE("5xx is retried with backoff", "[unit]") {
  for (int status : {500, 501, 502, 503, 504, 599}) {
    INFO(status);
    const auto d = classify(http(status), 2);
    CHECK(retry_delay(d) == 300 * second);
    CHECK(d.error == "HTTP " + std::to_string(status));
    CHECK(d.endpoint_failure);
  }
}

TEST_CASE("timeouts, refused and reset connections, TLS and DNS errors are retried", "[unit]") {
  struct row {
    transport_error error;
    const char* text;
  };
  const row rows[] = {
      {transport_error::timeout, "timeout"},
      {transport_error::connect_refused, "connection refused"},
      {transport_error::connection_reset, "connection reset"},
      {transport_error::tls, "TLS error"},
      {transport_error::dns, "DNS resolution failed"},
      {transport_error::other, "transport error"},
  };
  for (const auto& r : rows) {
    INFO(to_string(r.error));
    const auto d = classify(transport(r.error), 3);
    CHECK(retry_delay(d) == 1'800 * second);
    CHECK(d.error == r.text);
    CHECK(d.endpoint_failure);
  }
}

TEST_CASE("a delivery blocked by the SSRF policy at delivery time is retried", "[unit]") {
  const auto d = classify(transport(transport_error::blocked_by_policy, "10.0.0.7 is private"));
  CHECK(retry_delay(d) == 5 * second);
  CHECK(d.error == "blocked by SSRF policy: 10.0.0.7 is private");
  CHECK(d.endpoint_failure);
}

TEST_CASE("the transport's message is kept in the error", "[unit]") {
  const auto d =
      classify(transport(transport_error::timeout, "Operation timed out after 10001 ms"));
  CHECK(d.error == "timeout: Operation timed out after 10001 ms");
}

TEST_CASE("a transport error after the status line wins over the status", "[unit]") {
  attempt_result r = http(200);
  r.error = transport_error::connection_reset;
  const auto d = classify(r);
  CHECK(d.verdict == delivery_verdict::retry);
  CHECK(d.error == "connection reset");
  attempt_result gone = http(410);
  gone.error = transport_error::timeout;
  CHECK(classify(gone).verdict == delivery_verdict::retry);
}

TEST_CASE("unexpected statuses are failures retried", "[unit]") {
  for (int status : {100, 101, 199, 600, 999}) {
    INFO(status);
    const auto d = classify(http(status));
    CHECK(d.verdict == delivery_verdict::retry);
    CHECK(d.error == "HTTP " + std::to_string(status) + " (unexpected status)");
  }
  CHECK(classify(attempt_result{}).error == "no response");
}

// --- schedule and exhaustion ---

TEST_CASE("attempt n's failure schedules attempt n+1 by the default schedule", "[unit]") {
  const int64_t expected[] = {5, 300, 1'800, 7'200, 18'000, 36'000, 36'000};
  for (int n = 1; n <= 7; ++n) {
    INFO("attempt " << n);
    CHECK(retry_delay(classify(http(500), n)) == expected[n - 1] * second);
  }
}

TEST_CASE("the last attempt's failure parks the delivery as exhausted", "[unit]") {
  const auto d = classify(http(503), 8);
  CHECK(d.verdict == delivery_verdict::dlq);
  CHECK(d.dlq_reason == "exhausted after 8 attempts: HTTP 503");
  CHECK(d.endpoint_failure);
  const auto policy = exact_schedule({0, 1}, 3);
  CHECK(classify(http(500), 2, policy).verdict == delivery_verdict::retry);
  const auto t = classify(transport(transport_error::timeout, "after 10000 ms"), 3, policy);
  CHECK(t.verdict == delivery_verdict::dlq);
  CHECK(t.dlq_reason == "exhausted after 3 attempts: timeout: after 10000 ms");
  const auto redirect = classify(http(302), 3, policy);
  CHECK(redirect.dlq_reason == "exhausted after 3 attempts: HTTP 302 (redirects are not followed)");
}

TEST_CASE("Retry-After on the last attempt does not extend the policy", "[unit]") {
  const auto d = classify(http(429, "10"), 8);
  CHECK(d.verdict == delivery_verdict::dlq);
  CHECK(d.dlq_reason == "exhausted after 8 attempts: HTTP 429");
}

TEST_CASE("a custom exponential policy drives the retry times", "[unit]") {
  auto policy = retry_policy::exponential(5, 2, 3, 60, 0.0);
  REQUIRE(policy.ok());
  CHECK(retry_delay(classify(http(500), 1, *policy)) == 2 * second);
  CHECK(retry_delay(classify(http(500), 2, *policy)) == 6 * second);
  CHECK(retry_delay(classify(http(500), 3, *policy)) == 18 * second);
  CHECK(retry_delay(classify(http(500), 4, *policy)) == 54 * second);
  CHECK(classify(http(500), 5, *policy).verdict == delivery_verdict::dlq);
}

TEST_CASE("retry times carry the policy's jitter", "[unit]") {
  const retry_policy policy;  // jitter 0.2
  std::mt19937_64 rng(17);
  int64_t lowest = INT64_MAX;
  int64_t highest = 0;
  for (int i = 0; i < 5'000; ++i) {
    const auto d = classify_attempt(http(502), 2, policy, now, rng);
    REQUIRE(d.verdict == delivery_verdict::retry);
    lowest = std::min(lowest, d.retry_at_ms - now);
    highest = std::max(highest, d.retry_at_ms - now);
  }
  CHECK(lowest >= 240 * second);
  CHECK(highest <= 360 * second);
  CHECK(lowest < 245 * second);
  CHECK(highest > 355 * second);
}

// --- Retry-After ---

TEST_CASE("Retry-After never brings a retry before the schedule's delay", "[unit]") {
  CHECK(retry_delay(classify(http(503, "2"), 1)) == 5 * second);
  CHECK(retry_delay(classify(http(429, "0"), 2)) == 300 * second);
}

TEST_CASE("Retry-After is clamped to max(1 h, the policy's largest delay)", "[unit]") {
  // Default policy: largest delay 10 h.
  CHECK(retry_after_cap_ms(exact_default()) == 10 * hour);
  CHECK(retry_delay(classify(http(503, "86400"), 1)) == 10 * hour);
  CHECK(retry_delay(classify(http(503, "18000"), 1)) == 5 * hour);
  // Short policy: the cap is 1 h.
  const auto fast = exact_schedule({0, 1, 2}, 5);
  CHECK(retry_after_cap_ms(fast) == hour);
  CHECK(retry_delay(classify(http(429, "7200"), 1, fast)) == hour);
  CHECK(retry_delay(classify(http(429, "600"), 1, fast)) == 600 * second);
  // A policy whose largest delay is 3 h honours up to 3 h.
  const auto slow = exact_schedule({0, 10800}, 3);
  CHECK(retry_delay(classify(http(429, "99999999999999999999999"), 1, slow)) == 3 * hour);
}

TEST_CASE("Retry-After as an HTTP-date", "[unit]") {
  // now + 90 s and now - 1 h as IMF-fixdates.
  const auto in_90s = "Tue, 14 Nov 2023 22:14:50 GMT";
  REQUIRE(parse_http_date(in_90s) == now + 90 * second);
  CHECK(retry_delay(classify(http(503, in_90s), 1)) == 90 * second);
  CHECK(retry_delay(classify(http(503, "Tue, 14 Nov 2023 21:13:20 GMT"), 1)) == 5 * second);
}

TEST_CASE("a garbage Retry-After is ignored", "[unit]") {
  for (const char* value : {"", "soon", "-5", "1.5", "12s", "+30", "0x10", "Tue, 14 Nov 2023",
                            "Tue, 31 Nov 2023 22:14:50 GMT"}) {
    INFO("'" << value << "'");
    CHECK(retry_delay(classify(http(503, value), 1)) == 5 * second);
  }
}

TEST_CASE("Retry-After only matters on 429 and 503", "[unit]") {
  CHECK(retry_delay(classify(http(500, "600"), 1)) == 5 * second);
  CHECK(retry_delay(classify(http(302, "600"), 1)) == 5 * second);
  CHECK(classify(http(400, "600"), 1).verdict == delivery_verdict::dlq);
}

TEST_CASE("Retry-After respects a jittered schedule delay as its floor", "[unit]") {
  const retry_policy policy;  // jitter 0.2: the delay before attempt 3 is 240..360 s
  std::mt19937_64 rng(23);
  for (int i = 0; i < 2'000; ++i) {
    const auto d = classify_attempt(http(429, "300"), 2, policy, now, rng);
    REQUIRE(d.verdict == delivery_verdict::retry);
    CHECK(d.retry_at_ms - now >= 300 * second);
    CHECK(d.retry_at_ms - now <= 360 * second);
  }
}

TEST_CASE("parse_retry_after reads delta-seconds", "[unit]") {
  CHECK(parse_retry_after("120", now) == 120 * second);
  CHECK(parse_retry_after("  7\t", now) == 7 * second);
  CHECK(parse_retry_after("0", now) == 0);
  CHECK(parse_retry_after("99999999999999999999999999", now) == int64_t{100} * 365 * 24 * hour);
  CHECK(parse_retry_after("", now) == std::nullopt);
  CHECK(parse_retry_after("1 2", now) == std::nullopt);
  CHECK(parse_retry_after("-1", now) == std::nullopt);
}

TEST_CASE("parse_http_date reads the three HTTP-date forms", "[unit]") {
  const int64_t expected = 784'111'777'000;
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == expected);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == expected);
  CHECK(parse_http_date("Sun Nov 06 08:49:37 1994") == expected);
  CHECK(parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT ") == expected);
  CHECK(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(parse_http_date("Monday, 06-Nov-23 08:49:37 GMT") == int64_t{1'699'260'577'000});
  CHECK(parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT") == int64_t{1'709'208'000'000});
  CHECK(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT").has_value());
}

TEST_CASE("parse_http_date refuses malformed and impossible dates", "[unit]") {
  for (const char* value : {
           "Wed, 29 Feb 2023 12:00:00 GMT",  // not a leap year
           "Thu, 29 Feb 1900 12:00:00 GMT",  // nor is 1900
           "Sun, 06 Nov 1994 24:00:00 GMT",
           "Sun, 06 Nov 1994 08:60:00 GMT",
           "Sun, 00 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 UTC",
           "Sun, 06 Nov 1994 08:49:37",
           "Sun, 06 nov 1994 08:49:37 GMT",
           "Sun, 6 Nov 1994 08:49:37 GMT",
           "Sun,06 Nov 1994 08:49:37 GMT",
           "Fun, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 GMT x",
           "Sun, 06 Nov 94 08:49:37 GMT",
           "Sunday, 06-Nov-1994 08:49:37 GMT",
           "Sun Nov  6 08:49:37 94",
           "1994-11-06T08:49:37Z",
           "",
       }) {
    INFO("'" << value << "'");
    CHECK(parse_http_date(value) == std::nullopt);
  }
}

// --- auto-disable ---

TEST_CASE("a webhook failing for the whole failing period is disabled", "[unit]") {
  const int64_t five_days = int64_t{5} * 24 * hour;
  CHECK_FALSE(should_disable(std::nullopt, now));
  CHECK_FALSE(should_disable(now - five_days + 1, now));
  CHECK(should_disable(now - five_days, now));
  auto_disable_settings one_hour;
  one_hour.failing_period_ms = hour;
  CHECK(should_disable(now - hour, now, one_hour));
  CHECK_FALSE(should_disable(now - hour + 1, now, one_hour));
}

TEST_CASE("the failing streak starts at the first failure and ends at any non-failure", "[unit]") {
  manual_clock clock(now);
  failure_streak streak;
  CHECK(streak.first_failure_at() == std::nullopt);
  streak.record(classify(http(500)).endpoint_failure, clock.now_ms());
  const int64_t started = clock.now_ms();
  for (int day = 1; day <= 4; ++day) {
    clock.advance_ms(24 * hour);
    streak.record(classify(transport(transport_error::timeout)).endpoint_failure, clock.now_ms());
    CHECK(streak.first_failure_at() == started);
    CHECK_FALSE(streak.should_disable(clock.now_ms()));
  }
  clock.advance_ms(24 * hour);
  CHECK(streak.should_disable(clock.now_ms()));
  // A 2xx, or a deliberate 4xx answer, ends the streak.
  streak.record(classify(http(200)).endpoint_failure, clock.now_ms());
  CHECK(streak.first_failure_at() == std::nullopt);
  CHECK_FALSE(streak.should_disable(clock.now_ms()));
  streak.record(true, clock.now_ms());
  streak.record(classify(http(404)).endpoint_failure, clock.now_ms());
  CHECK(streak.first_failure_at() == std::nullopt);
}

// --- a whole delivery in virtual time ---

TEST_CASE(
    "a delivery to an endpoint that always fails is tried 8 times over ~27.6 h, then "
    "parked",
    "[unit]") {
  const retry_policy policy;
  std::mt19937_64 rng(2024);
  manual_clock clock(now);
  int attempts = 0;
  delivery_decision d;
  do {
    ++attempts;
    d = classify_attempt(http(503), attempts, policy, clock.now_ms(), rng);
    if (d.verdict == delivery_verdict::retry) {
      REQUIRE(d.retry_at_ms >= clock.now_ms());
      clock.set_ms(d.retry_at_ms);
    }
  } while (d.verdict == delivery_verdict::retry);
  CHECK(attempts == 8);
  CHECK(d.verdict == delivery_verdict::dlq);
  CHECK(d.dlq_reason == "exhausted after 8 attempts: HTTP 503");
  // 5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000 s, each +/- 20 %.
  const int64_t total = 99'305 * second;
  CHECK(clock.now_ms() - now >= total * 8 / 10);
  CHECK(clock.now_ms() - now <= total * 12 / 10);
}

TEST_CASE("verdicts and transport errors have stable names", "[unit]") {
  CHECK(std::string(to_string(delivery_verdict::disable_webhook_and_dlq)) ==
        "disable_webhook_and_dlq");
  CHECK(std::string(to_string(delivery_verdict::retry)) == "retry");
  CHECK(std::string(to_string(transport_error::blocked_by_policy)) == "blocked_by_policy");
  CHECK(std::string(to_string(transport_error::connect_refused)) == "connect_refused");
}
