#include "http/metrics_route.hpp"

namespace webhookd::http {

void register_metrics_route(httplib::Server& routes, const metrics::registry& registry) {
  routes.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_content(registry.expose(), metrics::registry::content_type);
  });
}

}  // namespace webhookd::http
