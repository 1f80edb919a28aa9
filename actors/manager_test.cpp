#include "actors/manager.hpp"

#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.hpp"

using namespace webhookd;
using namespace std::chrono_literals;

namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;

// A fresh SQLite store in a temporary directory, removed afterwards.
class temp_store {
 public:
  temp_store() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("webhookd-manager-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    auto opened = storage::open_store_blocking({"sqlite:" + (dir_ / "store.db").string(), 1});
    if (!opened) FAIL("cannot open the store: " << opened.err().message);
    store_ = std::move(opened.value());
  }
  ~temp_store() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  storage::blocking_store& get() { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<storage::blocking_store> store_;
};

// What a test subscriber saw, readable from the test thread.
struct journal {
  std::mutex mutex;
  std::condition_variable grown;
  std::vector<std::string> entries;  // "changed wh_.. <status> <secret>" / "removed wh_.."

  void add(std::string entry) {
    {
      std::lock_guard<std::mutex> guard(mutex);
      entries.push_back(std::move(entry));
    }
    grown.notify_all();
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> guard(mutex);
    return entries;
  }
  // Waits until there are at least `n` entries; false if `timeout` passes first.
  bool wait_for_size(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex);
    return grown.wait_for(lock, timeout, [&] { return entries.size() >= n; });
  }
};

struct subscriber_state {
  std::vector<caf::response_promise> held;  // acknowledgements not given yet
  static const char* name;
};
const char* subscriber_state::name = "test_subscriber";

// Records every change. With `gated`, holds each acknowledgement until it gets release_atom.
caf::behavior test_subscriber(caf::stateful_actor<subscriber_state>* self,
                              std::shared_ptr<journal> log, bool gated) {
  auto answer = [self, gated]() -> caf::result<caf::ok_atom> {
    if (!gated) return caf::ok_atom::value;
    auto rp = self->make_response_promise();
    self->state.held.push_back(rp);
    return rp;
  };
  return {
      [=](changed_atom, const webhook& w) -> caf::result<caf::ok_atom> {
        log->add("changed " + w.id + " " + w.status + " " + w.callback_url);
        return answer();
      },
      [=](removed_atom, const std::string& client_id,
          const std::string& id) -> caf::result<caf::ok_atom> {
        log->add("removed " + client_id + " " + id);
        return answer();
      },
      [=](changed_atom, const source& s) -> caf::result<caf::ok_atom> {
        log->add("changed source " + s.id + " " + s.name);
        return answer();
      },
      [=](removed_atom, source_atom, const std::string& id) -> caf::result<caf::ok_atom> {
        log->add("removed source " + id);
        return answer();
      },
      [=](release_atom) {
        for (auto& rp : self->state.held) rp.deliver(caf::ok_atom::value);
        self->state.held.clear();
      },
  };
}

// A subscriber that takes the changes and never acknowledges them.
caf::behavior silent_subscriber(caf::event_based_actor* self, std::shared_ptr<journal> log) {
  return {
      [=](changed_atom, const webhook& w) -> caf::result<caf::ok_atom> {
        log->add("changed " + w.id);
        auto rp = self->make_response_promise();
        return rp;  // dropped: never delivered
      },
  };
}

struct fixture {
  temp_store store;
  manual_clock clock{1'700'000'000'000};
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  manager_actor manager;

  explicit fixture(std::chrono::milliseconds subscriber_timeout = 5000ms) {
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    manager_deps deps;
    deps.store = &store.get();
    deps.clock = &clock;
    deps.settings.subscriber_timeout = subscriber_timeout;
    manager = spawn_manager(*sys, deps);
  }
  ~fixture() {
    caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
    manager = nullptr;
    sys->await_all_actors_done();
  }
};

webhook sample_webhook(const std::string& client, const std::string& url) {
  webhook w;
  w.client_id = client;
  w.callback_url = url;
  w.event_types = {"invoice.paid"};
  return w;
}

