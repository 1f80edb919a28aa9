#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace webhookd {

/// Source of wall-clock time in unix milliseconds. Injected wherever time decides behaviour
/// (backoff, rate limits, leases, token expiry) so tests can run in virtual time.
class clock_source {
public:
  virtual ~clock_source() = default;
  /// Milliseconds since the unix epoch.
  virtual int64_t now_ms() const = 0;
};

/// The real clock.
class system_clock_source final : public clock_source {
public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

/// A clock that only moves when told to (tests).
class manual_clock final : public clock_source {
public:
  explicit manual_clock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(); }
  void advance_ms(int64_t delta) { now_ += delta; }
  void set_ms(int64_t t) { now_ = t; }

private:
  std::atomic<int64_t> now_;
};

}  // namespace webhookd
