#include "webhookctl_actors.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

using namespace webhookctl;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

json sample_tree() {
  return json::parse(R"json({
    "taken_at": "2026-11-29T02:00:00.000Z",
    "ingest": {"actor": "ingest", "answered": true, "latency_ms": 0, "events_per_second": 12.5,
               "requests_per_second": 2.0, "accepted_events": 40, "duplicate_events": 1,
               "buffered_events": 0, "commits": 7, "failed_commits": 0,
               "overloaded_requests": 0},
    "router": {"actor": "router", "answered": false, "latency_ms": 1000,
               "error": "system_error(request_timeout)"},
    "endpoint_supervisor": {"actor": "endpoint_supervisor", "answered": true, "latency_ms": 1,
      "live": 2, "webhooks": 3, "restarts": 0, "idle_stops": 0, "jobs_forwarded": 41,
      "jobs_left_in_store": 0, "draining": false, "unanswered": ["wh_stuck"],
      "endpoints": [{"webhook_id": "wh_a", "client_id": "acme",
                     "callback_url": "https://a.example/hook", "status": "active",
                     "circuit": "open", "tokens": 2.5, "rate_limit": 10,
                     "queued": {"high": 1, "standard": 2, "bulk": 3, "total": 6},
                     "waiting": 4, "in_flight": 1, "recording": 0,
                     "next_retry_at": "2026-11-29T02:00:05.000Z", "next_retry_in_ms": 5000,
                     "last_error": "HTTP 500\u001b[2J", "succeeded": 9, "failed": 2,
                     "retried": 5, "received": 20, "restarts": 1}]},
    "dlq": {"actor": "dlq", "answered": true, "latency_ms": 0, "total": 2, "in_window": 2,
            "webhooks": [{"webhook_id": "wh_a"}]},
    "store_writer": {"actor": "store_writer", "answered": true, "latency_ms": 0, "queued": 0,
                     "recorded": 30, "transactions": 5, "failures": 0, "rejected": 0},
    "http_client": {"actor": "http_client", "answered": true, "latency_ms": 0, "pending": 1,
                    "running": 1, "queued": 0, "completed": 29}
  })json");
}

}  // namespace

TEST_CASE("print_actor_tree: every actor, its rates and the endpoint table", "[unit]") {
  std::ostringstream out;
  print_actor_tree(out, sample_tree());
  const std::string text = out.str();
  INFO(text);
  CHECK_THAT(text, Contains("webhookd actors at 2026-11-29T02:00:00.000Z"));
  CHECK_THAT(text, Contains("ingest"));
  CHECK_THAT(text, Contains("events/s 12.5"));
  CHECK_THAT(text, Contains("router"));
  CHECK_THAT(text, Contains("NOT ANSWERING: system_error(request_timeout)"));
  CHECK_THAT(text, Contains("endpoint actors 2"));
  CHECK_THAT(text, Contains("wh_a"));
  CHECK_THAT(text, Contains("open"));
  CHECK_THAT(text, Contains("2.5/10"));
  CHECK_THAT(text, Contains("in 5.0s"));
  CHECK_THAT(text, Contains("https://a.example/hook"));
  CHECK_THAT(text, Contains("wh_stuck"));
  CHECK_THAT(text, Contains("parked 2"));
  CHECK_THAT(text, Contains("recorded 30"));
  CHECK_THAT(text, Contains("completed 29"));
  // A hostile last error can't drive the terminal.
  CHECK(text.find('\x1b') == std::string::npos);
}

TEST_CASE("print_actor_tree: odd shapes print as '-' and never throw", "[unit]") {
  std::ostringstream out;
  REQUIRE_NOTHROW(print_actor_tree(out, json::object()));
  REQUIRE_NOTHROW(print_actor_tree(out, json::array()));
  json weird = {{"endpoint_supervisor", {{"answered", true}, {"endpoints", {1, "x", nullptr}}}}};
  REQUIRE_NOTHROW(print_actor_tree(out, weird));
  CHECK_THAT(out.str(), Contains("NOT ANSWERING: -"));
}
