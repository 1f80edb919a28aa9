#include "core/circuit_breaker.hpp"

#include <algorithm>

namespace webhookd {

namespace {

circuit_breaker_settings clamped(circuit_breaker_settings s) {
  s.window_buckets = std::max(1, s.window_buckets);
  s.window_ms = std::max<int64_t>(s.window_ms, s.window_buckets);
  if (!(s.failure_ratio > 0.0)) s.failure_ratio = 0.5;  // also NaN
  s.failure_ratio = std::min(s.failure_ratio, 1.0);
  s.min_requests = std::max(1, s.min_requests);
  s.consecutive_failures = std::max(0, s.consecutive_failures);
  s.open_ms = std::max<int64_t>(1, s.open_ms);
  s.max_open_ms = std::max(s.max_open_ms, s.open_ms);
  return s;
}

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

const char* to_string(circuit_state state) {
  switch (state) {
    case circuit_state::closed:
      return "closed";
    case circuit_state::open:
      return "open";
    case circuit_state::half_open:
      return "half_open";
  }
  return "closed";
}

circuit_breaker::circuit_breaker(circuit_breaker_settings settings)
    : settings_(clamped(settings)),
      bucket_ms_(settings_.window_ms / settings_.window_buckets),
      buckets_(static_cast<std::size_t>(settings_.window_buckets)),
      cool_down_ms_(settings_.open_ms) {}

int64_t circuit_breaker::advance(int64_t now_ms) {
  latest_ms_ = std::max(latest_ms_, now_ms);
  return latest_ms_;
}

bool circuit_breaker::allow(int64_t now_ms) {
  const int64_t now = advance(now_ms);
  switch (state_) {
    case circuit_state::closed:
      return true;
    case circuit_state::open:
      if (now < open_until_ms_) return false;
      state_ = circuit_state::half_open;
      probe_out_ = true;
      return true;
    case circuit_state::half_open:
      if (probe_out_) return false;
      probe_out_ = true;
      return true;
  }
  return false;
}

void circuit_breaker::on_success(int64_t now_ms) {
  const int64_t now = advance(now_ms);
  switch (state_) {
    case circuit_state::closed:
      consecutive_failures_ = 0;
      record(now, false);
      return;
    case circuit_state::open:
      return;  // an attempt started before the circuit opened
    case circuit_state::half_open:
      close();
      return;
  }
}

void circuit_breaker::on_failure(int64_t now_ms) {
  const int64_t now = advance(now_ms);
  switch (state_) {
    case circuit_state::closed: {
      ++consecutive_failures_;
      record(now, true);
      const window_counts counts = window(now);
      const bool ratio_tripped = counts.requests >= settings_.min_requests &&
                                 static_cast<double>(counts.failures) >=
                                     settings_.failure_ratio * static_cast<double>(counts.requests);
      const bool streak_tripped = settings_.consecutive_failures > 0 &&
                                  consecutive_failures_ >= settings_.consecutive_failures;
      if (ratio_tripped || streak_tripped) open(now, settings_.open_ms);
      return;
    }
    case circuit_state::open:
      return;  // an attempt started before the circuit opened
    case circuit_state::half_open:
      open(now, std::min(cool_down_ms_ * 2, settings_.max_open_ms));
      return;
  }
}

void circuit_breaker::on_abandoned() {
  if (state_ == circuit_state::half_open) probe_out_ = false;
}

std::optional<int64_t> circuit_breaker::ms_until_probe(int64_t now_ms) const {
  const int64_t now = std::max(latest_ms_, now_ms);
  switch (state_) {
    case circuit_state::closed:
      return 0;
    case circuit_state::open:
      return std::max<int64_t>(0, open_until_ms_ - now);
    case circuit_state::half_open:
      if (probe_out_) return std::nullopt;
      return 0;
  }
  return 0;
}

circuit_breaker::window_counts circuit_breaker::window(int64_t now_ms) const {
  const int64_t current = floor_div(std::max(latest_ms_, now_ms), bucket_ms_);
  const auto n = static_cast<int64_t>(buckets_.size());
  window_counts counts;
  for (const bucket& b : buckets_) {
    if (b.index > current - n && b.index <= current) {
      counts.requests += b.requests;
      counts.failures += b.failures;
    }
  }
  return counts;
}

void circuit_breaker::record(int64_t now_ms, bool failed) {
  const int64_t index = floor_div(now_ms, bucket_ms_);
  const auto n = static_cast<int64_t>(buckets_.size());
  bucket& b = buckets_[static_cast<std::size_t>(((index % n) + n) % n)];
  if (b.index != index) b = bucket{index, 0, 0};
  ++b.requests;
  if (failed) ++b.failures;
}

void circuit_breaker::open(int64_t now_ms, int64_t cool_down_ms) {
  state_ = circuit_state::open;
  cool_down_ms_ = cool_down_ms;
  open_until_ms_ = now_ms + cool_down_ms;
  probe_out_ = false;
}

void circuit_breaker::close() {
  state_ = circuit_state::closed;
  cool_down_ms_ = settings_.open_ms;
  consecutive_failures_ = 0;
  probe_out_ = false;
  std::fill(buckets_.begin(), buckets_.end(), bucket{});
}

}  // namespace webhookd
