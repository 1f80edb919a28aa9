// The endpoint actor with its real collaborators (SQLite store, store writer, loader, DLQ actor,
// manager) and a scripted HTTP receiver in place of the network.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/endpoint.hpp"
#include "actors/endpoint_test_support.hpp"
#include "core/webhook_signature.hpp"

using namespace webhookd;
using namespace webhookd::test;

namespace {

/// The collaborators of an endpoint actor under test; stops them all when destroyed.
struct endpoint_rig {
  temp_store db;
  system_clock_source clock;
  std::unique_ptr<caf::actor_system_config> cfg = make_actor_config();
  std::unique_ptr<caf::actor_system> sys = std::make_unique<caf::actor_system>(*cfg);
  std::shared_ptr<scripted_receiver> receiver = std::make_shared<scripted_receiver>();
  http_client_actor http = spawn_scripted_http(*sys, receiver);
  // A small limit, so every endpoint test also runs the back-pressure's hand-offs.
  std::shared_ptr<record_backlog> backlog = std::make_shared<record_backlog>(4);
  store_writer_actor writer =
      spawn_store_writer(*sys, store_writer_deps{db.get(), nullptr, {}, nullptr, backlog});
  loader_actor loader = spawn_loader(*sys, loader_deps{db.get(), &clock, nullptr, 1, nullptr});
  dlq_actor dlq = spawn_dlq(*sys, dlq_deps{loader, &clock, nullptr, {}});
  manager_actor manager;
  std::vector<endpoint_actor> endpoints;

  ~endpoint_rig() {
    for (auto& e : endpoints) caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dlq, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(http, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    if (manager) caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  endpoint_actor start(const webhook& w, endpoint_settings settings = {},
                       endpoint_owner_actor owner = {}) {
    endpoint_deps d;
    d.config = std::make_shared<const webhook>(w);
    d.settings = settings;
    d.http = http;
    d.writer = writer;
    d.backlog = backlog;
    d.loader = loader;
    d.dlq = dlq;
    d.manager = manager;
    d.supervisor = owner;
    d.clock = &clock;
    d.seed = 7;
    auto e = spawn_endpoint(*sys, d);
    endpoints.push_back(e);
    return e;
  }
};

endpoint_state state_of(caf::scoped_actor& self, const endpoint_actor& e) {
  endpoint_state out;
  self->request(e, std::chrono::seconds(5), state_atom::value)
      .receive([&](endpoint_state& s) { out = std::move(s); },
               [&](caf::error& err) { FAIL("state: " << caf::to_string(err)); });
  return out;
}

}  // namespace

TEST_CASE("endpoint delivers signed requests, records them, and reports itself idle", "[unit]") {
  endpoint_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_sign");
  w.headers = R"({"x-tenant": "acme"})";
  auto jobs = add_test_events(rig.db.store(), {w}, 3, "sign");
  {
    caf::scoped_actor self{*rig.sys};
    endpoint_settings settings;
    settings.idle_timeout = std::chrono::milliseconds(20);
    auto e = rig.start(w, settings, caf::actor_cast<endpoint_owner_actor>(self));
    self->send(e, deliver_atom::value, jobs);
    REQUIRE(wait_until(
        [&] { return all_have_status(rig.db.store(), jobs, delivery_status::succeeded); }));
    // Reported idle with the number of jobs it received.
    bool reported = false;
    self->receive(
        [&](idle_atom, const std::string& id, uint64_t received) {
          CHECK(id == w.id);
          CHECK(received == jobs.size());
          reported = true;
        },
        caf::after(std::chrono::seconds(5)) >> [] {});
    CHECK(reported);

    auto seen = rig.receiver->snapshot();
    // Loaded from the store at start and sent again: each delivery still went out once.
    REQUIRE(seen.size() == jobs.size());
    for (const auto& s : seen) {
      const auto& r = s.request;
      auto id = scripted_receiver::header(r, "webhook-id");
      auto ts = scripted_receiver::header(r, "webhook-timestamp");
      CHECK(r.url == w.callback_url);
      CHECK(scripted_receiver::header(r, "content-type") == "application/json");
      CHECK(scripted_receiver::header(r, "x-tenant") == "acme");
      CHECK(rig.receiver->count_for(id) == 1);
      CHECK(verify_webhook_signature(test_secret, id, ts, r.body,
                                     scripted_receiver::header(r, "webhook-signature"),
                                     s.at_ms / 1000)
                .ok());
      auto attempts = rig.db.store().list_attempts("c1", id);
      REQUIRE(attempts.ok());
      REQUIRE(attempts->size() == 1);
      CHECK(attempts->at(0).status_code == 200);
      CHECK(attempts->at(0).attempt_no == 1);
    }
    auto st = state_of(self, e);
    CHECK(st.succeeded == jobs.size());
    CHECK(st.received == jobs.size());
    CHECK(st.in_flight == 0);
    CHECK(st.circuit == "closed");
  }
}

TEST_CASE("endpoint: 500, 500, 200 is three attempts with one webhook-id, then success", "[unit]") {
  endpoint_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_retry");
  auto jobs = add_test_events(rig.db.store(), {w}, 1, "retry");
  auto counts = std::make_shared<std::map<std::string, int>>();
  rig.receiver->set_answer([counts](const http_request& r) {
    int n = ++(*counts)[scripted_receiver::header(r, "webhook-id")];
    return status_response(n < 3 ? 500 : 200);
  });
  rig.start(w);
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), jobs, delivery_status::succeeded); }));
  auto seen = rig.receiver->snapshot();
  REQUIRE(seen.size() == 3);
  for (const auto& s : seen)
    CHECK(scripted_receiver::header(s.request, "webhook-id") == jobs[0].row.id);
  // Retries waited for the schedule (50 ms each).
  CHECK(seen[1].at_ms - seen[0].at_ms >= 50);
  CHECK(seen[2].at_ms - seen[1].at_ms >= 50);
  auto attempts = rig.db.store().list_attempts("c1", jobs[0].row.id);
  REQUIRE(attempts.ok());
  REQUIRE(attempts->size() == 3);
  CHECK(attempts->at(0).status_code == 500);
  CHECK(attempts->at(1).status_code == 500);
  CHECK(attempts->at(2).status_code == 200);
  auto d = rig.db.store().get_delivery("c1", jobs[0].row.id);
  REQUIRE(d.ok());
  CHECK(d->attempts == 3);
}

