#include "core/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace webhookd {

namespace {

constexpr int64_t units_per_token = 1'000'000;

double clamp_rate(double rate) {
  if (!(rate >= token_bucket::min_rate)) return token_bucket::min_rate;  // also NaN
  return std::min(rate, token_bucket::max_rate);
}

double clamp_burst(double burst) {
  if (!(burst >= 1.0)) return 1.0;
  return std::min(burst, token_bucket::max_burst);
}

/// Units per ms for a rate in tokens/s: rate * 1e6 / 1000, rounded down so the bucket is never
/// faster than asked.
int64_t to_units_per_ms(double rate) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(clamp_rate(rate) * 1000.0 + 1e-9)));
}

int64_t to_burst_units(double burst) {
  return static_cast<int64_t>(std::floor(clamp_burst(burst) * units_per_token));
}

}  // namespace

double token_bucket::default_burst(double rate_per_second) {
  return clamp_burst(std::floor(clamp_rate(rate_per_second) / 10.0));
}

token_bucket::token_bucket(double rate_per_second, int64_t now_ms)
    : token_bucket(rate_per_second, default_burst(rate_per_second), now_ms) {}

token_bucket::token_bucket(double rate_per_second, double burst, int64_t now_ms)
    : units_per_ms_(to_units_per_ms(rate_per_second)),
      burst_units_(to_burst_units(burst)),
      units_(burst_units_),
      last_ms_(now_ms) {}

int64_t token_bucket::units_at(int64_t now_ms) const {
  if (now_ms <= last_ms_ || units_ >= burst_units_) return units_;
  const int64_t missing = burst_units_ - units_;
  const int64_t elapsed = now_ms - last_ms_;
  // Compare before multiplying so a long idle time cannot overflow.
  if (elapsed >= (missing + units_per_ms_ - 1) / units_per_ms_) return burst_units_;
  return units_ + elapsed * units_per_ms_;
}

void token_bucket::refill(int64_t now_ms) {
  if (now_ms <= last_ms_) return;  // a clock step backwards adds nothing
  units_ = units_at(now_ms);
  last_ms_ = now_ms;
}

bool token_bucket::try_take(int64_t now_ms) {
  refill(now_ms);
  if (units_ < units_per_token) return false;
  units_ -= units_per_token;
  return true;
}

int64_t token_bucket::ms_until_available(int64_t now_ms) const {
  const int64_t units = units_at(now_ms);
  if (units >= units_per_token) return 0;
  const int64_t missing = units_per_token - units;
  const int64_t wait = (missing + units_per_ms_ - 1) / units_per_ms_;
  // Before last_ms_ (clock stepped back) tokens only start accruing again at last_ms_.
  return wait + std::max<int64_t>(0, last_ms_ - now_ms);
}

double token_bucket::available(int64_t now_ms) const {
  return static_cast<double>(units_at(now_ms)) / units_per_token;
}

void token_bucket::set_rate(double rate_per_second, int64_t now_ms) {
  set_rate(rate_per_second, default_burst(rate_per_second), now_ms);
}

void token_bucket::set_rate(double rate_per_second, double burst, int64_t now_ms) {
  refill(now_ms);
  units_per_ms_ = to_units_per_ms(rate_per_second);
  burst_units_ = to_burst_units(burst);
  units_ = std::min(units_, burst_units_);
}

double token_bucket::rate() const {
  return static_cast<double>(units_per_ms_) / 1000.0;
}

double token_bucket::burst() const {
  return static_cast<double>(burst_units_) / units_per_token;
}

}  // namespace webhookd