// Sends a request from `self` and waits for its answer (or an error) for at most `wait`.
template <class T, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const manager_actor& m, Ts&&... xs) {
  caf::expected<T> out = caf::make_error(caf::sec::request_timeout);
  self->request(m, 10s, std::forward<Ts>(xs)...)
      .receive([&](T& value) { out = std::move(value); }, [&](caf::error& err) { out = err; });
  return out;
}

manager_errc code_of(const caf::error& err) {
  auto failure = manager_failure_of(err);
  REQUIRE(failure);
  return failure->code;
}

}  // namespace

TEST_CASE("manager errors carry our code and message through caf::error", "[unit]") {
  auto err = make_manager_error(manager_errc::conflict, "name taken");
  auto failure = manager_failure_of(err);
  REQUIRE(failure);
  CHECK(failure->code == manager_errc::conflict);
  CHECK(failure->message == "name taken");
  CHECK_FALSE(manager_failure_of(caf::make_error(caf::sec::request_timeout)));
  CHECK(std::string(to_string(manager_errc::not_found)) == "not_found");
}

TEST_CASE("manager creates, reads, lists, patches, rotates and deletes webhooks",
          "[unit][sqlite]") {
  fixture fx;
  caf::scoped_actor self{*fx.sys, true};

  auto created = ask<webhook>(self, fx.manager, create_atom::value,
                              sample_webhook("acme", "https://a.example/hook"));
  REQUIRE(created);
  CHECK(created->id.rfind("wh_", 0) == 0);
  CHECK(created->signing_secret.rfind("whsec_", 0) == 0);
  CHECK(created->status == "active");
  CHECK(created->created_at == fx.clock.now_ms());

  auto got = ask<webhook>(self, fx.manager, caf::get_atom::value, std::string("acme"), created->id);
  REQUIRE(got);
  CHECK(got->callback_url == "https://a.example/hook");
  CHECK(got->signing_secret == created->signing_secret);

  SECTION("another client sees not_found for every operation") {
    std::string other = "globex";
    auto foreign_get = ask<webhook>(self, fx.manager, caf::get_atom::value, other, created->id);
    REQUIRE_FALSE(foreign_get);
    CHECK(code_of(foreign_get.error()) == manager_errc::not_found);

    webhook_patch patch{other, created->id, {}, {"description"}};
    patch.values.description = "mine now";
    auto foreign_patch = ask<webhook>(self, fx.manager, caf::update_atom::value, patch);
    REQUIRE_FALSE(foreign_patch);
    CHECK(code_of(foreign_patch.error()) == manager_errc::not_found);

    auto foreign_rotate =
        ask<webhook>(self, fx.manager, rotate_atom::value, other, created->id, int64_t{60});
    REQUIRE_FALSE(foreign_rotate);
    CHECK(code_of(foreign_rotate.error()) == manager_errc::not_found);

    auto foreign_delete =
        ask<int64_t>(self, fx.manager, caf::delete_atom::value, other, created->id);
    REQUIRE_FALSE(foreign_delete);
    CHECK(code_of(foreign_delete.error()) == manager_errc::not_found);

    auto still =
        ask<webhook>(self, fx.manager, caf::get_atom::value, std::string("acme"), created->id);
    REQUIRE(still);
    CHECK(still->description.empty());
  }

  SECTION("a patch changes only the named fields and moves updated_at") {
    fx.clock.advance_ms(1000);
    webhook_patch patch{"acme", created->id, {}, {"description", "status"}};
    patch.values.description = "billing";
    patch.values.status = "paused";
    patch.values.callback_url = "https://ignored.example/";  // not named: must not change
    auto patched = ask<webhook>(self, fx.manager, caf::update_atom::value, patch);
    REQUIRE(patched);
    CHECK(patched->description == "billing");
    CHECK(patched->status == "paused");
    CHECK(patched->callback_url == "https://a.example/hook");
    CHECK(patched->updated_at == fx.clock.now_ms());
    CHECK(patched->created_at == created->created_at);

    webhook_patch disable{"acme", created->id, {}, {"status"}};
    disable.values.status = "disabled";
    auto disabled = ask<webhook>(self, fx.manager, caf::update_atom::value, disable);
    REQUIRE(disabled);
    CHECK(disabled->disabled_reason == "disabled by the client");
    CHECK(disabled->updated_at > patched->updated_at);

    webhook_patch enable{"acme", created->id, {}, {"status"}};
    enable.values.status = "active";
    auto enabled = ask<webhook>(self, fx.manager, caf::update_atom::value, enable);
    REQUIRE(enabled);
    CHECK(enabled->disabled_reason.empty());

    webhook_patch bad{"acme", created->id, {}, {"status"}};
    bad.values.status = "sleeping";
    auto refused = ask<webhook>(self, fx.manager, caf::update_atom::value, bad);
    REQUIRE_FALSE(refused);
    CHECK(code_of(refused.error()) == manager_errc::invalid);
  }

  SECTION("rotation keeps the previous secret for the grace period") {
    fx.clock.advance_ms(5000);
    auto rotated = ask<webhook>(self, fx.manager, rotate_atom::value, std::string("acme"),
                                created->id, int64_t{default_rotation_grace_seconds});
    REQUIRE(rotated);
    CHECK(rotated->signing_secret != created->signing_secret);
    CHECK(rotated->signing_secret.rfind("whsec_", 0) == 0);
    CHECK(rotated->previous_secret == created->signing_secret);
    CHECK(rotated->previous_secret_expires_at == fx.clock.now_ms() + 24 * 3600 * 1000);

    auto again = ask<webhook>(self, fx.manager, rotate_atom::value, std::string("acme"),
                              created->id, int64_t{0});
    REQUIRE(again);
    CHECK(again->previous_secret.empty());
    CHECK(again->previous_secret_expires_at == 0);
    CHECK(again->signing_secret != rotated->signing_secret);

    auto negative = ask<webhook>(self, fx.manager, rotate_atom::value, std::string("acme"),
                                 created->id, int64_t{-1});
    REQUIRE_FALSE(negative);
    CHECK(code_of(negative.error()) == manager_errc::invalid);
  }

  SECTION("list pages by id and delete removes") {
    std::vector<std::string> ids{created->id};
    for (int i = 0; i < 4; ++i) {
      fx.clock.advance_ms(1);
      auto more = ask<webhook>(self, fx.manager, create_atom::value,
                               sample_webhook("acme", "https://b.example/" + std::to_string(i)));
      REQUIRE(more);
      ids.push_back(more->id);
    }
    auto first = ask<page<webhook>>(self, fx.manager, list_atom::value, std::string("acme"),
                                    page_request{"", 3});
    REQUIRE(first);
    REQUIRE(first->items.size() == 3);
    CHECK(first->items[0].id == ids[0]);
    CHECK_FALSE(first->next_cursor.empty());
    auto second = ask<page<webhook>>(self, fx.manager, list_atom::value, std::string("acme"),
                                     page_request{first->next_cursor, 3});
    REQUIRE(second);
    REQUIRE(second->items.size() == 2);
    CHECK(second->items[1].id == ids[4]);
    CHECK(second->next_cursor.empty());

    auto cancelled =
        ask<int64_t>(self, fx.manager, caf::delete_atom::value, std::string("acme"), ids[2]);
    REQUIRE(cancelled);
    CHECK(*cancelled == 0);
    auto gone = ask<webhook>(self, fx.manager, caf::get_atom::value, std::string("acme"), ids[2]);
    REQUIRE_FALSE(gone);
    CHECK(code_of(gone.error()) == manager_errc::not_found);
  }

  SECTION("disable_atom disables with the engine's reason") {
    auto disabled = ask<webhook>(self, fx.manager, disable_atom::value, std::string("acme"),
                                 created->id, std::string("failing for 5 days"));
    REQUIRE(disabled);
    CHECK(disabled->status == "disabled");
    CHECK(disabled->disabled_reason == "failing for 5 days");
  }
}

