#include "core/ids.hpp"

namespace webhookd {

namespace {
constexpr char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}

id_generator::id_generator(const clock_source& clock, uint64_t seed)
    : clock_(clock), rng_(seed != 0 ? seed : std::random_device{}()) {}

std::string id_generator::next(std::string_view prefix) {
  uint64_t time = static_cast<uint64_t>(clock_.now_ms());
  uint64_t random_hi, random_lo;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    random_hi = rng_();
    random_lo = rng_();
  }
  std::string out;
  out.reserve(prefix.size() + 1 + 26);
  out.append(prefix);
  out.push_back('_');
  for (int i = 9; i >= 0; --i) out.push_back(crockford[(time >> (i * 5)) & 31]);
  for (int i = 0; i < 8; ++i) out.push_back(crockford[(random_hi >> (i * 5)) & 31]);
  for (int i = 0; i < 8; ++i) out.push_back(crockford[(random_lo >> (i * 5)) & 31]);
  return out;
}

}  // namespace webhookd
