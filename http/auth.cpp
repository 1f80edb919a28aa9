#include "http/auth.hpp"

#include <utility>

#include "core/jwt.hpp"

namespace webhookd::http {

namespace {

api_error unauthorized(std::string message) {
  return api_error{401, "unauthorized", std::move(message), std::nullopt};
}

std::string reason_of(const jwt_error& err) {
  switch (err.code) {
    case jwt_errc::expired:
      return "token expired";
    case jwt_errc::not_yet_valid:
      return "token not valid yet (nbf)";
    case jwt_errc::bad_algorithm:
      return "token algorithm not accepted (only HS256)";
    case jwt_errc::bad_signature:
      return "token signature does not match";
    case jwt_errc::missing_subject:
      return "token has no subject (sub)";
    case jwt_errc::malformed:
      return "malformed token: " + err.message;
    case jwt_errc::invalid_key:
    case jwt_errc::internal:
      return "token cannot be verified";
  }
  return "token refused";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

authenticator::authenticator(std::string jwt_secret, const clock_source& clock)
    : secret_(std::move(jwt_secret)), clock_(clock) {}

api_result<principal> authenticator::authenticate(const httplib::Request& req) const {
  if (!req.has_header("Authorization")) {
    return unauthorized("missing Authorization header (expected Bearer <token>)");
  }
  return authenticate_header(req.get_header_value("Authorization"));
}

api_result<principal> authenticator::authenticate_header(std::string_view header) const {
  if (header.empty()) return unauthorized("missing Authorization header (expected Bearer <token>)");
  auto space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), "Bearer")) {
    return unauthorized("Authorization must be Bearer <token>");
  }
  std::string_view token = header.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return unauthorized("Authorization must be Bearer <token>");
  auto claims = verify_jwt(secret_, token, clock_.now_ms() / 1000);
  if (!claims) return unauthorized(reason_of(claims.err()));
  return principal{claims->sub, has_scope(*claims, "admin")};
}

api_result<principal> authenticator::authenticate_admin(const httplib::Request& req) const {
  auto who = authenticate(req);
  if (!who) return who;
  if (!who->admin) {
    return api_error{403, "forbidden", "this route needs scope admin", std::nullopt};
  }
  return who;
}

void write_auth_error(httplib::Response& res, const api_error& err) {
  if (err.status == 401) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"webhookd\"");
  }
  write_api_error(res, err);
}

void write_route_error(const httplib::Request& req, httplib::Response& res, const api_error& err,
                       spdlog::logger* log) {
  if (err.status >= 500 && log != nullptr) {
    log->warn("{} {} -> {} {}: {}", req.method, req.path, err.status, err.code, err.message);
  }
  if (err.status == 401 || err.status == 403) {
    write_auth_error(res, err);
  } else {
    write_api_error(res, err);
  }
}

}  // namespace webhookd::http
