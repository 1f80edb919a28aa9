#include "http/tracking_api.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time_format.hpp"
#include "http/management_json.hpp"
#include "http/query_params.hpp"
#include "http/request_body.hpp"
#include "http/response.hpp"

namespace webhookd::http {

namespace {

using json = nlohmann::json;

const char* const id_pattern = "([A-Za-z0-9_]{1,64})";
// Event ids are the source's: anything but a slash.
const char* const event_id_pattern = "([^/]{1,256})";

/// Most ids one replay takes, and most entries one bulk replay replays.
constexpr std::size_t max_replay_ids = 1000;

json time_or_null(int64_t unix_ms) {
  return unix_ms == 0 ? json(nullptr) : json(format_rfc3339_ms(unix_ms));
}

json delivery_to_json(const delivery& d) {
  return json{
      {"delivery_id", d.id},
      {"webhook_id", d.webhook_id},
      {"client_id", d.client_id},
      {"event_id", d.event_id},
      {"event_type", d.event_type},
      {"status", to_string(d.status)},
      {"attempt_count", d.attempts},
      {"series_start", d.series_start},
      {"next_attempt_at",
       d.status == delivery_status::pending ? time_or_null(d.next_attempt_at) : json(nullptr)},
      {"last_error", d.last_error},
      {"created_at", format_rfc3339_ms(d.created_at)},
      {"updated_at", format_rfc3339_ms(d.updated_at)}};
}

json attempt_to_json(const attempt& a) {
  return json{{"attempt_no", a.attempt_no},
              {"started_at", format_rfc3339_ms(a.started_at)},
              {"duration_ms", a.duration_ms},
              {"status_code", a.status_code == 0 ? json(nullptr) : json(a.status_code)},
              {"error", a.error.empty() ? json(nullptr) : json(a.error)},
              {"response_excerpt", a.response_excerpt}};
}

json attempt_record_to_json(const attempt_record& r) {
  json out = attempt_to_json(r.att);
  out["delivery_id"] = r.att.delivery_id;
  out["webhook_id"] = r.webhook_id;
  out["event_id"] = r.event_id;
  out["event_type"] = r.event_type;
  return out;
}

json dlq_entry_to_json(const dlq_entry& e) {
  return json{{"delivery_id", e.delivery_id},
              {"webhook_id", e.webhook_id},
              {"client_id", e.client_id},
              {"event_id", e.event_id},
              {"event_type", e.event_type},
              {"reason", e.reason},
              {"created_at", format_rfc3339_ms(e.created_at)},
              {"replayed_at", time_or_null(e.replayed_at)}};
}

/// [since, until) from the query; 422 when malformed or empty.
struct time_range {
  int64_t since = 0;
  int64_t until = 0;
};

api_result<time_range> range_of(std::optional<int64_t> since, std::optional<int64_t> until) {
  time_range r;
  if (since) {
    if (*since < 0) return validation_failed("since: must not be before 1970");
    r.since = *since;
  }
  if (until) {
    if (*until <= 0) return validation_failed("until: must be after 1970");
    if (since && *until <= *since) return validation_failed("until: must be after since");
    r.until = *until;
  }
  return r;
}

api_result<time_range> query_range(const httplib::Request& req) {
  auto since = time_param(req, "since");
  if (!since) return since.err();
  auto until = time_param(req, "until");
  if (!until) return until.err();
  return range_of(*since, *until);
}

bool valid_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
             std::string::npos;
}

/// Optional query id (webhook_id): 422 when present but malformed.
api_result<std::string> id_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::string();
  std::string id = req.get_param_value(name);
  if (!valid_id(id)) return validation_failed(std::string(name) + ": not an id");
  return id;
}

api_error with_message(api_error err, const std::string& what) {
  if (err.status == 404) err.message = what + " not found";
  return err;
}

