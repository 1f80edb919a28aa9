#include "http/actors_api.hpp"

#include <charconv>
#include <optional>
#include <utility>

#include "http/console_page.hpp"
#include "http/response.hpp"

namespace webhookd::http {

namespace {

const char* const webhook_id_pattern = "([A-Za-z0-9_]{1,64})";

// ?limit: 1..100, default 20.
api_result<int> parse_limit(const httplib::Request& req) {
  if (!req.has_param("limit")) return 20;
  const std::string text = req.get_param_value("limit");
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 100)
    return validation_failed("limit must be an integer from 1 to 100");
  return value;
}

// A client id as tokens carry it in `sub`: any text, bounded, without control characters.
bool valid_client_id(const std::string& id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

actors_api::actors_api(const authenticator& auth, caf::actor_system& system,
                       introspector_actor introspector, attempts_backend& attempts,
                       std::chrono::milliseconds deadline, std::shared_ptr<spdlog::logger> log)
    : auth_(auth),
      system_(system),
      introspector_(std::move(introspector)),
      attempts_(attempts),
      deadline_(deadline),
      log_(std::move(log)) {}

void actors_api::register_routes(httplib::Server& routes) {
  routes.Get("/api/v1/actors",
             [this](const httplib::Request& req, httplib::Response& res) { get_actors(req, res); });
  routes.Get(
      std::string("/api/v1/actors/endpoints/") + webhook_id_pattern + "/attempts",
      [this](const httplib::Request& req, httplib::Response& res) { get_attempts(req, res); });
  routes.Get("/console", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    // The page talks to this server only; it must not be framed by other sites.
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                   "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                   "frame-ancestors 'none'");
    res.set_content(console_page(), "text/html; charset=utf-8");
  });
}

api_result<actor_tree> actors_api::gather_blocking() const {
  std::optional<api_result<actor_tree>> out;
  {
    caf::scoped_actor self{system_, true};
    self->request(introspector_, deadline_, state_atom::value)
        .receive([&](actor_tree& tree) { out.emplace(std::move(tree)); },
                 [&](caf::error& err) {
                   api_error e;
                   e.status = 503;
                   e.code = "unavailable";
                   e.message = "the introspector did not answer: " + system_.render(err);
                   e.retry_after_seconds = 1;
                   out.emplace(std::move(e));
                 });
  }
  if (!out) {
    api_error e;
    e.status = 503;
    e.code = "unavailable";
    e.message = "the introspector did not answer in time";
    e.retry_after_seconds = 1;
    return e;
  }
  return std::move(*out);
}

void actors_api::get_actors(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  auto tree = gather_blocking();
  if (!tree) return fail(req, res, tree.err());
  res.set_header("Cache-Control", "no-store");
  write_json(res, 200, actor_tree_to_json(*tree));
}

void actors_api::get_attempts(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  const std::string webhook_id = req.matches[1];
  auto limit = parse_limit(req);
  if (!limit) return fail(req, res, limit.err());
  std::string client_id;
  if (req.has_param("client_id")) {
    client_id = req.get_param_value("client_id");
    if (!valid_client_id(client_id))
      return fail(req, res, validation_failed("client_id is not a valid client id"));
  }
  auto found = attempts_.recent_attempts(webhook_id, client_id, *limit);
  if (!found) return fail(req, res, found.err());
  res.set_header("Cache-Control", "no-store");
  write_json(res, 200, endpoint_attempts_to_json(*found));
}

void actors_api::fail(const httplib::Request& req, httplib::Response& res,
                      const api_error& err) const {
  write_route_error(req, res, err, log_.get());
}

const char* console_page() {
  return console_html;
}

}  // namespace webhookd::http
