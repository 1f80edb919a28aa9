#include "actors/router.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "core/delivery_body.hpp"

using namespace webhookd;

namespace {

constexpr std::chrono::seconds deadline{5};

webhook make_webhook(std::string id, std::string client, std::vector<std::string> types,
                     std::string filter = {}) {
  webhook w;
  w.id = std::move(id);
  w.client_id = std::move(client);
  w.callback_url = "https://example.com/hook";
  w.event_types = std::move(types);
  w.trigger_conditions = std::move(filter);
  return w;
}

event make_event(std::string client, std::string id, std::string type,
                 std::string payload = R"({"amount":150})") {
  event ev;
  ev.client_id = std::move(client);
  ev.event_id = std::move(id);
  ev.event_type = std::move(type);
  ev.timestamp = 1'700'000'000'000;
  ev.payload = std::move(payload);
  ev.source_id = "src_1";
  return ev;
}

source make_source(std::string id, std::string key) {
  source s;
  s.id = std::move(id);
  s.name = "shop";
  s.api_key = std::move(key);
  s.secret = "secret";
  s.allowed_event_types = {"*"};
  return s;
}

// An actor system with two scheduler threads and the router under test; stops the router at
// the end so the system can shut down.
struct router_fixture {
  explicit router_fixture(std::vector<webhook> webhooks = {}, std::vector<source> sources = {})
      : sys(configured(config)) {
    router_deps deps;
    deps.clock = &clock;
    deps.webhooks = std::move(webhooks);
    deps.sources = std::move(sources);
    deps.directory = directory;
    deps.id_seed = 42;
    router = spawn_router(sys, std::move(deps));
  }
  ~router_fixture() { caf::anon_send_exit(router, caf::exit_reason::user_shutdown); }

