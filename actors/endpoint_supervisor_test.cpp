// The endpoint supervisor with the whole delivery half of the engine (SQLite store, store
// writer, loader, DLQ actor, endpoint actors) and a scripted HTTP receiver: recovery, the idle
// handshake, restart with reload, config changes, DLQ replay and drain.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "actors/endpoint_supervisor.hpp"
#include "actors/endpoint_test_support.hpp"

using namespace webhookd;
using namespace webhookd::test;

namespace {

struct engine_rig {
  temp_store db;
  system_clock_source clock;
  std::unique_ptr<caf::actor_system_config> cfg = make_actor_config();
  std::unique_ptr<caf::actor_system> sys = std::make_unique<caf::actor_system>(*cfg);
  std::shared_ptr<scripted_receiver> receiver = std::make_shared<scripted_receiver>();
  http_client_actor http = spawn_scripted_http(*sys, receiver);
  store_writer_actor writer = spawn_store_writer(*sys, store_writer_deps{db.get(), nullptr, {}});
  loader_actor loader = spawn_loader(*sys, loader_deps{db.get(), &clock, nullptr, 2, nullptr});
  dlq_actor dlq = spawn_dlq(*sys, dlq_deps{loader, &clock, nullptr, {}});
  endpoint_supervisor_actor supervisor;

  ~engine_rig() {
    if (supervisor) caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dlq, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(http, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  void start(std::vector<webhook> webhooks, supervisor_settings settings = {}) {
    supervisor_deps d;
    d.webhooks = std::move(webhooks);
    d.http = http;
    d.writer = writer;
    d.loader = loader;
    d.dlq = dlq;
    d.clock = &clock;
    d.settings = std::move(settings);
    d.seed = 11;
    supervisor = spawn_endpoint_supervisor(*sys, std::move(d));
  }

  supervisor_state state() {
    caf::scoped_actor self{*sys};
    supervisor_state out;
    self->request(supervisor, std::chrono::seconds(5), state_atom::value)
        .receive([&](supervisor_state& s) { out = std::move(s); },
                 [&](caf::error& err) { FAIL("state: " << caf::to_string(err)); });
    return out;
  }
};

}  // namespace

TEST_CASE("supervisor recovery starts actors for active webhooks with pending deliveries",
          "[unit]") {
  engine_rig rig;
  auto a = add_test_webhook(rig.db.store(), "wh_a");
  auto b = add_test_webhook(rig.db.store(), "wh_b");
  auto paused = add_test_webhook(rig.db.store(), "wh_paused");
  auto idle = add_test_webhook(rig.db.store(), "wh_idle");
  paused.status = "paused";
  REQUIRE(rig.db.store().update_webhook(paused).ok());
  // In flight at a "crash": pending in the store, one of them with a retry due a bit later.
  auto ja = add_test_events(rig.db.store(), {a}, 5, "ra");
  auto jb = add_test_events(rig.db.store(), {b}, 3, "rb", rig.clock.now_ms() + 200);
  auto jp = add_test_events(rig.db.store(), {paused}, 2, "rp");

  supervisor_settings settings;
  settings.partitions = {};  // recovery on request below
  rig.start({a, b, paused, idle}, settings);
  caf::scoped_actor self{*rig.sys};
  uint64_t started = 0;
  self->request(rig.supervisor, std::chrono::seconds(10), recover_atom::value,
                supervisor_settings::all_partitions())
      .receive([&](uint64_t n) { started = n; },
               [&](caf::error& err) { FAIL("recover: " << caf::to_string(err)); });
  CHECK(started == 2);
  REQUIRE(wait_until([&] {
    return all_have_status(rig.db.store(), ja, delivery_status::succeeded) &&
           all_have_status(rig.db.store(), jb, delivery_status::succeeded);
  }));
  for (const auto& s : rig.receiver->snapshot())
    if (s.request.url == b.callback_url) CHECK(s.at_ms >= jb[0].row.next_attempt_at);
  CHECK(all_have_status(rig.db.store(), jp, delivery_status::pending));
  CHECK(rig.receiver->snapshot().size() == ja.size() + jb.size());
  auto st = rig.state();
  CHECK(st.webhooks == 3);
  CHECK(st.restarts == 0);
}

TEST_CASE("supervisor takes its webhooks from the manager's snapshot", "[unit]") {
  engine_rig rig;
  auto a = add_test_webhook(rig.db.store(), "wh_snap_a");
  auto b = add_test_webhook(rig.db.store(), "wh_snap_b");
  auto paused = add_test_webhook(rig.db.store(), "wh_snap_paused");
  paused.status = "paused";
  REQUIRE(rig.db.store().update_webhook(paused).ok());
  auto jb = add_test_events(rig.db.store(), {b}, 2, "snapb");  // pending before the start
  manager_deps m;
  m.store = rig.db.get();
  m.clock = &rig.clock;
  manager_actor manager = spawn_manager(*rig.sys, m);
  struct stop_at_exit {
    manager_actor& handle;
    ~stop_at_exit() { caf::anon_send_exit(handle, caf::exit_reason::user_shutdown); }
  } stop_manager{manager};

  supervisor_settings settings;
  settings.partitions = {};  // recovery on request below, after the subscription
  rig.start({}, settings);
  caf::scoped_actor self{*rig.sys};
  self->request(rig.supervisor, std::chrono::seconds(10), subscribe_atom::value, manager)
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) { FAIL("subscribe: " << caf::to_string(err)); });
  // It knows every webhook of the snapshot and started no actor for them.
  auto st = rig.state();
  CHECK(st.webhooks == 2);
  CHECK(st.live == 0);

