#include "app/token.hpp"

#include "core/jwt.hpp"

namespace webhookd::app {

int run_token(const config& cfg, const clock_source& clock, std::ostream& out, std::ostream& err) {
  jwt_claims claims;
  claims.sub = cfg.token.client_id;
  claims.scope = cfg.token.admin ? "admin" : "";
  claims.iat = clock.now_ms() / 1000;
  claims.exp = claims.iat + cfg.token.ttl_seconds;
  auto token = mint_jwt(cfg.auth.jwt_secret, claims);
  if (!token) {
    err << "webhookd: cannot mint a token: " << token.err().message << "\n";
    return exit_failure;
  }
  out << token.value() << "\n";
  return exit_ok;
}

}  // namespace webhookd::app