  // Declared first: the router shares it (the ingestion routes read it directly).
  std::shared_ptr<source_directory> directory = std::make_shared<source_directory>();

  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  // Sends `xs...` to the router and returns its reply of type R; fails the test on an error.
  template <class R, class... Ts>
  R ask(Ts&&... xs) {
    caf::scoped_actor self{sys, true};
    R out{};
    std::string failure;
    bool answered = false;
    self->request(router, deadline, std::forward<Ts>(xs)...)
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

  std::vector<routed_event> route(std::vector<event> events) {
    return ask<std::vector<routed_event>>(route_atom::value, std::move(events));
  }

  // The webhook ids that `ev` is delivered to, sorted.
  std::vector<std::string> targets(event ev) {
    auto routed = route({std::move(ev)});
    REQUIRE(routed.size() == 1);
    std::vector<std::string> ids;
    for (const auto& job : routed[0].jobs) ids.push_back(job.row.webhook_id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  void change(const webhook& w) { ask<caf::ok_atom>(changed_atom::value, w); }

  caf::actor_system_config config;
  manual_clock clock;
  caf::actor_system sys;
  router_actor router;
};

using ids = std::vector<std::string>;

}  // namespace

TEST_CASE("router matches exact names, prefix patterns and * per client", "[unit]") {
  router_fixture f({make_webhook("wh_exact", "acme", {"invoice.paid"}),
                    make_webhook("wh_prefix", "acme", {"invoice.*"}),
                    make_webhook("wh_all", "acme", {"*"}),
                    make_webhook("wh_user", "acme", {"user.created"}),
                    make_webhook("wh_globex", "globex", {"*"})});
  CHECK(f.targets(make_event("acme", "e1", "invoice.paid")) ==
        ids{"wh_all", "wh_exact", "wh_prefix"});
  CHECK(f.targets(make_event("acme", "e2", "invoice.line.added")) == ids{"wh_all", "wh_prefix"});
  CHECK(f.targets(make_event("acme", "e3", "invoice")) == ids{"wh_all"});
  CHECK(f.targets(make_event("acme", "e4", "invoices.paid")) == ids{"wh_all"});
  CHECK(f.targets(make_event("acme", "e5", "user.created")) == ids{"wh_all", "wh_user"});
  CHECK(f.targets(make_event("globex", "e6", "invoice.paid")) == ids{"wh_globex"});
  CHECK(f.targets(make_event("initech", "e7", "invoice.paid")).empty());
}

TEST_CASE("router gives a webhook one delivery even when several of its patterns match", "[unit]") {
  router_fixture f({make_webhook("wh_1", "acme", {"invoice.paid", "invoice.*", "*"})});
  CHECK(f.targets(make_event("acme", "e1", "invoice.paid")) == ids{"wh_1"});
}

TEST_CASE("router evaluates trigger filters on the delivered body", "[unit]") {
  router_fixture f({make_webhook("wh_big", "acme", {"*"}, R"({"data.amount": {"$gte": 100}})"),
                    make_webhook("wh_type", "acme", {"*"}, R"({"type": "invoice.paid"})"),
                    make_webhook("wh_client", "acme", {"*"}, R"({"client_id": "acme"})"),
                    make_webhook("wh_none", "acme", {"*"})});
  CHECK(f.targets(make_event("acme", "e1", "invoice.paid", R"({"amount":150})")) ==
        ids{"wh_big", "wh_client", "wh_none", "wh_type"});
  CHECK(f.targets(make_event("acme", "e2", "invoice.paid", R"({"amount":50})")) ==
        ids{"wh_client", "wh_none", "wh_type"});
  CHECK(f.targets(make_event("acme", "e3", "invoice.voided", R"({"amount":500})")) ==
        ids{"wh_big", "wh_client", "wh_none"});
  CHECK(f.targets(make_event("acme", "e4", "invoice.voided", R"({"note":"no amount"})")) ==
        ids{"wh_client", "wh_none"});
}

TEST_CASE("router gives paused and disabled webhooks nothing", "[unit]") {
  webhook paused = make_webhook("wh_paused", "acme", {"*"});
  paused.status = "paused";
  webhook disabled = make_webhook("wh_disabled", "acme", {"*"});
  disabled.status = "disabled";
  router_fixture f({paused, disabled, make_webhook("wh_active", "acme", {"*"})});
  CHECK(f.targets(make_event("acme", "e1", "invoice.paid")) == ids{"wh_active"});

  paused.status = "active";
  f.change(paused);
  CHECK(f.targets(make_event("acme", "e2", "invoice.paid")) == ids{"wh_active", "wh_paused"});
  CHECK(f.ask<router_stats>(state_atom::value).webhooks == 2);
}

TEST_CASE("router applies the manager's change and remove messages before acknowledging",
          "[unit]") {
  router_fixture f({make_webhook("wh_1", "acme", {"invoice.paid"})});
  CHECK(f.targets(make_event("acme", "e1", "user.created")).empty());

  // A new webhook.
  f.change(make_webhook("wh_2", "acme", {"user.*"}));
  CHECK(f.targets(make_event("acme", "e2", "user.created")) == ids{"wh_2"});

  // A changed webhook: its old patterns no longer match, its new ones do.
  f.change(make_webhook("wh_1", "acme", {"user.created"}));
  CHECK(f.targets(make_event("acme", "e3", "invoice.paid")).empty());
  CHECK(f.targets(make_event("acme", "e4", "user.created")) == ids{"wh_1", "wh_2"});

  // A changed filter.
  f.change(make_webhook("wh_2", "acme", {"user.*"}, R"({"data.amount": {"$lt": 10}})"));
  CHECK(f.targets(make_event("acme", "e5", "user.created")) == ids{"wh_1"});

  // Paused, then removed.
  webhook paused = make_webhook("wh_1", "acme", {"user.created"});
  paused.status = "paused";
  f.change(paused);
  CHECK(f.targets(make_event("acme", "e6", "user.created")).empty());
  f.ask<caf::ok_atom>(removed_atom::value, std::string("acme"), std::string("wh_2"));
  CHECK(f.targets(make_event("acme", "e7", "user.deleted", R"({"amount":1})")).empty());
  auto stats = f.ask<router_stats>(state_atom::value);
  CHECK(stats.webhooks == 0);
  CHECK(stats.clients == 0);

  // Removing what is not there is harmless.
  f.ask<caf::ok_atom>(removed_atom::value, std::string("acme"), std::string("wh_nope"));
}

TEST_CASE("router makes pending delivery rows with unique ids, stable partitions and the body",
          "[unit]") {
  router_fixture f({make_webhook("wh_a", "acme", {"*"}), make_webhook("wh_b", "acme", {"*"})});
  webhook high = make_webhook("wh_c", "acme", {"*"});
  high.priority = "high";
  f.change(high);
  f.clock.set_ms(1'800'000'000'123);

  std::vector<event> events;
  for (int i = 0; i < 200; ++i)
    events.push_back(make_event("acme", "e" + std::to_string(i), "x.y"));
  auto routed = f.route(events);
  REQUIRE(routed.size() == events.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < routed.size(); ++i) {
    const auto& item = routed[i];
    CHECK(item.ev.event_id == events[i].event_id);
    CHECK(item.ev.payload == events[i].payload);
    REQUIRE(item.jobs.size() == 3);
    for (const auto& job : item.jobs) {
      const delivery& row = job.row;
      CHECK(row.id.rfind("msg_", 0) == 0);
      CHECK(seen.insert(row.id).second);
      CHECK(row.client_id == "acme");
      CHECK(row.event_id == item.ev.event_id);
      CHECK(row.event_type == "x.y");
      CHECK(row.partition == partition_of(row.webhook_id));
      CHECK(row.status == delivery_status::pending);
      CHECK(row.attempts == 0);
      CHECK(row.next_attempt_at == 1'800'000'000'123);
      CHECK(row.created_at == 1'800'000'000'123);
      CHECK(job.body == delivery_body(item.ev));
      CHECK(job.priority ==
            (row.webhook_id == "wh_c" ? priority_level::high : priority_level::standard));
    }
  }
  CHECK(seen.size() == 600);

  // The same webhook lands in the same partition every time.
  auto again = f.route({make_event("acme", "later", "x.y")});
  for (const auto& job : again[0].jobs)
    CHECK(job.row.partition == partition_of(job.row.webhook_id));
  auto stats = f.ask<router_stats>(state_atom::value);
  CHECK(stats.routed_events == 201);
  CHECK(stats.routed_deliveries == 603);
}

TEST_CASE("router finds sources by api key and follows source changes", "[unit]") {
  router_fixture f({}, {make_source("src_1", "key_1"), make_source("src_2", "key_2")});
  auto found = f.ask<source_lookup>(source_atom::value, std::string("key_1"));
  CHECK(found.found);
  CHECK(found.src.id == "src_1");
  CHECK(found.src.secret == "secret");
  CHECK_FALSE(f.ask<source_lookup>(source_atom::value, std::string("key_x")).found);

  // A rotated api key: only the new one works.
  source rotated = make_source("src_1", "key_1b");
  f.ask<caf::ok_atom>(changed_atom::value, rotated);
  CHECK_FALSE(f.ask<source_lookup>(source_atom::value, std::string("key_1")).found);
  CHECK(f.ask<source_lookup>(source_atom::value, std::string("key_1b")).src.id == "src_1");

  // A new source, then a removed one.
  f.ask<caf::ok_atom>(changed_atom::value, make_source("src_3", "key_3"));
  CHECK(f.ask<source_lookup>(source_atom::value, std::string("key_3")).found);
  f.ask<caf::ok_atom>(removed_atom::value, source_atom::value, std::string("src_2"));
  CHECK_FALSE(f.ask<source_lookup>(source_atom::value, std::string("key_2")).found);
  CHECK(f.ask<router_stats>(state_atom::value).sources == 2);

  // The shared directory shows every change the router acknowledged, without asking it.
  CHECK(f.directory->size() == 2);
  CHECK(f.directory->find("key_1b").src.id == "src_1");
  CHECK(f.directory->find("key_3").found);
  CHECK_FALSE(f.directory->find("key_1").found);
  CHECK_FALSE(f.directory->find("key_2").found);
}

namespace {

struct fake_manager_state {
  std::vector<webhook> snapshot;
  caf::actor subscriber;
};

// Answers subscribe_atom with a fixed snapshot, as the manager does.
caf::behavior fake_manager(caf::stateful_actor<fake_manager_state>* self,
                           std::vector<webhook> snapshot) {
  self->state.snapshot = std::move(snapshot);
  return {
      [self](subscribe_atom, caf::actor subscriber) -> webhook_snapshot {
        self->state.subscriber = std::move(subscriber);
        auto rows = std::make_shared<std::vector<shared_webhook>>();
        for (const auto& w : self->state.snapshot) rows->push_back(std::make_shared<webhook>(w));
        return webhook_snapshot{std::move(rows)};
      },
      [self](caf::get_atom) -> caf::actor { return self->state.subscriber; },
  };
}

}  // namespace

TEST_CASE("router subscribes to the manager and takes its snapshot as the index", "[unit]") {
  router_fixture f({make_webhook("wh_stale", "acme", {"*"})});
  auto manager =
      f.sys.spawn(fake_manager, std::vector<webhook>{make_webhook("wh_fresh", "acme", {"a.b"})});
  f.ask<caf::ok_atom>(subscribe_atom::value, caf::actor_cast<caf::actor>(manager));
  CHECK(f.targets(make_event("acme", "e1", "a.b")) == ids{"wh_fresh"});
  CHECK(f.targets(make_event("acme", "e2", "c.d")).empty());

  caf::actor subscriber;
  {
    caf::scoped_actor self{f.sys, true};
    self->request(manager, deadline, caf::get_atom::value)
        .receive([&](caf::actor& a) { subscriber = a; }, [](caf::error&) {});
  }
  CHECK(subscriber == caf::actor_cast<caf::actor>(f.router));
  caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
}
