#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace webhookd {

/// Makes ids that sort by creation time: prefix + "_" + 10 chars of millisecond time + 16 chars
/// of randomness, in Crockford base32 (e.g. "wh_01HF3...").  Ids made later sort after ids made
/// earlier (up to clock steps), so ordering by id is ordering by creation. Thread-safe.
class id_generator {
public:
  /// `seed` 0 seeds from std::random_device.
  explicit id_generator(const clock_source& clock, uint64_t seed = 0);

  std::string next(std::string_view prefix);

private:
  const clock_source& clock_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
};

}  // namespace webhookd
