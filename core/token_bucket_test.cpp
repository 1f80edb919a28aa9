#include "core/token_bucket.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "core/clock.hpp"

using namespace webhookd;

namespace {

/// Times at which a greedy consumer got tokens: at each step of a manual clock it takes all it
/// can. Steps are random (0..max_step ms), so grants land at irregular times.
std::vector<int64_t> greedy_grants(token_bucket& bucket, manual_clock& clock, int steps,
                                   int64_t max_step, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> step(0, max_step);
  std::vector<int64_t> grants;
  for (int i = 0; i < steps; ++i) {
    clock.advance_ms(step(rng));
    while (bucket.try_take(clock.now_ms())) grants.push_back(clock.now_ms());
  }
  return grants;
}

/// Checks that every window [grants[i], grants[j]] holds at most burst + rate * T / 1000 grants.
/// The tightest window around any set of consecutive grants starts and ends at a grant, so
/// checking all pairs i <= j checks every window. The pair condition
/// (j - i + 1) - rate * (g[j] - g[i]) / 1000 <= burst splits into a term of j minus a term of i,
/// so one pass with the smallest i-term so far checks all pairs.
void check_bound(const std::vector<int64_t>& grants, double rate, double burst) {
  double smallest_start = 0;  // min over i <= j of i - rate * g[i] / 1000
  std::size_t smallest_at = 0;
  for (std::size_t j = 0; j < grants.size(); ++j) {
    const double start_term =
        static_cast<double>(j) - rate * static_cast<double>(grants[j]) / 1000.0;
    if (j == 0 || start_term < smallest_start) {
      smallest_start = start_term;
      smallest_at = j;
    }
    const double end_term =
        static_cast<double>(j + 1) - rate * static_cast<double>(grants[j]) / 1000.0;
    if (end_term - smallest_start > burst + 1e-6) {
      FAIL("window [" << grants[smallest_at] << ", " << grants[j] << "] granted "
                      << (j - smallest_at + 1) << " > burst " << burst << " + rate " << rate
                      << " * " << (grants[j] - grants[smallest_at]) << " ms");
    }
  }
}

}  // namespace

TEST_CASE("the default burst is a tenth of a second's worth, at least one", "[unit]") {
  CHECK(token_bucket::default_burst(1000) == 100);
  CHECK(token_bucket::default_burst(25) == 2);
  CHECK(token_bucket::default_burst(5) == 1);
  CHECK(token_bucket::default_burst(0.5) == 1);
  const token_bucket bucket(1000, 0);
  CHECK(bucket.burst() == 100);
  CHECK(bucket.rate() == 1000);
}

