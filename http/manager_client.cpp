#include "http/manager_client.hpp"

namespace webhookd::http {

manager_client::manager_client(caf::actor_system& system, manager_actor manager,
                               std::chrono::milliseconds deadline)
    : system_(system), manager_(std::move(manager)), deadline_(deadline) {}

api_error manager_client::map_error(const caf::error& err) const {
  if (auto failure = manager_failure_of(err)) {
    std::string message = failure->message.empty() ? to_string(failure->code) : failure->message;
    switch (failure->code) {
      case manager_errc::not_found:
        return not_found(std::move(message));
      case manager_errc::conflict:
        return api_error{409, "conflict", std::move(message), {}};
      case manager_errc::invalid:
        return validation_failed(std::move(message));
      case manager_errc::unavailable:
        return api_error{503, "unavailable", "store unavailable: " + message, 5};
      case manager_errc::internal:
        return api_error{500, "internal", "internal error", {}};
    }
  }
  if (err == caf::sec::request_timeout) {
    return api_error{
        503, "unavailable",
        "the manager did not answer within " + std::to_string(deadline_.count()) + " ms", 1};
  }
  return api_error{503, "unavailable", "the manager is not available: " + system_.render(err), 1};
}

}  // namespace webhookd::http
