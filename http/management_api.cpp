#include "http/management_api.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/management_json.hpp"
#include "http/query_params.hpp"
#include "http/request_body.hpp"
#include "http/response.hpp"

namespace webhookd::http {

namespace {

using json = nlohmann::json;

const char* const id_pattern = "([A-Za-z0-9_]{1,64})";

// A callback URL that passed the SSRF policy: normalised, with the addresses its host resolved to.
struct vetted_url {
  parsed_url url;
  std::vector<std::string> addresses;
};

// The 422 for a refused callback URL; the policy's messages mostly name the field already.
api_error url_refused(const net_error& err) {
  if (err.message.rfind("callback_url", 0) == 0) return validation_failed(err.message);
  return validation_failed("callback_url: " + err.message);
}

// check_url, then DNS resolution with every address checked. Blocks on DNS.
api_result<vetted_url> vet_callback_url_blocking(const ssrf_policy& policy,
                                                 const std::string& text) {
  auto parsed = policy.check_url(text);
  if (!parsed) return url_refused(parsed.err());
  auto addresses = policy.resolve_and_check_blocking(*parsed);
  if (!addresses) return url_refused(addresses.err());
  return vetted_url{std::move(*parsed), std::move(*addresses)};
}

json verification_json(const vetted_url& vetted, const reachability_result& reach) {
  return json{{"dns", {{"ok", true}, {"addresses", vetted.addresses}}},
              {"reachability",
               {{"ok", reach.ok},
                {"status_code", reach.ok ? json(reach.status_code) : json(nullptr)},
                {"error", reach.ok ? json(nullptr) : json(reach.error)}}}};
}

// The 404 of a webhook route, whatever the store said (so nothing about other clients leaks).
api_error webhook_error(api_error err, const std::string& id) {
  if (err.status == 404) err.message = "webhook " + id + " not found";
  return err;
}

api_error source_error(api_error err, const std::string& id) {
  if (err.status == 404) err.message = "source " + id + " not found";
  return err;
}

}  // namespace

management_api::management_api(const authenticator& auth, const ssrf_policy& policy,
                               const manager_client& manager, const reachability_prober& prober,
                               std::shared_ptr<spdlog::logger> log)
    : auth_(auth), policy_(policy), manager_(manager), prober_(prober), log_(std::move(log)) {}

void management_api::register_routes(httplib::Server& routes) {
  auto bind = [this](void (management_api::*handler)(const httplib::Request&, httplib::Response&)
                         const) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      (this->*handler)(req, res);
    };
  };
  const std::string webhooks = "/api/v1/webhooks";
  const std::string one_webhook = webhooks + "/" + id_pattern;
  routes.Post(webhooks, bind(&management_api::create_webhook));
  routes.Get(webhooks, bind(&management_api::list_webhooks));
  routes.Get(one_webhook, bind(&management_api::get_webhook));
  routes.Patch(one_webhook, bind(&management_api::patch_webhook));
  routes.Delete(one_webhook, bind(&management_api::delete_webhook));
  routes.Post(one_webhook + "/rotate-secret", bind(&management_api::rotate_secret));

  routes.Get("/api/v1/event-types", bind(&management_api::list_event_types));
  routes.Post("/api/v1/event-types", bind(&management_api::create_event_type));

  const std::string sources = "/api/v1/sources";
  const std::string one_source = sources + "/" + id_pattern;
  routes.Post(sources, bind(&management_api::create_source));
  routes.Get(sources, bind(&management_api::list_sources));
  routes.Get(one_source, bind(&management_api::get_source));
  routes.Patch(one_source, bind(&management_api::patch_source));
  routes.Delete(one_source, bind(&management_api::delete_source));
}

void management_api::fail(const httplib::Request& req, httplib::Response& res,
                          const api_error& err) const {
  write_route_error(req, res, err, log_.get());
}

// --- webhooks ---------------------------------------------------------------------------------

