#pragma once

#include <cstdint>

namespace webhookd {

/// A token bucket: the rate limit of one webhook (design.md section 4). Tokens accrue at `rate`
/// per second up to `burst`; each delivery attempt takes one. Over any window of T ms it grants
/// at most `burst + rate * T / 1000` tokens.
///
/// Default burst: max(1, floor(rate / 10)), i.e. a tenth of a second's worth. So a webhook never
/// gets more than 1.1 x its rate in any one-second window, while an endpoint actor at 1,000/s can
/// start up to 100 attempts per wake-up instead of waking every millisecond. Pass burst 1 for the
/// strictest spacing.
///
/// Pure: time comes in as unix milliseconds; a clock that steps backwards adds no tokens (and
/// never removes any). Internally tokens are counted in millionths and the rate is rounded down
/// to 1/1000 token per second, so rounding never grants more than the bound.
class token_bucket {
 public:
  /// Smallest accepted rate, tokens per second; smaller rates are raised to it.
  static constexpr double min_rate = 0.001;
  /// Largest accepted rate, tokens per second; larger rates are lowered to it.
  static constexpr double max_rate = 1'000'000.0;
  /// Largest accepted burst; larger bursts are lowered to it (smallest is 1).
  static constexpr double max_burst = 1'000'000.0;

  /// The burst used when none is given: max(1, floor(rate / 10)).
  static double default_burst(double rate_per_second);

  /// A full bucket at `now_ms` with the default burst.
  token_bucket(double rate_per_second, int64_t now_ms);
  /// A full bucket at `now_ms`. Rate is clamped to [min_rate, max_rate], burst to [1, max_burst].
  token_bucket(double rate_per_second, double burst, int64_t now_ms);

  /// Takes one token if one is available at `now_ms`; false (and nothing taken) otherwise.
  [[nodiscard]] bool try_take(int64_t now_ms);

  /// Milliseconds from `now_ms` until try_take can succeed: 0 when a token is there now.
  int64_t ms_until_available(int64_t now_ms) const;

  /// Tokens available at `now_ms` (fractional), for introspection.
  double available(int64_t now_ms) const;

  /// Changes the rate from `now_ms` on (tokens accrued so far at the old rate are kept) and sets
  /// the burst to default_burst(rate). Tokens above the new burst are dropped.
  void set_rate(double rate_per_second, int64_t now_ms);
  /// As set_rate(rate, now_ms) with an explicit burst.
  void set_rate(double rate_per_second, double burst, int64_t now_ms);

  /// Tokens per second, as used (after clamping and rounding down to 1/1000).
  double rate() const;
  /// Most tokens the bucket holds.
  double burst() const;

 private:
  /// Brings tokens up to date at `now_ms`.
  void refill(int64_t now_ms);
  /// Tokens (in units) the bucket would hold at `now_ms`.
  int64_t units_at(int64_t now_ms) const;

  int64_t units_per_ms_;  // token units (1e-6 token) gained per ms
  int64_t burst_units_;
  int64_t units_;
  int64_t last_ms_;
};

}  // namespace webhookd
