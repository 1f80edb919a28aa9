#include "http/tracking_client.hpp"

#include <string>

namespace webhookd::http {

tracking_client::tracking_client(caf::actor_system& system, tracker_actor tracker, dlq_actor dlq,
                                 std::chrono::milliseconds deadline)
    : system_(system), tracker_(std::move(tracker)), dlq_(std::move(dlq)), deadline_(deadline) {}

api_error tracking_client::map_error(const caf::error& err) const {
  if (auto failure = store_failure_of(err)) {
    std::string message = failure->message.empty() ? to_string(failure->code) : failure->message;
    switch (failure->code) {
      case storage::errc::not_found:
        return not_found(std::move(message));
      case storage::errc::conflict:
        return api_error{409, "conflict", std::move(message), {}};
      case storage::errc::invalid:
        return validation_failed(std::move(message));
      case storage::errc::unavailable:
        return api_error{503, "unavailable", "store unavailable: " + message, 5};
      case storage::errc::internal:
        return api_error{500, "internal", "internal error", {}};
    }
  }
  if (err == caf::sec::request_timeout) {
    return api_error{
        503, "unavailable",
        "the delivery engine did not answer within " + std::to_string(deadline_.count()) + " ms",
        1};
  }
  return api_error{503, "unavailable",
                   "the delivery engine is not available: " + system_.render(err), 1};
}

}  // namespace webhookd::http