void management_api::create_webhook(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  auto doc = parse_json_object(req.body);
  if (!doc) return fail(req, res, doc.err());
  auto body = parse_webhook_body(*doc, body_kind::create);
  if (!body) return fail(req, res, body.err());

  auto catalogue =
      manager_.request_blocking<std::vector<event_type>>(event_type_atom::value, list_atom::value);
  if (!catalogue) return fail(req, res, catalogue.err());
  if (auto unknown = check_patterns_in_catalogue(body->values.event_types, *catalogue)) {
    return fail(req, res, *unknown);
  }
  auto vetted = vet_callback_url_blocking(policy_, *body->callback_url);
  if (!vetted) return fail(req, res, vetted.err());

  webhook w = std::move(body->values);
  w.client_id = who->client_id;
  w.callback_url = vetted->url.to_string();
  auto created = manager_.request_blocking<webhook>(create_atom::value, std::move(w));
  if (!created) return fail(req, res, created.err());

  // Reported, not fatal: the webhook exists whatever the receiver answers.
  reachability_result reach = prober_.head_blocking(vetted->url, vetted->addresses);
  json out = webhook_to_json(*created);
  out["signing_secret"] = created->signing_secret;
  out["verification"] = verification_json(*vetted, reach);
  write_json(res, 201, out);
}

void management_api::list_webhooks(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  auto page = page_of(req);
  if (!page) return fail(req, res, page.err());
  auto listed =
      manager_.request_blocking<webhookd::page<webhook>>(list_atom::value, who->client_id, *page);
  if (!listed) return fail(req, res, listed.err());
  json data = json::array();
  for (const auto& w : listed->items) data.push_back(webhook_to_json(w));
  write_json(res, 200,
             {{"data", std::move(data)}, {"next_cursor", cursor_to_json(listed->next_cursor)}});
}

void management_api::get_webhook(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto got = manager_.request_blocking<webhook>(caf::get_atom::value, who->client_id, id);
  if (!got) return fail(req, res, webhook_error(got.err(), id));
  write_json(res, 200, webhook_to_json(*got));
}

void management_api::patch_webhook(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto doc = parse_json_object(req.body);
  if (!doc) return fail(req, res, doc.err());
  auto body = parse_webhook_body(*doc, body_kind::patch);
  if (!body) return fail(req, res, body.err());

  const auto& fields = body->fields;
  if (std::find(fields.begin(), fields.end(), "event_types") != fields.end()) {
    auto catalogue = manager_.request_blocking<std::vector<event_type>>(event_type_atom::value,
                                                                        list_atom::value);
    if (!catalogue) return fail(req, res, catalogue.err());
    if (auto unknown = check_patterns_in_catalogue(body->values.event_types, *catalogue)) {
      return fail(req, res, *unknown);
    }
  }
  if (body->callback_url) {
    auto vetted = vet_callback_url_blocking(policy_, *body->callback_url);
    if (!vetted) return fail(req, res, vetted.err());
    body->values.callback_url = vetted->url.to_string();
  }
  webhook_patch patch{who->client_id, id, std::move(body->values), std::move(body->fields)};
  auto patched = manager_.request_blocking<webhook>(caf::update_atom::value, std::move(patch));
  if (!patched) return fail(req, res, webhook_error(patched.err(), id));
  write_json(res, 200, webhook_to_json(*patched));
}

void management_api::delete_webhook(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto cancelled = manager_.request_blocking<int64_t>(caf::delete_atom::value, who->client_id, id);
  if (!cancelled) return fail(req, res, webhook_error(cancelled.err(), id));
  write_json(res, 200,
             {{"webhook_id", id}, {"deleted", true}, {"cancelled_deliveries", *cancelled}});
}

void management_api::rotate_secret(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto doc = parse_json_object(req.body, true);
  if (!doc) return fail(req, res, doc.err());
  auto grace = parse_rotate_body(*doc, default_rotation_grace_seconds);
  if (!grace) return fail(req, res, grace.err());
  auto rotated = manager_.request_blocking<webhook>(rotate_atom::value, who->client_id, id, *grace);
  if (!rotated) return fail(req, res, webhook_error(rotated.err(), id));
  json out = webhook_to_json(*rotated);
  out["signing_secret"] = rotated->signing_secret;
  write_json(res, 200, out);
}

// --- event types -------------------------------------------------------------------------------

