#include "core/rate_window.hpp"

#include <catch2/catch.hpp>

#include "core/clock.hpp"

using namespace webhookd;

TEST_CASE("rate_window: a steady rate reads as itself once the window is full", "[unit]") {
  manual_clock clock;
  rate_window rate;
  for (int i = 0; i < 300; ++i) {  // 20 events per second for 15 s
    rate.add(clock.now_ms());
    clock.advance_ms(50);
  }
  CHECK(rate.per_second(clock.now_ms()) == Approx(20.0).margin(2.0));
  CHECK(rate.in_window(clock.now_ms()) <= 220u);
}

TEST_CASE("rate_window: a fresh counter divides by the time since its first event", "[unit]") {
  manual_clock clock;
  rate_window rate;
  CHECK(rate.per_second(clock.now_ms()) == 0.0);
  rate.add(clock.now_ms(), 10);
  clock.advance_ms(2'000);
  rate.add(clock.now_ms(), 10);
  CHECK(rate.per_second(clock.now_ms()) == Approx(10.0));
  // Within the first second the divisor is one second, not a fraction of it.
  rate_window fresh;
  fresh.add(clock.now_ms(), 5);
  CHECK(fresh.per_second(clock.now_ms() + 100) == Approx(5.0));
}

TEST_CASE("rate_window: events older than the window no longer count", "[unit]") {
  manual_clock clock;
  rate_window rate;
  rate.add(clock.now_ms(), 100);
  clock.advance_ms(rate_window::window_seconds * 1000 + 1000);
  CHECK(rate.in_window(clock.now_ms()) == 0u);
  CHECK(rate.per_second(clock.now_ms()) == 0.0);
  rate.add(clock.now_ms(), 3);
  CHECK(rate.in_window(clock.now_ms()) == 3u);
  // A long pause far beyond the window clears every bucket.
  clock.advance_ms(1'000'000);
  rate.add(clock.now_ms(), 1);
  CHECK(rate.in_window(clock.now_ms()) == 1u);
}

TEST_CASE("rate_window: a clock stepping back counts into the newest second", "[unit]") {
  manual_clock clock;
  rate_window rate;
  rate.add(clock.now_ms(), 1);
  clock.advance_ms(5'000);
  rate.add(clock.now_ms(), 1);
  clock.advance_ms(-4'000);
  rate.add(clock.now_ms(), 1);
  CHECK(rate.in_window(clock.now_ms()) == 3u);
}
