#include "core/model.hpp"

namespace webhookd {

int partition_of(const std::string& webhook_id, int count) {
  uint32_t h = 2166136261u;
  for (unsigned char c : webhook_id) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<int>(h % static_cast<uint32_t>(count));
}

const char* to_string(delivery_status s) {
  switch (s) {
    case delivery_status::pending:
      return "pending";
    case delivery_status::succeeded:
      return "succeeded";
    case delivery_status::failed:
      return "failed";
    case delivery_status::cancelled:
      return "cancelled";
  }
  return "pending";
}

std::optional<delivery_status> delivery_status_from_string(const std::string& s) {
  for (auto st : {delivery_status::pending, delivery_status::succeeded, delivery_status::failed,
                  delivery_status::cancelled})
    if (s == to_string(st)) return st;
  return std::nullopt;
}

}  // namespace webhookd