  // Deliveries of a snapshot webhook are delivered; a paused one's stay in the store.
  auto ja = add_test_events(rig.db.store(), {a}, 3, "snapa");
  auto jp = add_test_events(rig.db.store(), {paused}, 1, "snapp");
  self->send(rig.supervisor, deliver_atom::value, ja);
  self->send(rig.supervisor, deliver_atom::value, jp);
  REQUIRE(
      wait_until([&] { return all_have_status(rig.db.store(), ja, delivery_status::succeeded); }));
  // Recovery starts the actor of the webhook whose deliveries were pending before.
  uint64_t started = 0;
  self->request(rig.supervisor, std::chrono::seconds(10), recover_atom::value,
                supervisor_settings::all_partitions())
      .receive([&](uint64_t n) { started = n; },
               [&](caf::error& err) { FAIL("recover: " << caf::to_string(err)); });
  CHECK(started == 1);
  REQUIRE(
      wait_until([&] { return all_have_status(rig.db.store(), jb, delivery_status::succeeded); }));
  CHECK(all_have_status(rig.db.store(), jp, delivery_status::pending));

  // The manager's changes reach it: a paused webhook made active gets an actor, which loads.
  webhook_patch patch{paused.client_id, paused.id, {}, {"status"}};
  patch.values.status = "active";
  self->request(manager, std::chrono::seconds(10), caf::update_atom::value, patch)
      .receive([](const webhook&) {},
               [&](caf::error& err) { FAIL("update: " << caf::to_string(err)); });
  REQUIRE(
      wait_until([&] { return all_have_status(rig.db.store(), jp, delivery_status::succeeded); }));
  CHECK(rig.state().webhooks == 3);
}

TEST_CASE("supervisor recovers at start by itself", "[unit]") {
  engine_rig rig;
  auto a = add_test_webhook(rig.db.store(), "wh_self");
  auto ja = add_test_events(rig.db.store(), {a}, 4, "self");
  rig.start({a});
  REQUIRE(
      wait_until([&] { return all_have_status(rig.db.store(), ja, delivery_status::succeeded); }));
}

TEST_CASE("supervisor: a webhook recovery found nothing for starts without a store read",
          "[unit]") {
  engine_rig rig;
  auto fresh = add_test_webhook(rig.db.store(), "wh_fresh");
  auto found = add_test_webhook(rig.db.store(), "wh_found");
  auto backlog = add_test_events(rig.db.store(), {found}, 2, "found");
  supervisor_settings settings;
  settings.partitions = {};
  settings.endpoint.idle_timeout = std::chrono::milliseconds(50);
  rig.start({fresh, found}, settings);
  caf::scoped_actor self{*rig.sys};
  self->request(rig.supervisor, std::chrono::seconds(10), recover_atom::value,
                supervisor_settings::all_partitions())
      .receive([](uint64_t n) { CHECK(n == 1); },
               [&](caf::error& err) { FAIL("recover: " << caf::to_string(err)); });
  // Rows nobody hands in: only a store read would find them.
  auto unseen = add_test_events(rig.db.store(), {fresh}, 2, "unseen");
  auto handed = add_test_events(rig.db.store(), {fresh, found}, 1, "handed");
  self->send(rig.supervisor, deliver_atom::value, handed);
  REQUIRE(wait_until([&] {
    return all_have_status(rig.db.store(), handed, delivery_status::succeeded) &&
           all_have_status(rig.db.store(), backlog, delivery_status::succeeded);
  }));
  // wh_found's endpoint loaded what recovery found; wh_fresh's took only what it was handed.
  for (const auto& job : unseen) CHECK(rig.receiver->count_for(job.row.id) == 0);
  CHECK(all_have_status(rig.db.store(), unseen, delivery_status::pending));
  // Once an endpoint of wh_fresh has lived, the next one loads: it may have left work behind.
  REQUIRE(wait_until([&] { return rig.state().live == 0; }));
  auto later = add_test_events(rig.db.store(), {fresh}, 1, "later");
  self->send(rig.supervisor, deliver_atom::value, later);
  REQUIRE(wait_until([&] {
    return all_have_status(rig.db.store(), later, delivery_status::succeeded) &&
           all_have_status(rig.db.store(), unseen, delivery_status::succeeded);
  }));
}

