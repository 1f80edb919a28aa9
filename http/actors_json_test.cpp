#include "http/actors_json.hpp"

#include <catch2/catch.hpp>

using namespace webhookd;
using namespace webhookd::http;

TEST_CASE("actor_tree_to_json: a silent actor has its reason and no counters", "[unit]") {
  actor_tree tree;
  tree.taken_at = 1'700'000'000'000;
  tree.ingest_probe.answered = true;
  tree.ingest.accepted_events = 7;
  tree.ingest.events_per_second = 1.5;
  tree.router_probe.error = "system_error(request_timeout)";
  tree.router_probe.latency_ms = 1000;
  auto doc = actor_tree_to_json(tree);
  CHECK(doc.at("taken_at") == "2023-11-14T22:13:20.000Z");
  CHECK(doc.at("ingest").at("answered") == true);
  CHECK(doc.at("ingest").at("accepted_events") == 7);
  CHECK(doc.at("ingest").at("events_per_second") == 1.5);
  CHECK_FALSE(doc.at("ingest").contains("error"));
  CHECK(doc.at("router").at("answered") == false);
  CHECK(doc.at("router").at("error") == "system_error(request_timeout)");
  CHECK(doc.at("router").at("latency_ms") == 1000);
  CHECK_FALSE(doc.at("router").contains("routed_events"));
  CHECK(doc.at("store_writer").at("error") == "no answer");
}

TEST_CASE("actor_tree_to_json: endpoints sorted by webhook id with their retry time", "[unit]") {
  actor_tree tree;
  tree.taken_at = 1'700'000'000'000;
  tree.supervisor_probe.answered = true;
  tree.supervisor.live = 3;
  endpoint_state b;
  b.webhook_id = "wh_b";
  b.circuit = "open";
  b.queued_high = 1;
  b.queued_bulk = 2;
  b.next_retry_at = tree.taken_at + 1500;
  b.last_error = "HTTP 503";
  endpoint_state a;
  a.webhook_id = "wh_a";
  a.circuit = "closed";
  tree.supervisor.endpoints = {b, a};
  tree.supervisor.unanswered = {"wh_z", "wh_c"};
  auto sup = actor_tree_to_json(tree).at("endpoint_supervisor");
  REQUIRE(sup.at("endpoints").size() == 2);
  CHECK(sup.at("endpoints")[0].at("webhook_id") == "wh_a");
  CHECK(sup.at("endpoints")[0].at("next_retry_at").is_null());
  CHECK(sup.at("endpoints")[0].at("next_retry_in_ms").is_null());
  CHECK(sup.at("endpoints")[0].at("last_error").is_null());
  const auto& eb = sup.at("endpoints")[1];
  CHECK(eb.at("circuit") == "open");
  CHECK(eb.at("queued").at("total") == 3);
  CHECK(eb.at("next_retry_in_ms") == 1500);
  CHECK(eb.at("next_retry_at") == "2023-11-14T22:13:21.500Z");
  CHECK(eb.at("last_error") == "HTTP 503");
  CHECK(sup.at("unanswered") == nlohmann::json({"wh_c", "wh_z"}));
}

TEST_CASE("actor_tree_to_json: the store writer's back-pressure", "[unit]") {
  actor_tree tree;
  tree.writer_probe.answered = true;
  tree.writer.recorded = 90;
  tree.writer.outstanding = 4100;
  tree.writer.outstanding_limit = 4096;
  tree.writer.held_endpoints = 12;
  auto writer = actor_tree_to_json(tree).at("store_writer");
  CHECK(writer.at("recorded") == 90);
  CHECK(writer.at("outstanding") == 4100);
  CHECK(writer.at("outstanding_limit") == 4096);
  CHECK(writer.at("held_endpoints") == 12);
}