/// A replay request: explicit ids, or a bulk selection.
struct replay_request {
  std::vector<std::string> ids;  ///< by ids (deduplicated, in order)
  dlq_filter filter;             ///< bulk when ids is empty
};

api_result<replay_request> parse_replay_body(const json& doc) {
  static const std::set<std::string> bulk_fields = {"webhook_id", "since", "until", "event_type"};
  replay_request out;
  if (doc.contains("delivery_ids")) {
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (it.key() != "delivery_ids")
        return validation_failed(it.key() +
                                 ": can't be combined with delivery_ids (replay by ids or by "
                                 "webhook_id, not both)");
    }
    const json& ids = doc.at("delivery_ids");
    if (!ids.is_array()) return validation_failed("delivery_ids: must be an array of ids");
    if (ids.empty()) return validation_failed("delivery_ids: must not be empty");
    if (ids.size() > max_replay_ids)
      return validation_failed("delivery_ids: at most " + std::to_string(max_replay_ids) +
                               " ids per request");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::string where = "delivery_ids[" + std::to_string(i) + "]";
      if (!ids[i].is_string()) return validation_failed(where + ": must be a string");
      std::string id = ids[i].get<std::string>();
      if (!valid_id(id)) return validation_failed(where + ": not a delivery id");
      if (seen.insert(id).second) out.ids.push_back(std::move(id));
    }
    return out;
  }
  if (!doc.contains("webhook_id")) {
    return validation_failed(
        "body: give delivery_ids, or webhook_id with optional since, until and event_type");
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!bulk_fields.count(it.key())) return validation_failed(it.key() + ": unknown field");
  }
  const json& webhook_id = doc.at("webhook_id");
  if (!webhook_id.is_string() || !valid_id(webhook_id.get<std::string>()))
    return validation_failed("webhook_id: must be a webhook id");
  out.filter.webhook_id = webhook_id.get<std::string>();
  std::optional<int64_t> since;
  std::optional<int64_t> until;
  for (const char* name : {"since", "until"}) {
    if (!doc.contains(name)) continue;
    const json& value = doc.at(name);
    auto parsed = value.is_string() ? parse_rfc3339_ms(value.get<std::string>()) : std::nullopt;
    if (!parsed)
      return validation_failed(std::string(name) +
                               ": must be an RFC 3339 time (e.g. 2026-11-28T23:41:02.123Z)");
    (std::string(name) == "since" ? since : until) = *parsed;
  }
  auto range = range_of(since, until);
  if (!range) return range.err();
  out.filter.since = range->since;
  out.filter.until = range->until;
  if (doc.contains("event_type")) {
    const json& type = doc.at("event_type");
    if (!type.is_string() || type.get<std::string>().empty() ||
        type.get<std::string>().size() > 128)
      return validation_failed("event_type: must be an event type name");
    out.filter.event_type = type.get<std::string>();
  }
  return out;
}

}  // namespace

tracking_api::tracking_api(const authenticator& auth, const tracking_client& engine,
                           std::shared_ptr<spdlog::logger> log)
    : auth_(auth), engine_(engine), log_(std::move(log)) {}

void tracking_api::register_routes(httplib::Server& routes) {
  auto bind = [this](void (tracking_api::*handler)(const httplib::Request&, httplib::Response&)
                         const) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      (this->*handler)(req, res);
    };
  };
  routes.Get(std::string("/api/v1/webhooks/") + id_pattern + "/deliveries",
             bind(&tracking_api::list_webhook_deliveries));
  routes.Get(std::string("/api/v1/events/") + event_id_pattern + "/deliveries",
             bind(&tracking_api::list_event_deliveries));
  routes.Get(std::string("/api/v1/deliveries/") + id_pattern, bind(&tracking_api::get_delivery));
  routes.Post(std::string("/api/v1/deliveries/") + id_pattern + "/resend",
              bind(&tracking_api::resend_delivery));
  routes.Get("/api/v1/dlq", bind(&tracking_api::list_dlq));
  routes.Post("/api/v1/dlq/replay", bind(&tracking_api::replay_dlq));
  routes.Get("/api/v1/attempts", bind(&tracking_api::list_attempts));
}