TEST_CASE("a new bucket holds its burst and no more", "[unit]") {
  token_bucket bucket(10, 3, 5'000);
  CHECK(bucket.available(5'000) == 3);
  CHECK(bucket.try_take(5'000));
  CHECK(bucket.try_take(5'000));
  CHECK(bucket.try_take(5'000));
  CHECK_FALSE(bucket.try_take(5'000));
  CHECK(bucket.ms_until_available(5'000) == 100);
}

TEST_CASE("a token comes back after 1000 / rate ms, not sooner", "[unit]") {
  token_bucket bucket(10, 1, 0);
  REQUIRE(bucket.try_take(0));
  CHECK(bucket.ms_until_available(0) == 100);
  CHECK(bucket.ms_until_available(40) == 60);
  CHECK_FALSE(bucket.try_take(99));
  CHECK(bucket.ms_until_available(99) == 1);
  CHECK(bucket.try_take(100));
  CHECK_FALSE(bucket.try_take(100));
}

TEST_CASE("a fractional rate spaces tokens seconds apart", "[unit]") {
  token_bucket bucket(0.5, 0);
  REQUIRE(bucket.try_take(0));
  CHECK(bucket.ms_until_available(0) == 2'000);
  CHECK_FALSE(bucket.try_take(1'999));
  CHECK(bucket.try_take(2'000));
}

TEST_CASE("a long idle time refills to the burst only", "[unit]") {
  token_bucket bucket(1'000'000, 5, 0);
  for (int i = 0; i < 5; ++i) REQUIRE(bucket.try_take(0));
  const int64_t ten_years = int64_t{10} * 365 * 24 * 3600 * 1000;
  CHECK(bucket.available(ten_years) == 5);
  int taken = 0;
  while (bucket.try_take(ten_years)) ++taken;
  CHECK(taken == 5);
}

TEST_CASE("a clock stepping backwards grants nothing extra", "[unit]") {
  token_bucket bucket(1, 1, 10'000);
  REQUIRE(bucket.try_take(10'000));
  CHECK_FALSE(bucket.try_take(5'000));
  CHECK(bucket.ms_until_available(5'000) == 6'000);  // accrual resumes from 10'000
  CHECK_FALSE(bucket.try_take(10'999));
  CHECK(bucket.try_take(11'000));
}

TEST_CASE("set_rate keeps accrued tokens and applies the new rate from now", "[unit]") {
  token_bucket bucket(10, 10, 0);
  for (int i = 0; i < 10; ++i) REQUIRE(bucket.try_take(0));
  // 500 ms at 10/s: 5 tokens accrued, kept across the change.
  bucket.set_rate(1, 10, 500);
  CHECK(bucket.available(500) == 5);
  for (int i = 0; i < 5; ++i) REQUIRE(bucket.try_take(500));
  CHECK(bucket.ms_until_available(500) == 1'000);
  CHECK(bucket.rate() == 1);
}

TEST_CASE("set_rate drops tokens above the new burst", "[unit]") {
  token_bucket bucket(1000, 0);
  CHECK(bucket.available(0) == 100);
  bucket.set_rate(20, 0);
  CHECK(bucket.burst() == 2);
  CHECK(bucket.available(0) == 2);
}

TEST_CASE("out-of-range settings are clamped", "[unit]") {
  const token_bucket zero(0, 0, 0);
  CHECK(zero.rate() == token_bucket::min_rate);
  CHECK(zero.burst() == 1);
  const token_bucket huge(1e12, 1e12, 0);
  CHECK(huge.rate() == token_bucket::max_rate);
  CHECK(huge.burst() == token_bucket::max_burst);
}

TEST_CASE("over any window of T ms at most burst + rate * T / 1000 tokens are granted", "[unit]") {
  struct setting {
    double rate;
    double burst;
    int64_t max_step;
  };
  const setting settings[] = {
      {1000, token_bucket::default_burst(1000), 7},
      {1000, 1, 3},
      {3, 1, 400},
      {7.3, 5, 250},
      {0.5, 2, 1'500},
      {250, 40, 60},
  };
  uint64_t seed = 1;
  for (const auto& s : settings) {
    INFO("rate " << s.rate << " burst " << s.burst);
    manual_clock clock(1'000'000);
    token_bucket bucket(s.rate, s.burst, clock.now_ms());
    const auto grants = greedy_grants(bucket, clock, 4'000, s.max_step, seed++);
    check_bound(grants, s.rate, s.burst);
    CHECK(grants.size() >= 100);
    // The bound is tight: when no step is long enough to overfill the bucket, a greedy consumer
    // gets every whole token the rate allows.
    if (s.rate * static_cast<double>(s.max_step) / 1000.0 <= s.burst) {
      const double elapsed_ms = static_cast<double>(clock.now_ms() - grants.front());
      const double allowed = s.burst + s.rate * elapsed_ms / 1000.0;
      CHECK(static_cast<double>(grants.size()) >= allowed - 1);
    }
  }
}

TEST_CASE("the bound holds across rate changes to the slower rate's burst", "[unit]") {
  // After a change the bound is the new setting's, counted from the change.
  manual_clock clock(0);
  token_bucket bucket(500, 50, clock.now_ms());
  (void)greedy_grants(bucket, clock, 500, 5, 11);
  bucket.set_rate(20, 2, clock.now_ms());
  const auto grants = greedy_grants(bucket, clock, 2'000, 20, 12);
  check_bound(grants, 20, 2);
  CHECK(grants.size() >= 100);
}