TEST_CASE("endpoint: a 400 goes to the DLQ after one attempt and the DLQ actor counts it",
          "[unit]") {
  endpoint_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_400");
  auto jobs = add_test_events(rig.db.store(), {w}, 2, "c400");
  rig.receiver->set_answer([](const http_request&) { return status_response(400); });
  rig.start(w);
  REQUIRE(
      wait_until([&] { return all_have_status(rig.db.store(), jobs, delivery_status::failed); }));
  CHECK(rig.receiver->snapshot().size() == 2);
  auto dlq = rig.db.store().list_dlq("c1", dlq_filter{}, page_request{});
  REQUIRE(dlq.ok());
  REQUIRE(dlq->items.size() == 2);
  CHECK(dlq->items[0].reason == "client error HTTP 400");
  caf::scoped_actor self{*rig.sys};
  REQUIRE(wait_until([&] {
    std::vector<dlq_counter> counters;
    self->request(rig.dlq, std::chrono::seconds(5), state_atom::value)
        .receive([&](std::vector<dlq_counter>& c) { counters = std::move(c); }, [](caf::error&) {});
    return counters.size() == 1 && counters[0].total == 2 && counters[0].in_window == 2 &&
           counters[0].webhook_id == w.id;
  }));
}

TEST_CASE("endpoint: 410 Gone disables the webhook through the manager; the rest waits", "[unit]") {
  endpoint_rig rig;
  rig.manager = spawn_manager(*rig.sys, manager_deps{rig.db.get(), &rig.clock, nullptr, {}});
  auto w = add_test_webhook(rig.db.store(), "wh_gone");
  w.ordered = true;  // one at a time, so the first answer decides before the others start
  REQUIRE(rig.db.store().update_webhook(w).ok());
  auto jobs = add_test_events(rig.db.store(), {w}, 3, "gone");
  rig.receiver->set_answer([](const http_request&) { return status_response(410); });
  auto e = rig.start(w);
  REQUIRE(wait_until([&] {
    auto stored = rig.db.store().get_webhook("c1", w.id);
    return stored.ok() && stored->status == "disabled";
  }));
  auto stored = rig.db.store().get_webhook("c1", w.id);
  CHECK(stored->disabled_reason.find("410") != std::string::npos);
  REQUIRE(wait_until(
      [&] { return status_of(rig.db.store(), jobs[0].row.id) == delivery_status::failed; }));
  caf::scoped_actor self{*rig.sys};
  REQUIRE(wait_until([&] { return state_of(self, e).recording == 0; }));
  CHECK(state_of(self, e).status == "disabled");
  CHECK(rig.receiver->snapshot().size() == 1);
  CHECK(status_of(rig.db.store(), jobs[1].row.id) == delivery_status::pending);
  CHECK(status_of(rig.db.store(), jobs[2].row.id) == delivery_status::pending);
}