void tracking_api::fail(const httplib::Request& req, httplib::Response& res,
                        const api_error& err) const {
  write_route_error(req, res, err, log_.get());
}

void tracking_api::list_webhook_deliveries(const httplib::Request& req,
                                           httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  delivery_query query;
  query.webhook_id = id;
  if (req.has_param("status")) {
    query.status = req.get_param_value("status");
    if (!delivery_status_from_string(query.status))
      return fail(req, res,
                  validation_failed("status: must be pending, succeeded, failed or cancelled"));
  }
  auto range = query_range(req);
  if (!range) return fail(req, res, range.err());
  query.since = range->since;
  query.until = range->until;
  auto page = page_of(req);
  if (!page) return fail(req, res, page.err());
  query.page = *page;
  auto listed = engine_.ask_tracker_blocking<webhookd::page<delivery>>(
      deliveries_atom::value, who->client_id, std::move(query));
  if (!listed) return fail(req, res, with_message(listed.err(), "webhook " + id));
  json data = json::array();
  for (const auto& d : listed->items) data.push_back(delivery_to_json(d));
  write_json(res, 200,
             {{"data", std::move(data)}, {"next_cursor", cursor_to_json(listed->next_cursor)}});
}

void tracking_api::list_event_deliveries(const httplib::Request& req,
                                         httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string event_id = req.matches[1];
  auto listed = engine_.ask_tracker_blocking<std::vector<delivery>>(deliveries_atom::value,
                                                                    who->client_id, event_id);
  if (!listed) return fail(req, res, with_message(listed.err(), "event " + event_id));
  json data = json::array();
  for (const auto& d : *listed) data.push_back(delivery_to_json(d));
  write_json(res, 200, {{"data", std::move(data)}, {"next_cursor", nullptr}});
}

void tracking_api::get_delivery(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto got =
      engine_.ask_tracker_blocking<delivery_detail>(caf::get_atom::value, who->client_id, id);
  if (!got) return fail(req, res, with_message(got.err(), "delivery " + id));
  json out = delivery_to_json(got->row);
  json attempts = json::array();
  for (const auto& a : got->attempts) attempts.push_back(attempt_to_json(a));
  out["attempts"] = std::move(attempts);
  write_json(res, 200, out);
}

void tracking_api::resend_delivery(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  const std::string id = req.matches[1];
  auto doc = parse_json_object(req.body, true);
  if (!doc) return fail(req, res, doc.err());
  if (!doc->empty()) {
    return fail(req, res, validation_failed(doc->begin().key() + ": unknown field (no body)"));
  }
  auto resent = engine_.ask_tracker_blocking<delivery>(resend_atom::value, who->client_id, id);
  if (!resent) {
    api_error err = with_message(resent.err(), "delivery " + id);
    if (err.status == 409)
      err.message +=
          ": only a succeeded or failed delivery can be resent (a pending one is "
          "queued already; a cancelled one's webhook was deleted)";
    return fail(req, res, err);
  }
  write_json(res, 202, delivery_to_json(*resent));
}

