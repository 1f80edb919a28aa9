#include "actors/ingest.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actors/committer.hpp"
#include "actors/router.hpp"
#include "storage/store.hpp"

using namespace webhookd;

namespace {

constexpr std::chrono::seconds deadline{10};

using release_atom = caf::atom_constant<caf::atom("release")>;
using held_atom = caf::atom_constant<caf::atom("held")>;
using batches_atom = caf::atom_constant<caf::atom("batches")>;

// A fresh SQLite store in its own temporary directory, removed afterwards.
struct temp_store {
  temp_store() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() /
          ("webhookd-ingest-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    auto opened = storage::open_store_blocking({"sqlite:" + (dir / "store.db").string()});
    REQUIRE(opened);
    store = std::move(opened.value());
  }
  ~temp_store() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  bool has_event(const std::string& client, const std::string& id) {
    return store->get_event(client, id).ok();
  }
  std::filesystem::path dir;
  std::unique_ptr<storage::blocking_store> store;
};

// A committer that holds every batch until told to release it, then appends it to a real store
// (or fails it, when `fail` is set). Records the size of every batch it got. Detached, since it
// calls the blocking store.
struct holding_committer_state {
  storage::blocking_store* store = nullptr;
  bool fail = false;
  std::deque<std::pair<caf::response_promise, std::vector<new_event>>> held;
  std::vector<int64_t> batch_sizes;
};

caf::behavior holding_committer(caf::stateful_actor<holding_committer_state>* self,
                                storage::blocking_store* store, bool fail) {
  self->state.store = store;
  self->state.fail = fail;
  return {
      [self](commit_atom, std::vector<new_event>& batch) {
        self->state.batch_sizes.push_back(static_cast<int64_t>(batch.size()));
        auto rp = self->make_response_promise();
        self->state.held.emplace_back(rp, std::move(batch));
        return rp;
      },
      [self](held_atom) { return static_cast<int64_t>(self->state.held.size()); },
      [self](batches_atom) { return self->state.batch_sizes; },
      [self](release_atom) {
        auto& st = self->state;
        int64_t released = 0;
        while (!st.held.empty()) {
          auto [rp, batch] = std::move(st.held.front());
          st.held.pop_front();
          if (st.fail) {
            rp.deliver(make_commit_error({storage::errc::unavailable, "disk on fire"}));
          } else {
            auto appended = st.store->append_events(batch);
            if (appended) {
              rp.deliver(appended.value());
            } else {
              rp.deliver(make_commit_error(appended.err()));
            }
          }
          ++released;
        }
        return released;
      },
  };
}

// Collects what ingest hands to the endpoint supervisor.
struct collecting_supervisor_state {
  std::vector<delivery_job> jobs;
};

caf::behavior collecting_supervisor(caf::stateful_actor<collecting_supervisor_state>* self) {
  return {
      [self](deliver_atom, std::vector<delivery_job>& jobs) {
        for (auto& job : jobs) self->state.jobs.push_back(std::move(job));
      },
      [self](caf::get_atom) { return self->state.jobs; },
  };
}

webhook make_webhook(std::string id, std::string client) {
  webhook w;
  w.id = std::move(id);
  w.client_id = std::move(client);
  w.callback_url = "https://example.com/hook";
  w.event_types = {"*"};
  return w;
}

event make_event(std::string id, std::string client = "acme") {
  event ev;
  ev.client_id = std::move(client);
  ev.event_id = std::move(id);
  ev.event_type = "invoice.paid";
  ev.timestamp = 1'700'000'000'000;
  ev.payload = R"({"amount":1})";
  ev.source_id = "src_1";
  ev.received_at = 1'700'000'000'000;
  return ev;
}

std::vector<event> make_events(const std::string& prefix, int count) {
  std::vector<event> out;
  for (int i = 0; i < count; ++i) out.push_back(make_event(prefix + std::to_string(i)));
  return out;
}

// The actor system, a real SQLite store, a real router with two webhooks of client "acme",
// and a supervisor that collects jobs. The committer and ingest are made per test.
struct ingest_fixture {
  ingest_fixture() : sys(configured(config)) {
    router_deps deps;
    deps.clock = &clock;
    deps.webhooks = {make_webhook("wh_1", "acme"), make_webhook("wh_2", "acme")};
    router = spawn_router(sys, std::move(deps));
    supervisor = sys.spawn(collecting_supervisor);
  }
  ~ingest_fixture() {
    for (const auto& a : stop_list) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
  }

  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  // Spawns ingest with `committer`.
  void start(committer_actor committer, std::size_t max_buffered = 20'000,
             bool with_supervisor = true) {
    stop_list.push_back(caf::actor_cast<caf::actor>(committer));
    ingest_deps deps;
    deps.router = router;
    deps.committer = std::move(committer);
    if (with_supervisor) deps.supervisor = supervisor;
    deps.settings.max_buffered_events = max_buffered;
    ingest = spawn_ingest(sys, std::move(deps));
    stop_list.push_back(caf::actor_cast<caf::actor>(ingest));
  }