TEST_CASE("endpoint: pending deliveries in the store are loaded at start, retries at their time",
          "[unit]") {
  endpoint_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_load");
  auto now = rig.clock.now_ms();
  auto due_now = add_test_events(rig.db.store(), {w}, 4, "now");
  auto later = add_test_events(rig.db.store(), {w}, 1, "later", now + 300);
  rig.start(w);  // no deliver message at all
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), due_now, delivery_status::succeeded); }));
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), later, delivery_status::succeeded); }));
  for (const auto& s : rig.receiver->snapshot())
    if (scripted_receiver::header(s.request, "webhook-id") == later[0].row.id)
      CHECK(s.at_ms >= now + 300);
  CHECK(rig.receiver->snapshot().size() == 5);
}

TEST_CASE("endpoint holds at most max_queued jobs and reloads the rest from the store", "[unit]") {
  endpoint_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_many");
  auto jobs = add_test_events(rig.db.store(), {w}, 60, "many");
  endpoint_settings settings;
  settings.max_queued = 8;
  settings.max_in_flight = 2;
  auto e = rig.start(w, settings);
  caf::scoped_actor self{*rig.sys};
  self->send(e, deliver_atom::value, jobs);  // mostly overflow: they stay in the store
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), jobs, delivery_status::succeeded); }));
  for (const auto& j : jobs) CHECK(rig.receiver->count_for(j.row.id) == 1);
  auto st = state_of(self, e);
  CHECK(st.received == jobs.size());
  CHECK(st.succeeded == jobs.size());
}

TEST_CASE("endpoint drain waits for in-flight attempts and their records, then starts nothing",
          "[unit]") {
  endpoint_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_drain");
  auto jobs = add_test_events(rig.db.store(), {w}, 2, "drain");
  rig.receiver->set_hold(true);
  endpoint_settings settings;
  settings.max_in_flight = 1;
  auto e = rig.start(w, settings);
  REQUIRE(rig.receiver->wait_for(1));
  caf::scoped_actor self{*rig.sys};
  // Not drained while the attempt is out.
  bool drained_early = false;
  self->request(e, std::chrono::milliseconds(100), drain_atom::value)
      .receive([&](caf::ok_atom) { drained_early = true; }, [](caf::error&) {});
  CHECK_FALSE(drained_early);
  rig.receiver->set_hold(false);
  caf::anon_send(caf::actor_cast<caf::actor>(rig.http), release_atom::value);
  bool drained = false;
  self->request(e, std::chrono::seconds(10), drain_atom::value)
      .receive([&](caf::ok_atom) { drained = true; },
               [&](caf::error& err) { FAIL("drain: " << caf::to_string(err)); });
  REQUIRE(drained);
  // The in-flight attempt is recorded; the other delivery was never started.
  int succeeded = 0;
  for (const auto& j : jobs)
    if (status_of(rig.db.store(), j.row.id) == delivery_status::succeeded) ++succeeded;
  CHECK(succeeded == 1);
  CHECK(rig.receiver->snapshot().size() == 1);
  auto st = state_of(self, e);
  CHECK(st.draining);
  CHECK(st.in_flight == 0);
}

TEST_CASE("endpoint starts no attempt while the store writer is behind, and goes on given room",
          "[unit]") {
  endpoint_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_held");
  auto other = add_test_webhook(rig.db.store(), "wh_other");
  auto jobs = add_test_events(rig.db.store(), {w}, 3, "held");
  auto other_job = add_test_events(rig.db.store(), {other}, 1, "other").at(0);
  // Four outcomes of other endpoints are outstanding: the backlog (limit 4) is full.
  for (int i = 0; i < 4; ++i) rig.backlog->sent();
  caf::scoped_actor self{*rig.sys};
  auto e = rig.start(w);
  REQUIRE(wait_until([&] { return state_of(self, e).queued_standard == jobs.size(); }));
  CHECK_FALSE(rig.receiver->wait_for(1, std::chrono::milliseconds(100)));

  // Three of them are answered elsewhere; when the writer answers the fourth (a real one), at
  // most half the limit is outstanding and the waiting endpoint gets room.
  rig.backlog->answered(3);
  attempt_outcome done;
  done.att.delivery_id = other_job.row.id;
  done.att.attempt_no = 1;
  done.att.started_at = rig.clock.now_ms();
  done.att.status_code = 200;
  done.new_status = delivery_status::succeeded;
  self->request(rig.writer, std::chrono::seconds(10), record_atom::value, done)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), jobs, delivery_status::succeeded); }));
  CHECK(rig.receiver->snapshot().size() == jobs.size());
  // The writer counts an outcome out just after its commit, which the statuses above show.
  CHECK(wait_until([&] { return rig.backlog->outstanding() == 0; }));
}
