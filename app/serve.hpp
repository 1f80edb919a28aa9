#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <ostream>

#include "app/config.hpp"

namespace webhookd::app {

/// `webhookd serve`: opens the store (applying migrations), starts the actor system and the HTTP
/// server, logs "listening on http://HOST:PORT" with the bound port, and runs until SIGTERM or
/// SIGINT; then stops HTTP, the actors and the store, in that order. Must be called before the
/// process starts any thread (it blocks the shutdown signals for every thread it starts).
/// Returns the exit code: exit_ok after a signal, exit_usage when start fails (one line on
/// `err`), exit_failure when the server stops on its own.
int run_serve(const config& cfg, const std::shared_ptr<spdlog::logger>& log, std::ostream& err);

/// `webhookd migrate`: opens the store, which applies pending migrations, and prints
/// "schema version N" on `out`. Returns exit_ok, or exit_usage with one line on `err`.
int run_migrate(const config& cfg, std::ostream& out, std::ostream& err);

}  // namespace webhookd::app
