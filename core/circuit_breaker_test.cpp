#include "core/circuit_breaker.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"

using namespace webhookd;

namespace {

constexpr int64_t t0 = 1'700'000'000'000;  // a multiple of the 5 s window step

/// Reports `n` failures at `now`, each allowed first.
void fail_n(circuit_breaker& breaker, int n, int64_t now) {
  for (int i = 0; i < n; ++i) {
    REQUIRE(breaker.allow(now));
    breaker.on_failure(now);
  }
}

/// Opens the circuit at `now` through the consecutive-failure rule.
void trip(circuit_breaker& breaker, int64_t now) {
  fail_n(breaker, breaker.settings().consecutive_failures, now);
  REQUIRE(breaker.state() == circuit_state::open);
}

}  // namespace

TEST_CASE("a new breaker is closed and lets attempts through", "[unit]") {
  circuit_breaker breaker;
  CHECK(breaker.state() == circuit_state::closed);
  CHECK(breaker.allow(t0));
  CHECK(breaker.allow(t0));
  CHECK(breaker.ms_until_probe(t0) == std::optional<int64_t>{0});
  CHECK(std::string(to_string(breaker.state())) == "closed");
}

TEST_CASE("ten failures in a row open the circuit for 30 s", "[unit]") {
  circuit_breaker breaker;
  fail_n(breaker, 9, t0);
  CHECK(breaker.state() == circuit_state::closed);
  CHECK(breaker.consecutive_failures() == 9);
  fail_n(breaker, 1, t0 + 1'000);
  CHECK(breaker.state() == circuit_state::open);
  CHECK_FALSE(breaker.allow(t0 + 1'000));
  CHECK(breaker.ms_until_probe(t0 + 1'000) == std::optional<int64_t>{30'000});
  CHECK(breaker.ms_until_probe(t0 + 21'000) == std::optional<int64_t>{10'000});
  CHECK_FALSE(breaker.allow(t0 + 30'999));
  CHECK(breaker.state() == circuit_state::open);
}

TEST_CASE("a success breaks the failure streak", "[unit]") {
  circuit_breaker breaker;
  fail_n(breaker, 9, t0);
  REQUIRE(breaker.allow(t0));
  breaker.on_success(t0);
  CHECK(breaker.consecutive_failures() == 0);
  fail_n(breaker, 9, t0);
  CHECK(breaker.state() == circuit_state::closed);  // 19 outcomes: below min_requests
}

TEST_CASE("a failure ratio of 50 % over 20 outcomes opens the circuit", "[unit]") {
  circuit_breaker breaker;
  // success, failure, success, failure ...: never two failures in a row.
  for (int i = 0; i < 19; ++i) {
    REQUIRE(breaker.allow(t0 + i * 100));
    if (i % 2 == 0) {
      breaker.on_success(t0 + i * 100);
    } else {
      breaker.on_failure(t0 + i * 100);
    }
  }
  CHECK(breaker.state() == circuit_state::closed);
  CHECK(breaker.window(t0 + 1'900).requests == 19);
  CHECK(breaker.window(t0 + 1'900).failures == 9);
  REQUIRE(breaker.allow(t0 + 1'900));
  breaker.on_failure(t0 + 1'900);  // 10 of 20
  CHECK(breaker.state() == circuit_state::open);
  CHECK(breaker.consecutive_failures() == 1);
}

TEST_CASE("a failure ratio below the threshold keeps the circuit closed", "[unit]") {
  circuit_breaker breaker;
  // 4 failures in every 10 outcomes, spread out, for 10 minutes.
  const bool pattern[10] = {false, true, false, true, false, false, true, false, true, false};
  for (int i = 0; i < 6'000; ++i) {
    const int64_t now = t0 + i * 100;
    REQUIRE(breaker.allow(now));
    if (pattern[i % 10]) {
      breaker.on_failure(now);
    } else {
      breaker.on_success(now);
    }
  }
  CHECK(breaker.state() == circuit_state::closed);
}

TEST_CASE("the ratio rule waits for min_requests outcomes", "[unit]") {
  circuit_breaker_settings settings;
  settings.consecutive_failures = 0;  // ratio rule only
  circuit_breaker breaker(settings);
  fail_n(breaker, 19, t0);
  CHECK(breaker.state() == circuit_state::closed);
  fail_n(breaker, 1, t0);
  CHECK(breaker.state() == circuit_state::open);
}

TEST_CASE("outcomes leave the sliding window after 60 s", "[unit]") {
  circuit_breaker_settings settings;
  settings.consecutive_failures = 0;
  circuit_breaker breaker(settings);
  fail_n(breaker, 15, t0);
  CHECK(breaker.window(t0 + 55'000).failures == 15);
  CHECK(breaker.window(t0 + 60'000).failures == 0);
  // 15 old + 10 new failures would trip; only the 10 in the window count.
  fail_n(breaker, 10, t0 + 60'000);
  CHECK(breaker.state() == circuit_state::closed);
  CHECK(breaker.window(t0 + 60'000).requests == 10);
  fail_n(breaker, 10, t0 + 61'000);
  CHECK(breaker.state() == circuit_state::open);
}

TEST_CASE("after the cool-down exactly one probe goes out", "[unit]") {
  circuit_breaker breaker;
  trip(breaker, t0);
  CHECK(breaker.allow(t0 + 30'000));
  CHECK(breaker.state() == circuit_state::half_open);
  CHECK_FALSE(breaker.allow(t0 + 30'000));
  CHECK_FALSE(breaker.allow(t0 + 45'000));
  CHECK(breaker.ms_until_probe(t0 + 45'000) == std::nullopt);
}

TEST_CASE("a probe success closes the circuit and resets it", "[unit]") {
  circuit_breaker breaker;
  trip(breaker, t0);
  REQUIRE(breaker.allow(t0 + 30'000));
  breaker.on_success(t0 + 30'200);
  CHECK(breaker.state() == circuit_state::closed);
  CHECK(breaker.consecutive_failures() == 0);
  CHECK(breaker.window(t0 + 30'200).requests == 0);
  CHECK(breaker.cool_down_ms() == 30'000);
  CHECK(breaker.allow(t0 + 30'200));
  CHECK(breaker.allow(t0 + 30'200));
  // The failures that opened it no longer count: 9 more keep it closed.
  fail_n(breaker, 9, t0 + 31'000);
  CHECK(breaker.state() == circuit_state::closed);
}

TEST_CASE("a probe failure reopens with the cool-down doubled up to 10 min", "[unit]") {
  circuit_breaker breaker;
  int64_t now = t0;
  trip(breaker, now);
  const int64_t expected[] = {60'000, 120'000, 240'000, 480'000, 600'000, 600'000};
  int64_t cool_down = 30'000;
  for (int64_t next : expected) {
    now += cool_down;
    CHECK_FALSE(breaker.allow(now - 1));
    REQUIRE(breaker.allow(now));
    REQUIRE(breaker.state() == circuit_state::half_open);
    breaker.on_failure(now + 500);
    CHECK(breaker.state() == circuit_state::open);
    CHECK(breaker.cool_down_ms() == next);
    CHECK(breaker.ms_until_probe(now + 500) == std::optional<int64_t>{next});
    now += 500;
    cool_down = next;
  }
  // Recovery resets the cool-down: the next trip waits 30 s again.
  now += cool_down;
  REQUIRE(breaker.allow(now));
  breaker.on_success(now);
  trip(breaker, now);
  CHECK(breaker.ms_until_probe(now) == std::optional<int64_t>{30'000});
}

TEST_CASE("outcomes reported while open are ignored", "[unit]") {
  circuit_breaker breaker;
  trip(breaker, t0);
  breaker.on_success(t0 + 1'000);
  CHECK(breaker.state() == circuit_state::open);
  breaker.on_failure(t0 + 2'000);
  CHECK(breaker.state() == circuit_state::open);
  CHECK(breaker.ms_until_probe(t0 + 2'000) == std::optional<int64_t>{28'000});
}

TEST_CASE("an abandoned probe frees the probe slot", "[unit]") {
  circuit_breaker breaker;
  trip(breaker, t0);
  REQUIRE(breaker.allow(t0 + 30'000));
  CHECK_FALSE(breaker.allow(t0 + 30'001));
  breaker.on_abandoned();
  CHECK(breaker.state() == circuit_state::half_open);
  CHECK(breaker.ms_until_probe(t0 + 30'001) == std::optional<int64_t>{0});
  CHECK(breaker.allow(t0 + 30'001));
  CHECK_FALSE(breaker.allow(t0 + 30'002));
}

TEST_CASE("a clock stepping backwards neither shortens nor skips the cool-down", "[unit]") {
  circuit_breaker breaker;
  trip(breaker, t0);
  REQUIRE(breaker.allow(t0 + 30'000));
  breaker.on_failure(t0 + 10'000);  // stale time: reopens from the latest time seen
  CHECK(breaker.ms_until_probe(t0 + 30'000) == std::optional<int64_t>{60'000});
  CHECK_FALSE(breaker.allow(t0 + 89'999));
  CHECK(breaker.allow(t0 + 90'000));
}

TEST_CASE("out-of-range settings are clamped", "[unit]") {
  circuit_breaker_settings settings;
  settings.window_buckets = 0;
  settings.window_ms = 0;
  settings.min_requests = 0;
  settings.failure_ratio = 7;
  settings.open_ms = 0;
  settings.max_open_ms = -5;
  settings.consecutive_failures = -1;
  const circuit_breaker breaker(settings);
  CHECK(breaker.settings().window_buckets == 1);
  CHECK(breaker.settings().window_ms == 1);
  CHECK(breaker.settings().min_requests == 1);
  CHECK(breaker.settings().failure_ratio == 1.0);
  CHECK(breaker.settings().open_ms == 1);
  CHECK(breaker.settings().max_open_ms == 1);
  CHECK(breaker.settings().consecutive_failures == 0);
}

TEST_CASE("a dead endpoint gets few attempts and a recovered one is back within a cool-down",
          "[unit]") {
  // An endpoint actor that would send every 100 ms, in virtual time: the endpoint is down for
  // 20 minutes, then healthy.
  manual_clock clock(t0);
  circuit_breaker breaker;
  const int64_t recovers_at = t0 + 20 * 60'000;
  int attempts_while_down = 0;
  int probes = 0;
  std::optional<int64_t> closed_again_at;
  while (clock.now_ms() < recovers_at + 15 * 60'000) {
    const int64_t now = clock.now_ms();
    const bool was_open = breaker.state() != circuit_state::closed;
    if (breaker.allow(now)) {
      if (was_open) ++probes;
      if (now < recovers_at) {
        ++attempts_while_down;
        breaker.on_failure(now);
      } else {
        breaker.on_success(now);
        if (!closed_again_at && breaker.state() == circuit_state::closed) closed_again_at = now;
      }
    }
    clock.advance_ms(100);
  }
  // 10 to open (the last at 0.9 s), then one probe per cool-down: at 30.9, 90.9, 210.9, 450.9
  // and 930.9 s while down; the next, at 1530.9 s (cool-down capped at 600 s), succeeds.
  CHECK(attempts_while_down == 10 + 5);
  CHECK(probes == 6);
  REQUIRE(closed_again_at.has_value());
  CHECK(*closed_again_at == t0 + 1'530'900);
  CHECK(*closed_again_at - recovers_at <= 600'000);
  CHECK(breaker.state() == circuit_state::closed);
}
