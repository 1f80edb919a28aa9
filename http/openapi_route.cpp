#include "http/management_api.hpp"
#include "http/openapi_document.hpp"

namespace webhookd::http {

void register_openapi_route(httplib::Server& routes) {
  routes.Get("/api/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(openapi_document, "application/json");
  });
}

}  // namespace webhookd::http