TEST_CASE("supervisor idle handshake: idle actors stop, no job is lost in a mailbox", "[unit]") {
  engine_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_handshake");
  supervisor_settings settings;
  settings.endpoint.idle_timeout = std::chrono::milliseconds(1);
  rig.start({w}, settings);
  caf::scoped_actor self{*rig.sys};
  std::vector<delivery_job> all;
  // Rounds of work separated by idleness: each round's jobs race the actor's idle report.
  for (int round = 0; round < 60; ++round) {
    auto jobs = add_test_events(rig.db.store(), {w}, 1 + round % 3, "hs" + std::to_string(round));
    self->send(rig.supervisor, deliver_atom::value, jobs);
    all.insert(all.end(), jobs.begin(), jobs.end());
    if (round % 2 == 0)
      REQUIRE(wait_until(
          [&] { return all_have_status(rig.db.store(), jobs, delivery_status::succeeded); }));
    // Twice, let the actor go idle and stop before the next round: the count below does not
    // depend on how fast the other rounds ran.
    if (round == 20 || round == 40) REQUIRE(wait_until([&] { return rig.state().live == 0; }));
  }
  REQUIRE(
      wait_until([&] { return all_have_status(rig.db.store(), all, delivery_status::succeeded); }));
  for (const auto& j : all) CHECK(rig.receiver->count_for(j.row.id) >= 1);
  REQUIRE(wait_until([&] { return rig.state().live == 0; }));
  auto st = rig.state();
  CHECK(st.idle_stops >= 2);
  CHECK(st.restarts == 0);
  CHECK(st.jobs_forwarded == all.size());
}

TEST_CASE("supervisor restarts a failed endpoint actor, which reloads and delivers", "[unit]") {
  engine_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_crash");
  rig.receiver->set_hold(true);
  rig.start({w});
  auto jobs = add_test_events(rig.db.store(), {w}, 5, "crash");
  caf::scoped_actor self{*rig.sys};
  self->send(rig.supervisor, deliver_atom::value, jobs);
  REQUIRE(rig.receiver->wait_for(jobs.size()));
  auto first = rig.receiver->snapshot();
  caf::actor_addr victim = first.front().from;
  for (const auto& s : first) CHECK(s.from == victim);
  // The actor dies with its attempts in flight and nothing recorded.
  rig.receiver->set_hold(false);
  caf::anon_send_exit(victim, caf::exit_reason::kill);
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), jobs, delivery_status::succeeded); }));
  std::set<caf::actor_addr> senders;
  for (const auto& s : rig.receiver->snapshot()) senders.insert(s.from);
  CHECK(senders.size() == 2);
  for (const auto& j : jobs) CHECK(rig.receiver->count_for(j.row.id) == 2);  // at least once
  auto st = rig.state();
  CHECK(st.restarts == 1);
  REQUIRE(st.endpoints.size() == 1);
  CHECK(st.endpoints[0].restarts == 1);
  CHECK(st.endpoints[0].webhook_id == w.id);
}

namespace {

/// What the DLQ and the supervisor told their observer (the alerts actor in the app).
struct observed_events {
  std::mutex mutex;
  std::vector<dlq_counter> parked;
  std::vector<endpoint_restart> restarts;

  template <class T>
  std::vector<T> copy(const std::vector<T>& v) {
    std::lock_guard<std::mutex> lock(mutex);
    return v;
  }
};

using engine_observer_actor = caf::typed_actor<caf::reacts_to<parked_atom, dlq_counter>,
                                               caf::reacts_to<restarted_atom, endpoint_restart>>;

engine_observer_actor::behavior_type engine_observer(engine_observer_actor::pointer,
                                                     std::shared_ptr<observed_events> seen) {
  return {
      [seen](parked_atom, const dlq_counter& c) {
        std::lock_guard<std::mutex> lock(seen->mutex);
        seen->parked.push_back(c);
      },
      [seen](restarted_atom, const endpoint_restart& r) {
        std::lock_guard<std::mutex> lock(seen->mutex);
        seen->restarts.push_back(r);
      },
  };
}

}  // namespace

