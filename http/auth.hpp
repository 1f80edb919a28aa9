#pragma once

#include <httplib.h>
#include <spdlog/logger.h>

#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "http/api_error.hpp"

namespace webhookd::http {

/// Who is calling a management route, from a verified token.
struct principal {
  std::string client_id;  ///< the token's `sub`
  bool admin = false;     ///< the token's scope contains "admin"
};

/// Authenticates management requests: `Authorization: Bearer <JWT>` verified as HS256 with the
/// configured secret at the injected clock's time (exp/nbf enforced, any other alg refused,
/// including "none"). Immutable; safe to use from many handler threads.
class authenticator {
 public:
  /// `clock` must outlive the authenticator.
  authenticator(std::string jwt_secret, const clock_source& clock);

  /// The caller of a request, or 401 unauthorized naming the reason (missing header, not a
  /// Bearer token, or the token's refusal: "token expired", "token signature does not match",
  /// "token algorithm not accepted", ...).
  api_result<principal> authenticate(const httplib::Request& req) const;

  /// The same from the Authorization header's value (empty when absent).
  api_result<principal> authenticate_header(std::string_view authorization) const;

  /// authenticate(), then 403 forbidden unless the token has scope admin.
  api_result<principal> authenticate_admin(const httplib::Request& req) const;

 private:
  std::string secret_;
  const clock_source& clock_;
};

/// Writes a 401/403 from authenticate() with a WWW-Authenticate: Bearer challenge for 401.
void write_auth_error(httplib::Response& res, const api_error& err);

/// Writes any route's error answer: 401/403 through write_auth_error, the rest through
/// write_api_error; a 5xx is also logged at warn with the request line (when `log` is set).
void write_route_error(const httplib::Request& req, httplib::Response& res, const api_error& err,
                       spdlog::logger* log);

}  // namespace webhookd::http
