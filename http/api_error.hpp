#pragma once

#include <httplib.h>

#include <optional>
#include <string>

#include "core/crypto_result.hpp"

namespace webhookd::http {

/// An error answer of the management API: the HTTP status, the contract's error code
/// ("invalid_json", "unauthorized", "forbidden", "not_found", "conflict", "payload_too_large",
/// "validation_failed", "unavailable", "internal") and a message naming what is wrong.
struct api_error {
  int status = 500;
  std::string code = "internal";
  std::string message = "internal error";
  std::optional<int> retry_after_seconds;  ///< sent as Retry-After (503)
};

/// A value or the api_error to answer with.
template <class T>
using api_result = outcome<T, api_error>;

/// 422 validation_failed with `message` (which names the field).
api_error validation_failed(std::string message);

/// 400 invalid_json with `message` (which gives the byte offset).
api_error invalid_json(std::string message);

/// 404 not_found with `message`.
api_error not_found(std::string message);

/// Writes `err` as {"error":{"code","message"}} with its status (and Retry-After if set).
void write_api_error(httplib::Response& res, const api_error& err);

}  // namespace webhookd::http
