#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>

#include "core/model.hpp"
#include "http/api_error.hpp"

namespace webhookd::http {

/// `limit` (1..1000, default 50) and `cursor` of a list request; 422 naming the parameter when
/// one is malformed (a cursor holds only letters, digits, '_', '.', '-', at most 256 of them).
api_result<page_request> page_of(const httplib::Request& req);

/// The RFC 3339 time in query parameter `name` as unix milliseconds; nullopt when absent; 422
/// naming the parameter when it is not an RFC 3339 time.
api_result<std::optional<int64_t>> time_param(const httplib::Request& req, const char* name);

}  // namespace webhookd::http
