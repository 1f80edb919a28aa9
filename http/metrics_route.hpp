#pragma once

#include <httplib.h>

#include "core/metrics.hpp"

namespace webhookd::http {

/// Adds GET /metrics: `registry`'s Prometheus text exposition (content type
/// `text/plain; version=0.0.4`). Unauthenticated, like /healthz: scrapers reach it on the
/// operator's network (docs/operations.md, "Metrics"). `registry` must outlive the server.
void register_metrics_route(httplib::Server& routes, const metrics::registry& registry);

}  // namespace webhookd::http