void tracking_api::list_dlq(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  dlq_filter filter;
  auto webhook_id = id_param(req, "webhook_id");
  if (!webhook_id) return fail(req, res, webhook_id.err());
  filter.webhook_id = *webhook_id;
  if (req.has_param("event_type")) {
    filter.event_type = req.get_param_value("event_type");
    if (filter.event_type.empty() || filter.event_type.size() > 128)
      return fail(req, res, validation_failed("event_type: must be an event type name"));
  }
  auto range = query_range(req);
  if (!range) return fail(req, res, range.err());
  filter.since = range->since;
  filter.until = range->until;
  if (req.has_param("include_replayed")) {
    const std::string value = req.get_param_value("include_replayed");
    if (value != "true" && value != "false")
      return fail(req, res, validation_failed("include_replayed: must be true or false"));
    filter.include_replayed = value == "true";
  }
  auto page = page_of(req);
  if (!page) return fail(req, res, page.err());
  auto listed = engine_.ask_tracker_blocking<webhookd::page<dlq_entry>>(
      dlq_atom::value, who->client_id, filter, *page);
  if (!listed) return fail(req, res, with_message(listed.err(), "webhook " + filter.webhook_id));
  json data = json::array();
  for (const auto& e : listed->items) data.push_back(dlq_entry_to_json(e));
  write_json(res, 200,
             {{"data", std::move(data)}, {"next_cursor", cursor_to_json(listed->next_cursor)}});
}

void tracking_api::replay_dlq(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  auto doc = parse_json_object(req.body);
  if (!doc) return fail(req, res, doc.err());
  auto wanted = parse_replay_body(*doc);
  if (!wanted) return fail(req, res, wanted.err());

  bool more = false;
  std::vector<std::string> ids = std::move(wanted->ids);
  if (ids.empty()) {
    // Bulk: the entries not replayed yet that match, newest first, at most max_replay_ids.
    page_request page;
    page.limit = static_cast<int>(max_replay_ids);
    auto listed = engine_.ask_tracker_blocking<webhookd::page<dlq_entry>>(
        dlq_atom::value, who->client_id, wanted->filter, page);
    if (!listed)
      return fail(req, res, with_message(listed.err(), "webhook " + wanted->filter.webhook_id));
    more = !listed->next_cursor.empty();
    for (const auto& e : listed->items) ids.push_back(e.delivery_id);
  }
  std::vector<delivery> replayed;
  if (!ids.empty()) {
    auto done =
        engine_.ask_dlq_blocking<std::vector<delivery>>(replay_atom::value, who->client_id, ids);
    if (!done) return fail(req, res, done.err());
    replayed = std::move(*done);
  }
  std::set<std::string> replayed_ids;
  json replayed_json = json::array();
  for (const auto& d : replayed) {
    replayed_ids.insert(d.id);
    replayed_json.push_back(d.id);
  }
  json skipped = json::array();
  for (const auto& id : ids)
    if (!replayed_ids.count(id)) skipped.push_back(id);
  write_json(res, 202,
             {{"replayed", replayed.size()},
              {"delivery_ids", std::move(replayed_json)},
              {"skipped", std::move(skipped)},
              {"more", more}});
}

void tracking_api::list_attempts(const httplib::Request& req, httplib::Response& res) const {
  auto who = auth_.authenticate(req);
  if (!who) return fail(req, res, who.err());
  attempt_feed_request feed;
  auto webhook_id = id_param(req, "webhook_id");
  if (!webhook_id) return fail(req, res, webhook_id.err());
  feed.webhook_id = *webhook_id;
  auto page = page_of(req);
  if (!page) return fail(req, res, page.err());
  feed.limit = page->limit;
  if (!page->after.empty()) {
    const std::string& cursor = page->after;
    if (cursor.size() > 18 || cursor.find_first_not_of("0123456789") != std::string::npos)
      return fail(req, res, validation_failed("cursor: not a cursor returned by this API"));
    feed.after = std::stoll(cursor);
  }
  auto got = engine_.ask_tracker_blocking<attempt_feed>(attempts_atom::value, who->client_id,
                                                        std::move(feed));
  if (!got) return fail(req, res, with_message(got.err(), "webhook " + *webhook_id));
  json data = json::array();
  for (const auto& r : got->items) data.push_back(attempt_record_to_json(r));
  write_json(res, 200, {{"data", std::move(data)}, {"next_cursor", std::to_string(got->cursor)}});
}

}  // namespace webhookd::http
