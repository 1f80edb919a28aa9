#include "http/query_params.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "core/time_format.hpp"

namespace webhookd::http {

api_result<page_request> page_of(const httplib::Request& req) {
  page_request page;
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    bool digits = !text.empty() && text.size() <= 4 &&
                  text.find_first_not_of("0123456789") == std::string::npos;
    int value = digits ? std::stoi(text) : 0;
    if (value < 1 || value > 1000) {
      return validation_failed("limit: must be an integer from 1 to 1000");
    }
    page.limit = value;
  }
  if (req.has_param("cursor")) {
    page.after = req.get_param_value("cursor");
    bool valid =
        !page.after.empty() && page.after.size() <= 256 &&
        std::all_of(page.after.begin(), page.after.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
        });
    if (!valid) return validation_failed("cursor: not a cursor returned by this API");
  }
  return page;
}

api_result<std::optional<int64_t>> time_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::optional<int64_t>{};
  auto parsed = parse_rfc3339_ms(req.get_param_value(name));
  if (!parsed) {
    return validation_failed(std::string(name) +
                             ": not an RFC 3339 time (e.g. 2026-11-28T23:41:02.123Z)");
  }
  return std::optional<int64_t>{*parsed};
}

}  // namespace webhookd::http
