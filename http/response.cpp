#include "http/response.hpp"

namespace webhookd::http {

void write_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void write_error(httplib::Response& res, int status, const std::string& code,
                 const std::string& message) {
  write_json(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

const char* error_code_for_status(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 415: return "unsupported_media_type";
    case 416: return "range_not_satisfiable";
    case 422: return "unprocessable_entity";
    case 429: return "too_many_requests";
    case 500: return "internal";
    case 503: return "unavailable";
    default: return "error";
  }
}

}  // namespace webhookd::http