TEST_CASE("the DLQ and the supervisor tell their observer of new entries and restarts", "[unit]") {
  engine_rig rig;
  auto seen = std::make_shared<observed_events>();
  auto observer = rig.sys->spawn(engine_observer, seen);
  auto w = add_test_webhook(rig.db.store(), "wh_observed");
  rig.receiver->set_answer([](const http_request&) { return status_response(422); });
  rig.start({w});
  caf::anon_send(rig.dlq, subscribe_atom::value, caf::actor_cast<dlq_observer_actor>(observer));
  caf::anon_send(rig.supervisor, subscribe_atom::value,
                 caf::actor_cast<restart_observer_actor>(observer));

  // Three deliveries straight to the DLQ: three counts, growing.
  auto jobs = add_test_events(rig.db.store(), {w}, 3, "observed");
  caf::anon_send(rig.supervisor, deliver_atom::value, jobs);
  REQUIRE(wait_until([&] { return seen->copy(seen->parked).size() == 3; }));
  auto parked = seen->copy(seen->parked);
  for (std::size_t i = 0; i < parked.size(); ++i) {
    CHECK(parked[i].webhook_id == w.id);
    CHECK(parked[i].client_id == "c1");
    CHECK(parked[i].in_window == i + 1);
    CHECK(parked[i].total == i + 1);
    CHECK_FALSE(parked[i].last_reason.empty());
  }

  // The endpoint actor dies: the restart is counted and reported with its webhook and client.
  rig.receiver->set_hold(true);
  auto more = add_test_events(rig.db.store(), {w}, 1, "observed-more");
  caf::anon_send(rig.supervisor, deliver_atom::value, more);
  REQUIRE(rig.receiver->wait_for(4));
  caf::actor_addr victim = rig.receiver->snapshot().back().from;
  rig.receiver->set_hold(false);
  caf::anon_send_exit(victim, caf::exit_reason::kill);
  REQUIRE(wait_until([&] { return seen->copy(seen->restarts).size() == 1; }));
  auto restart = seen->copy(seen->restarts).at(0);
  CHECK(restart.webhook_id == w.id);
  CHECK(restart.client_id == "c1");
  CHECK(restart.count == 1);
  CHECK(restart.at > 0);
  CHECK_THAT(restart.reason, Catch::Contains("kill"));
  CHECK(rig.state().restarts == 1);
  caf::anon_send_exit(observer, caf::exit_reason::user_shutdown);
}

TEST_CASE("supervisor applies config changes and removals", "[unit]") {
  engine_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_cfg");
  auto paused = w;
  paused.status = "paused";
  REQUIRE(rig.db.store().update_webhook(paused).ok());
  rig.start({paused});
  caf::scoped_actor self{*rig.sys};

  // Jobs of a paused webhook stay in the store ...
  auto jobs = add_test_events(rig.db.store(), {w}, 3, "cfg");
  self->send(rig.supervisor, deliver_atom::value, jobs);
  REQUIRE(wait_until([&] { return rig.state().jobs_left_in_store == jobs.size(); }));
  CHECK(rig.state().live == 0);
  CHECK(rig.receiver->snapshot().empty());

  // ... until it is active again: an actor starts and loads them.
  auto active = w;
  active.status = "active";
  active.headers = R"({"x-version": "2"})";
  REQUIRE(rig.db.store().update_webhook(active).ok());
  self->request(rig.supervisor, std::chrono::seconds(5), changed_atom::value, active)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), jobs, delivery_status::succeeded); }));
  for (const auto& s : rig.receiver->snapshot())
    CHECK(scripted_receiver::header(s.request, "x-version") == "2");

  // A live actor takes new versions.
  auto v3 = active;
  v3.headers = R"({"x-version": "3"})";
  self->request(rig.supervisor, std::chrono::seconds(5), changed_atom::value, v3)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });
  auto more = add_test_events(rig.db.store(), {w}, 1, "cfg3");
  self->send(rig.supervisor, deliver_atom::value, more);
  REQUIRE(wait_until(
      [&] { return all_have_status(rig.db.store(), more, delivery_status::succeeded); }));
  auto seen = rig.receiver->snapshot();
  CHECK(scripted_receiver::header(seen.back().request, "x-version") == "3");

  // Source changes (the manager tells every subscriber) are acknowledged and change nothing.
  source src;
  src.id = "src_1";
  src.name = "billing";
  self->request(rig.supervisor, std::chrono::seconds(5), changed_atom::value, src)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });
  self->request(rig.supervisor, std::chrono::seconds(5), removed_atom::value, source_atom::value,
                src.id)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });

  // Removal stops the actor; later jobs for it go nowhere.
  REQUIRE(rig.state().live == 1);
  REQUIRE(rig.db.store().delete_webhook("c1", w.id).ok());
  self->request(rig.supervisor, std::chrono::seconds(5), removed_atom::value, std::string("c1"),
                w.id)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(rig.state().live == 0);
}