TEST_CASE("a write is answered only after every subscriber acknowledged it", "[unit][sqlite]") {
  fixture fx;
  auto seen = std::make_shared<journal>();
  auto slow = fx.sys->spawn(test_subscriber, seen, true);
  auto other_seen = std::make_shared<journal>();
  auto quick = fx.sys->spawn(test_subscriber, other_seen, false);
  {
    caf::scoped_actor self{*fx.sys, true};
    // An existing webhook shows up in the subscription snapshot.
    auto existing = ask<webhook>(self, fx.manager, create_atom::value,
                                 sample_webhook("acme", "https://a.example/old"));
    REQUIRE(existing);
    auto snapshot = ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value,
                                          caf::actor_cast<caf::actor>(slow));
    REQUIRE(snapshot);
    REQUIRE(snapshot->webhooks->size() == 1);
    CHECK(snapshot->webhooks->at(0)->id == existing->id);
    CHECK(snapshot->webhooks->at(0)->signing_secret == existing->signing_secret);
    REQUIRE(ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, quick));

    // The PATCH: its answer must wait for the gated subscriber's acknowledgement.
    webhook_patch patch{"acme", existing->id, {}, {"callback_url"}};
    patch.values.callback_url = "https://a.example/new";
    auto patching = std::async(std::launch::async, [&] {
      caf::scoped_actor client{*fx.sys, true};
      return ask<webhook>(client, fx.manager, caf::update_atom::value, patch);
    });
    // Both subscribers get the change...
    REQUIRE(seen->wait_for_size(1, 10s));
    REQUIRE(other_seen->wait_for_size(1, 10s));
    CHECK(seen->snapshot() ==
          std::vector<std::string>{"changed " + existing->id + " active https://a.example/new"});
    CHECK(other_seen->snapshot() == seen->snapshot());
    // ...but the writer has no answer while the slow one holds its acknowledgement.
    CHECK(patching.wait_for(300ms) == std::future_status::timeout);
    self->send(slow, release_atom::value);
    auto reply = patching.get();
    REQUIRE(reply);
    CHECK(reply->callback_url == "https://a.example/new");

    // Deletion notifies too, and is answered after the acknowledgement.
    auto deleting = std::async(std::launch::async, [&] {
      caf::scoped_actor client{*fx.sys, true};
      return ask<int64_t>(client, fx.manager, caf::delete_atom::value, std::string("acme"),
                          existing->id);
    });
    REQUIRE(seen->wait_for_size(2, 10s));
    CHECK(seen->snapshot().back() == "removed acme " + existing->id);
    CHECK(deleting.wait_for(300ms) == std::future_status::timeout);
    self->send(slow, release_atom::value);
    auto cancelled = deleting.get();
    REQUIRE(cancelled);
    CHECK(*cancelled == 0);
  }
  caf::anon_send_exit(slow, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(quick, caf::exit_reason::user_shutdown);
}

