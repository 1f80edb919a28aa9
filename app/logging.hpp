#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "app/config.hpp"

namespace webhookd::app {

/// Makes the process logger: one line per record on stdout, as text
/// (`[2024-05-01T12:00:00.123Z] [info] message`) or as a JSON object
/// (`{"ts":"2024-05-01T12:00:00.123Z","level":"info","logger":"webhookd","msg":"message"}`),
/// at settings.level, flushed per line. It is not registered in spdlog's global registry: pass it
/// to whoever logs.
std::shared_ptr<spdlog::logger> make_logger(const log_settings& settings,
                                            const std::string& name = "webhookd");

}  // namespace webhookd::app