TEST_CASE("DLQ replay hands the replayed deliveries to the supervisor, which delivers them",
          "[unit]") {
  engine_rig rig;
  auto w = add_test_webhook(rig.db.store(), "wh_replay");
  rig.receiver->set_answer([](const http_request&) { return status_response(422); });
  rig.start({w});
  auto jobs = add_test_events(rig.db.store(), {w}, 3, "replay");
  caf::scoped_actor self{*rig.sys};
  self->send(rig.supervisor, deliver_atom::value, jobs);
  REQUIRE(
      wait_until([&] { return all_have_status(rig.db.store(), jobs, delivery_status::failed); }));

  rig.receiver->set_answer([](const http_request&) { return status_response(200); });
  std::vector<std::string> ids{jobs[0].row.id, jobs[2].row.id, "msg_unknown"};
  std::vector<delivery> replayed;
  self->request(rig.dlq, std::chrono::seconds(10), replay_atom::value, std::string("c1"), ids)
      .receive([&](std::vector<delivery>& rows) { replayed = std::move(rows); },
               [&](caf::error& err) { FAIL("replay: " << caf::to_string(err)); });
  REQUIRE(replayed.size() == 2);
  CHECK(replayed[0].id == jobs[0].row.id);
  CHECK(replayed[1].id == jobs[2].row.id);
  REQUIRE(wait_until([&] {
    return all_have_status(rig.db.store(), {jobs[0], jobs[2]}, delivery_status::succeeded);
  }));
  CHECK(status_of(rig.db.store(), jobs[1].row.id) == delivery_status::failed);
  // Replaying again finds nothing to replay.
  self->request(rig.dlq, std::chrono::seconds(10), replay_atom::value, std::string("c1"), ids)
      .receive([&](std::vector<delivery>& rows) { CHECK(rows.empty()); },
               [&](caf::error& err) { FAIL("replay: " << caf::to_string(err)); });
}

TEST_CASE("supervisor drain waits for in-flight attempts of every endpoint", "[unit]") {
  engine_rig rig;
  auto a = add_test_webhook(rig.db.store(), "wh_da");
  auto b = add_test_webhook(rig.db.store(), "wh_db");
  rig.receiver->set_hold(true);
  rig.start({a, b});
  auto jobs = add_test_events(rig.db.store(), {a, b}, 2, "drain");
  caf::scoped_actor self{*rig.sys};
  self->send(rig.supervisor, deliver_atom::value, jobs);
  REQUIRE(rig.receiver->wait_for(jobs.size()));
  bool early = false;
  self->request(rig.supervisor, std::chrono::milliseconds(100), drain_atom::value)
      .receive([&](caf::ok_atom) { early = true; }, [](caf::error&) {});
  CHECK_FALSE(early);
  rig.receiver->set_hold(false);
  caf::anon_send(caf::actor_cast<caf::actor>(rig.http), release_atom::value);
  bool drained = false;
  self->request(rig.supervisor, std::chrono::seconds(10), drain_atom::value)
      .receive([&](caf::ok_atom) { drained = true; },
               [&](caf::error& err) { FAIL("drain: " << caf::to_string(err)); });
  REQUIRE(drained);
  CHECK(all_have_status(rig.db.store(), jobs, delivery_status::succeeded));
  // Nothing new starts after a drain; the jobs stay in the store.
  auto late = add_test_events(rig.db.store(), {a}, 1, "late");
  self->send(rig.supervisor, deliver_atom::value, late);
  REQUIRE(wait_until([&] { return rig.state().jobs_left_in_store == late.size(); }));
  CHECK(rig.state().draining);
  CHECK(status_of(rig.db.store(), late[0].row.id) == delivery_status::pending);
}
