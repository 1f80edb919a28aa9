#pragma once

#include <ostream>

#include "app/config.hpp"
#include "core/clock.hpp"

namespace webhookd::app {

/// `webhookd token`: mints an HS256 management token with the configured JWT secret for
/// cfg.token (sub = client id, scope "admin" with --admin, iat = now, exp = now + ttl) and prints
/// it on `out` followed by a newline. Returns exit_ok, or exit_failure with one line on `err`.
int run_token(const config& cfg, const clock_source& clock, std::ostream& out, std::ostream& err);

}  // namespace webhookd::app
