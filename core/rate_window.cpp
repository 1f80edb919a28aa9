#include "core/rate_window.hpp"

#include <algorithm>

namespace webhookd {

namespace {

int64_t second_of(int64_t ms) {
  return ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
}

std::size_t slot_of(int64_t second) {
  auto n = static_cast<int64_t>(rate_window::window_seconds);
  return static_cast<std::size_t>(((second % n) + n) % n);
}

}  // namespace

void rate_window::advance(int64_t second) {
  if (head_second_ == 0) {
    head_second_ = second;
    return;
  }
  if (second <= head_second_) return;
  int64_t steps = std::min<int64_t>(second - head_second_, window_seconds);
  for (int64_t i = 1; i <= steps; ++i) buckets_[slot_of(head_second_ + i)] = 0;
  head_second_ = second;
}

void rate_window::add(int64_t now_ms, uint64_t n) {
  if (first_ms_ == 0) first_ms_ = now_ms;
  int64_t second = second_of(now_ms);
  advance(second);
  // A clock that stepped back counts into the newest bucket.
  buckets_[slot_of(std::max(second, head_second_))] += n;
}

uint64_t rate_window::in_window(int64_t now_ms) const {
  if (head_second_ == 0) return 0;
  int64_t now_second = std::max(second_of(now_ms), head_second_);
  uint64_t total = 0;
  for (int64_t s = now_second - window_seconds + 1; s <= now_second; ++s) {
    if (s > head_second_ || s <= head_second_ - window_seconds) continue;
    total += buckets_[slot_of(s)];
  }
  return total;
}

double rate_window::per_second(int64_t now_ms) const {
  uint64_t total = in_window(now_ms);
  if (total == 0) return 0.0;
  double span_ms = static_cast<double>(window_seconds) * 1000.0;
  double since_first = static_cast<double>(now_ms - first_ms_);
  if (since_first < span_ms) span_ms = std::max(since_first, 1000.0);
  return static_cast<double>(total) * 1000.0 / span_ms;
}

}  // namespace webhookd