  // Spawns ingest with a holding committer; returns the committer's untyped handle.
  caf::actor start_holding(bool fail = false, std::size_t max_buffered = 20'000) {
    auto fake = sys.spawn<caf::detached>(holding_committer, store.store.get(), fail);
    start(caf::actor_cast<committer_actor>(fake), max_buffered);
    return fake;
  }

  template <class R, class Handle, class... Ts>
  R ask(const Handle& dest, Ts&&... xs) {
    caf::scoped_actor self{sys, true};
    R out{};
    std::string failure;
    bool answered = false;
    self->request(dest, deadline, std::forward<Ts>(xs)...)
        .receive(
            [&](R& reply) {
              out = std::move(reply);
              answered = true;
            },
            [&](caf::error& err) { failure = sys.render(err); });
    INFO(failure);
    REQUIRE(answered);
    return out;
  }

  ingest_stats stats() { return ask<ingest_stats>(ingest, state_atom::value); }
  std::vector<delivery_job> jobs() {
    return ask<std::vector<delivery_job>>(supervisor, caf::get_atom::value);
  }

  // Polls `condition` until it holds; fails the test after the deadline.
  void wait_until(const std::function<bool()>& condition, const char* what) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (!condition()) {
      INFO("waiting for: " << what);
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  caf::actor_system_config config;
  manual_clock clock;
  caf::actor_system sys;
  temp_store store;
  router_actor router;
  caf::actor supervisor;
  ingest_actor ingest;
  std::vector<caf::actor> stop_list;
};

// The reply to one ingest request: an ack or the ingest failure.
struct reply {
  bool ok = false;
  ingest_ack ack;
  std::optional<ingest_failure> failure;
  std::string error_text;
};

template <class Handle>
reply await_reply(caf::actor_system& sys, Handle& handle) {
  reply out;
  handle.receive(
      [&](ingest_ack& ack) {
        out.ok = true;
        out.ack = ack;
      },
      [&](caf::error& err) {
        out.failure = ingest_failure_of(err);
        out.error_text = sys.render(err);
      });
  return out;
}

}  // namespace

TEST_CASE("ingest: requests that arrive during a commit share the next one", "[unit]") {
  ingest_fixture f;
  caf::actor committer = f.start_holding();
  const int n = 20;
  caf::scoped_actor self{f.sys, true};

  // The first request goes to the idle committer alone.
  auto first = self->request(f.ingest, deadline, ingest_atom::value, make_events("a", 1));
  f.wait_until([&] { return f.ask<int64_t>(committer, held_atom::value) == 1; },
               "the first commit");
  // The others arrive while it runs and wait in the buffer.
  std::vector<decltype(first)> rest;
  for (int i = 1; i < n; ++i) {
    rest.push_back(self->request(f.ingest, deadline, ingest_atom::value,
                                 make_events("b" + std::to_string(i) + "_", 1)));
  }
  f.wait_until([&] { return f.stats().buffered_requests == n - 1; }, "all requests buffered");
  // Nothing is answered before its commit returned.
  CHECK_FALSE(f.store.has_event("acme", "a0"));

  CHECK(f.ask<int64_t>(committer, release_atom::value) == 1);
  reply r = await_reply(f.sys, first);
  CHECK(r.ok);
  CHECK(r.ack.accepted == 1);
  CHECK(f.store.has_event("acme", "a0"));

  // The buffered requests went to the committer as ONE batch.
  f.wait_until([&] { return f.ask<int64_t>(committer, held_atom::value) == 1; },
               "the second commit");
  CHECK(f.ask<std::vector<int64_t>>(committer, batches_atom::value) ==
        std::vector<int64_t>{1, n - 1});
  CHECK(f.ask<int64_t>(committer, release_atom::value) == 1);
  for (auto& handle : rest) {
    reply each = await_reply(f.sys, handle);
    CHECK(each.ok);
    CHECK(each.ack.accepted == 1);
    CHECK(each.ack.duplicates == 0);
  }
  ingest_stats stats = f.stats();
  CHECK(stats.commits == 2);
  CHECK(stats.buffered_requests == 0);
  CHECK(stats.committing_events == 0);

  // Every event's deliveries reached the supervisor: 2 webhooks x n events, all distinct.
  f.wait_until([&] { return f.jobs().size() == 2 * n; }, "jobs at the supervisor");
  auto jobs = f.jobs();
  std::set<std::string> ids;
  for (const auto& job : jobs) ids.insert(job.row.id);
  CHECK(ids.size() == 2 * n);
  auto stored = f.store.store->list_event_deliveries("acme", "b5_0");
  REQUIRE(stored);
  CHECK(stored->size() == 2);
}

TEST_CASE("ingest reports duplicates and hands on only new deliveries", "[unit]") {
  ingest_fixture f;
  f.start(spawn_committer(f.sys, f.store.store.get(), nullptr));

  auto first = f.ask<ingest_ack>(f.ingest, ingest_atom::value,
                                 std::vector<event>{make_event("e1"), make_event("e2")});
  CHECK(first.accepted == 2);
  CHECK(first.duplicates == 0);

  // e2 is stored already; e3 repeats within the request; e4 belongs to a client without webhooks.
  auto second = f.ask<ingest_ack>(f.ingest, ingest_atom::value,
                                  std::vector<event>{make_event("e2"), make_event("e3"),
                                                     make_event("e3"), make_event("e4", "nobody")});
  CHECK(second.accepted == 2);
  CHECK(second.duplicates == 2);
  CHECK(f.store.has_event("nobody", "e4"));

  // e1, e2, e3 with two webhooks each; nothing for the duplicates.
  f.wait_until([&] { return f.jobs().size() == 6; }, "six jobs");
  auto jobs = f.jobs();
  std::map<std::string, int> per_event;
  for (const auto& job : jobs) ++per_event[job.row.event_id];
  CHECK(per_event == std::map<std::string, int>{{"e1", 2}, {"e2", 2}, {"e3", 2}});
  auto e3 = f.store.store->list_event_deliveries("acme", "e3");
  REQUIRE(e3);
  CHECK(e3->size() == 2);

  // An empty request is answered at once.
  auto empty = f.ask<ingest_ack>(f.ingest, ingest_atom::value, std::vector<event>{});
  CHECK(empty.accepted == 0);
  CHECK(empty.duplicates == 0);
}

TEST_CASE("ingest answers every request of a failed commit with an error and acks nothing",
          "[unit]") {
  ingest_fixture f;
  caf::actor committer = f.start_holding(/*fail=*/true);
  caf::scoped_actor self{f.sys, true};
  auto first = self->request(f.ingest, deadline, ingest_atom::value, make_events("a", 2));
  f.wait_until([&] { return f.ask<int64_t>(committer, held_atom::value) == 1; },
               "the first commit");
  std::vector<decltype(first)> rest;
  for (int i = 0; i < 3; ++i) {
    rest.push_back(self->request(f.ingest, deadline, ingest_atom::value,
                                 make_events("b" + std::to_string(i) + "_", 2)));
  }
  f.wait_until([&] { return f.stats().buffered_requests == 3; }, "requests buffered");
  CHECK(f.ask<int64_t>(committer, release_atom::value) == 1);
  f.wait_until([&] { return f.ask<int64_t>(committer, held_atom::value) == 1; },
               "the second commit");
  CHECK(f.ask<int64_t>(committer, release_atom::value) == 1);

  reply r = await_reply(f.sys, first);
  CHECK_FALSE(r.ok);
  REQUIRE(r.failure);
  CHECK(r.failure->code == ingest_errc::unavailable);
  CHECK_THAT(r.failure->message, Catch::Matchers::Contains("disk on fire"));
  for (auto& handle : rest) {
    reply each = await_reply(f.sys, handle);
    CHECK_FALSE(each.ok);
    REQUIRE(each.failure);
    CHECK(each.failure->code == ingest_errc::unavailable);
  }
  CHECK(f.stats().failed_commits == 2);
  CHECK(f.jobs().empty());
  CHECK_FALSE(f.store.has_event("acme", "a0"));
  CHECK_FALSE(f.store.has_event("acme", "b0_0"));
}

TEST_CASE("ingest refuses at once when its buffer is full", "[unit]") {
  ingest_fixture f;
  caf::actor committer = f.start_holding(/*fail=*/false, /*max_buffered=*/5);
  caf::scoped_actor self{f.sys, true};
  auto a = self->request(f.ingest, deadline, ingest_atom::value, make_events("a", 3));
  f.wait_until([&] { return f.ask<int64_t>(committer, held_atom::value) == 1; }, "commit of a");
  auto b = self->request(f.ingest, deadline, ingest_atom::value, make_events("b", 4));
  f.wait_until([&] { return f.stats().buffered_events == 4; }, "b buffered");

  // 4 buffered + 2 > 5: refused without waiting for the commit in flight.
  auto c = self->request(f.ingest, deadline, ingest_atom::value, make_events("c", 2));
  reply rc = await_reply(f.sys, c);
  CHECK_FALSE(rc.ok);
  REQUIRE(rc.failure);
  CHECK(rc.failure->code == ingest_errc::overloaded);
  CHECK(f.stats().overloaded_requests == 1);

  // One more event still fits.
  auto d = self->request(f.ingest, deadline, ingest_atom::value, make_events("d", 1));
  f.wait_until([&] { return f.stats().buffered_events == 5; }, "d buffered");

  CHECK(f.ask<int64_t>(committer, release_atom::value) == 1);
  f.wait_until([&] { return f.ask<int64_t>(committer, held_atom::value) == 1; }, "commit of b+d");
  CHECK(f.ask<int64_t>(committer, release_atom::value) == 1);
  CHECK(await_reply(f.sys, a).ack.accepted == 3);
  CHECK(await_reply(f.sys, b).ack.accepted == 4);
  CHECK(await_reply(f.sys, d).ack.accepted == 1);
  CHECK_FALSE(f.store.has_event("acme", "c0"));
}

TEST_CASE("ingest without a supervisor commits and forwards once one is set", "[unit]") {
  ingest_fixture f;
  f.start(spawn_committer(f.sys, f.store.store.get(), nullptr), 20'000, /*with_supervisor=*/false);
  auto ack = f.ask<ingest_ack>(f.ingest, ingest_atom::value, make_events("x", 2));
  CHECK(ack.accepted == 2);
  CHECK(f.store.has_event("acme", "x1"));

  f.ask<caf::ok_atom>(f.ingest, caf::put_atom::value, f.supervisor);
  CHECK(f.ask<ingest_ack>(f.ingest, ingest_atom::value, make_events("y", 1)).accepted == 1);
  f.wait_until([&] { return f.jobs().size() == 2; }, "jobs of y0");
  for (const auto& job : f.jobs()) CHECK(job.row.event_id == "y0");
}

TEST_CASE("ingest answers unavailable when the router is gone", "[unit]") {
  ingest_fixture f;
  f.start(spawn_committer(f.sys, f.store.store.get(), nullptr));
  {
    caf::scoped_actor self{f.sys, true};
    self->monitor(f.router);
    caf::anon_send_exit(f.router, caf::exit_reason::kill);
    self->receive([](caf::down_msg&) {});
  }
  caf::scoped_actor self{f.sys, true};
  auto handle = self->request(f.ingest, deadline, ingest_atom::value, make_events("z", 1));
  reply r = await_reply(f.sys, handle);
  CHECK_FALSE(r.ok);
  REQUIRE(r.failure);
  CHECK(r.failure->code == ingest_errc::unavailable);
  CHECK_FALSE(f.store.has_event("acme", "z0"));
}