void management_api::list_event_types(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  auto page = page_of(req);
  if (!page) return fail(req, res, page.err());
  auto listed =
      manager_.request_blocking<std::vector<event_type>>(event_type_atom::value, list_atom::value);
  if (!listed) return fail(req, res, listed.err());
  auto& types = *listed;
  std::sort(types.begin(), types.end(),
            [](const event_type& a, const event_type& b) { return a.name < b.name; });
  // The cursor is the last name of the previous page.
  auto first = types.begin();
  if (!page->after.empty()) {
    first = std::upper_bound(
        types.begin(), types.end(), page->after,
        [](const std::string& after, const event_type& t) { return after < t.name; });
  }
  auto remaining = static_cast<std::size_t>(std::distance(first, types.end()));
  auto count = std::min(remaining, static_cast<std::size_t>(page->limit));
  json data = json::array();
  for (auto it = first; it != first + static_cast<std::ptrdiff_t>(count); ++it) {
    data.push_back(event_type_to_json(*it));
  }
  std::string next =
      count < remaining ? (first + static_cast<std::ptrdiff_t>(count) - 1)->name : std::string();
  write_json(res, 200, {{"data", std::move(data)}, {"next_cursor", cursor_to_json(next)}});
}

void management_api::create_event_type(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  auto doc = parse_json_object(req.body);
  if (!doc) return fail(req, res, doc.err());
  auto type = parse_event_type_body(*doc);
  if (!type) return fail(req, res, type.err());
  auto created = manager_.request_blocking<event_type>(event_type_atom::value, create_atom::value,
                                                       std::move(*type));
  if (!created) {
    api_error err = created.err();
    if (err.status == 409)
      err.message = "event type " + doc->at("name").get<std::string>() + " already exists";
    return fail(req, res, err);
  }
  write_json(res, 201, event_type_to_json(*created));
}

// --- sources -----------------------------------------------------------------------------------

void management_api::create_source(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  auto doc = parse_json_object(req.body);
  if (!doc) return fail(req, res, doc.err());
  auto body = parse_source_body(*doc, body_kind::create);
  if (!body) return fail(req, res, body.err());
  auto created = manager_.request_blocking<source>(source_atom::value, create_atom::value,
                                                   std::move(body->values));
  if (!created) {
    api_error err = created.err();
    if (err.status == 409) err.message = "api_key: already used by another source";
    return fail(req, res, err);
  }
  write_json(res, 201, source_to_json(*created, true));
}

void management_api::list_sources(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  auto page = page_of(req);
  if (!page) return fail(req, res, page.err());
  auto listed = manager_.request_blocking<webhookd::page<source>>(source_atom::value,
                                                                  list_atom::value, *page);
  if (!listed) return fail(req, res, listed.err());
  json data = json::array();
  for (const auto& s : listed->items) data.push_back(source_to_json(s, false));
  write_json(res, 200,
             {{"data", std::move(data)}, {"next_cursor", cursor_to_json(listed->next_cursor)}});
}

void management_api::get_source(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto got = manager_.request_blocking<source>(source_atom::value, caf::get_atom::value, id);
  if (!got) return fail(req, res, source_error(got.err(), id));
  write_json(res, 200, source_to_json(*got, false));
}

void management_api::patch_source(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto doc = parse_json_object(req.body);
  if (!doc) return fail(req, res, doc.err());
  auto body = parse_source_body(*doc, body_kind::patch);
  if (!body) return fail(req, res, body.err());
  source_patch patch{id, std::move(body->values), std::move(body->fields)};
  auto patched = manager_.request_blocking<source>(source_atom::value, caf::update_atom::value,
                                                   std::move(patch));
  if (!patched) {
    api_error err = source_error(patched.err(), id);
    if (err.status == 409) err.message = "api_key: already used by another source";
    return fail(req, res, err);
  }
  write_json(res, 200, source_to_json(*patched, false));
}

void management_api::delete_source(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate_admin(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto deleted =
      manager_.request_blocking<caf::ok_atom>(source_atom::value, caf::delete_atom::value, id);
  if (!deleted) return fail(req, res, source_error(deleted.err(), id));
  write_json(res, 200, {{"source_id", id}, {"deleted", true}});
}

}  // namespace webhookd::http
