#include "http/api_error.hpp"

#include <utility>

#include "http/response.hpp"

namespace webhookd::http {

api_error validation_failed(std::string message) {
  return api_error{422, "validation_failed", std::move(message), std::nullopt};
}

api_error invalid_json(std::string message) {
  return api_error{400, "invalid_json", std::move(message), std::nullopt};
}

api_error not_found(std::string message) {
  return api_error{404, "not_found", std::move(message), std::nullopt};
}

void write_api_error(httplib::Response& res, const api_error& err) {
  if (err.retry_after_seconds) {
    res.set_header("Retry-After", std::to_string(*err.retry_after_seconds));
  }
  write_error(res, err.status, err.code, err.message);
}

}  // namespace webhookd::http
