#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace webhookd::http {

/// Sets `status` and a JSON body (content type application/json).
void write_json(httplib::Response& res, int status, const nlohmann::json& body);

/// Sets `status` and the error body of the API contract:
/// {"error":{"code":"<code>","message":"<message>"}}.
void write_error(httplib::Response& res, int status, const std::string& code,
                 const std::string& message);

/// The error code used for a bare HTTP status ("not_found" for 404, "payload_too_large" for
/// 413, ...); "error" for statuses without a specific name.
const char* error_code_for_status(int status);

}  // namespace webhookd::http