TEST_CASE("subscribers share one snapshot until the next webhook write", "[unit][sqlite]") {
  fixture fx;
  auto first_seen = std::make_shared<journal>();
  auto first = fx.sys->spawn(test_subscriber, first_seen, false);
  auto second_seen = std::make_shared<journal>();
  auto second = fx.sys->spawn(test_subscriber, second_seen, false);
  auto third_seen = std::make_shared<journal>();
  auto third = fx.sys->spawn(test_subscriber, third_seen, false);
  {
    caf::scoped_actor self{*fx.sys, true};
    auto kept = ask<webhook>(self, fx.manager, create_atom::value,
                             sample_webhook("acme", "https://a.example/kept"));
    REQUIRE(kept);
    auto disabled_later = ask<webhook>(self, fx.manager, create_atom::value,
                                       sample_webhook("acme", "https://a.example/disabled-later"));
    REQUIRE(disabled_later);
    auto a = ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, first);
    auto b = ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, second);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(a->webhooks);
    // No write in between: one read, the same rows (not copies) for both.
    CHECK(a->webhooks == b->webhooks);
    REQUIRE(a->webhooks->size() == 2);

    // A webhook write makes the next subscription read the store again.
    REQUIRE(ask<webhook>(self, fx.manager, disable_atom::value, std::string("acme"),
                         disabled_later->id, std::string("test")));
    auto c = ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, third);
    REQUIRE(c);
    CHECK(c->webhooks != a->webhooks);
    REQUIRE(c->webhooks->size() == 1);
    CHECK(c->webhooks->at(0)->id == kept->id);
    // The earlier snapshot is immutable: its holders still see what they were given.
    CHECK(a->webhooks->size() == 2);
    // The subscribers that took the older snapshot heard of the write.
    CHECK(first_seen->wait_for_size(1, 10s));
    CHECK(second_seen->wait_for_size(1, 10s));
  }
  for (auto& sub : {first, second, third})
    caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
}

TEST_CASE("changes reach subscribers in the order they were made", "[unit][sqlite]") {
  fixture fx;
  auto seen = std::make_shared<journal>();
  auto sub = fx.sys->spawn(test_subscriber, seen, false);
  {
    caf::scoped_actor self{*fx.sys, true};
    REQUIRE(ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, sub));
    auto created = ask<webhook>(self, fx.manager, create_atom::value,
                                sample_webhook("acme", "https://a.example/0"));
    REQUIRE(created);
    // Fire several patches without waiting, then collect every answer.
    for (int i = 1; i <= 5; ++i) {
      webhook_patch patch{"acme", created->id, {}, {"callback_url"}};
      patch.values.callback_url = "https://a.example/" + std::to_string(i);
      self->send(fx.manager, caf::update_atom::value, patch);
    }
    auto last =
        ask<webhook>(self, fx.manager, caf::get_atom::value, std::string("acme"), created->id);
    REQUIRE(last);
    CHECK(last->callback_url == "https://a.example/5");
    // The get may be answered before the subscriber has taken the last change (each write's own
    // answer waits for the ack, the get's does not): wait for the journal with a deadline.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (seen->snapshot().size() < 6 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto entries = seen->snapshot();
    REQUIRE(entries.size() == 6);
    for (int i = 0; i <= 5; ++i) {
      CHECK(entries[static_cast<std::size_t>(i)] ==
            "changed " + created->id + " active https://a.example/" + std::to_string(i));
    }
  }
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
}

TEST_CASE("a silent subscriber delays a write only until the deadline", "[unit][sqlite]") {
  fixture fx(std::chrono::milliseconds(200));
  auto seen = std::make_shared<journal>();
  auto silent = fx.sys->spawn(silent_subscriber, seen);
  {
    caf::scoped_actor self{*fx.sys, true};
    REQUIRE(ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, silent));
    auto start = std::chrono::steady_clock::now();
    auto created = ask<webhook>(self, fx.manager, create_atom::value,
                                sample_webhook("acme", "https://a.example/x"));
    auto waited = std::chrono::steady_clock::now() - start;
    REQUIRE(created);  // the write happened: the caller gets it despite the missing ack
    CHECK(waited >= std::chrono::milliseconds(200));
    CHECK(seen->snapshot().size() == 1);
  }
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
}

TEST_CASE("a subscriber that terminated is dropped and never waited for", "[unit][sqlite]") {
  fixture fx(std::chrono::minutes(5));  // far beyond ask()'s 10 s: waiting would fail the test
  auto seen = std::make_shared<journal>();
  auto sub = fx.sys->spawn(test_subscriber, seen, false);
  caf::scoped_actor self{*fx.sys, true};
  REQUIRE(ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, sub));
  auto created = ask<webhook>(self, fx.manager, create_atom::value,
                              sample_webhook("acme", "https://a.example/x"));
  REQUIRE(created);
  REQUIRE(seen->snapshot().size() == 1);

  self->monitor(sub);
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  sub = nullptr;
  webhook_patch patch{"acme", created->id, {}, {"description"}};
  patch.values.description = "after";
  auto patched = ask<webhook>(self, fx.manager, caf::update_atom::value, patch);
  REQUIRE(patched);
  CHECK(patched->description == "after");
  CHECK(seen->snapshot().size() == 1);
}

TEST_CASE("manager keeps the event-type catalogue and sources", "[unit][sqlite]") {
  fixture fx;
  auto seen = std::make_shared<journal>();
  auto sub = fx.sys->spawn(test_subscriber, seen, false);
  caf::scoped_actor self{*fx.sys, true};
  REQUIRE(ask<webhook_snapshot>(self, fx.manager, subscribe_atom::value, sub));

  event_type paid{"invoice.paid", "an invoice was paid", "", 0};
  auto created =
      ask<event_type>(self, fx.manager, event_type_atom::value, create_atom::value, paid);
  REQUIRE(created);
  CHECK(created->created_at == fx.clock.now_ms());
  auto duplicate =
      ask<event_type>(self, fx.manager, event_type_atom::value, create_atom::value, paid);
  REQUIRE_FALSE(duplicate);
  CHECK(code_of(duplicate.error()) == manager_errc::conflict);
  auto bad = ask<event_type>(self, fx.manager, event_type_atom::value, create_atom::value,
                             event_type{"Invoice Paid", "", "", 0});
  REQUIRE_FALSE(bad);
  CHECK(code_of(bad.error()) == manager_errc::invalid);
  auto types =
      ask<std::vector<event_type>>(self, fx.manager, event_type_atom::value, list_atom::value);
  REQUIRE(types);
  REQUIRE(types->size() == 1);
  CHECK((*types)[0].description == "an invoice was paid");

  source s;
  s.name = "billing";
  s.allowed_event_types = {"invoice.*"};
  auto src = ask<source>(self, fx.manager, source_atom::value, create_atom::value, s);
  REQUIRE(src);
  CHECK(src->id.rfind("src_", 0) == 0);
  CHECK(src->api_key.rfind("sk_", 0) == 0);
  CHECK(src->secret.size() == 64);

  source taken = s;
  taken.api_key = src->api_key;
  auto clash = ask<source>(self, fx.manager, source_atom::value, create_atom::value, taken);
  REQUIRE_FALSE(clash);
  CHECK(code_of(clash.error()) == manager_errc::conflict);

  source_patch patch{src->id, {}, {"secret", "ip_allowlist"}};
  patch.values.secret = "a-new-secret-of-enough-length";
  patch.values.ip_allowlist = {"10.0.0.0/8"};
  fx.clock.advance_ms(10);
  auto patched = ask<source>(self, fx.manager, source_atom::value, caf::update_atom::value, patch);
  REQUIRE(patched);
  CHECK(patched->secret == "a-new-secret-of-enough-length");
  CHECK(patched->name == "billing");
  CHECK(patched->updated_at == fx.clock.now_ms());

  auto listed = ask<page<source>>(self, fx.manager, source_atom::value, list_atom::value,
                                  page_request{"", 10});
  REQUIRE(listed);
  CHECK(listed->items.size() == 1);

  REQUIRE(
      ask<caf::ok_atom>(self, fx.manager, source_atom::value, caf::delete_atom::value, src->id));
  auto gone = ask<source>(self, fx.manager, source_atom::value, caf::get_atom::value, src->id);
  REQUIRE_FALSE(gone);
  CHECK(code_of(gone.error()) == manager_errc::not_found);

  // Every source write reached the subscriber before it was answered; the failed ones did not.
  CHECK(seen->snapshot() == std::vector<std::string>{"changed source " + src->id + " billing",
                                                     "changed source " + src->id + " billing",
                                                     "removed source " + src->id});
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
}
