// The store writer against a real SQLite store: batching, replies after commit, retry through a
// store outage, and splitting out outcomes whose delivery is gone.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/endpoint_test_support.hpp"
#include "actors/store_writer.hpp"

using namespace webhookd;
using namespace webhookd::test;

namespace {

/// A store that forwards to a real one but counts record_attempts calls and, while `down` is
/// set, fails them as unavailable (a store outage).
class outage_store final : public storage::blocking_store {
 public:
  explicit outage_store(storage::blocking_store& inner) : inner_(inner) {}

  std::atomic<bool> down{false};
  std::atomic<int> record_calls{0};
  std::atomic<int> failed_calls{0};

  std::string backend() const override { return inner_.backend(); }
  storage::result<int> schema_version() override { return inner_.schema_version(); }
  storage::status ping() override { return inner_.ping(); }
  storage::status insert_webhook(const webhook& w) override { return inner_.insert_webhook(w); }
  storage::result<webhook> get_webhook(const std::string& c, const std::string& id) override {
    return inner_.get_webhook(c, id);
  }
  storage::result<page<webhook>> list_webhooks(const std::string& c,
                                               const page_request& r) override {
    return inner_.list_webhooks(c, r);
  }
  storage::status update_webhook(const webhook& w) override { return inner_.update_webhook(w); }
  storage::result<int64_t> delete_webhook(const std::string& c, const std::string& id) override {
    return inner_.delete_webhook(c, id);
  }
  storage::result<std::vector<webhook>> load_webhooks() override { return inner_.load_webhooks(); }
  storage::status insert_event_type(const event_type& t) override {
    return inner_.insert_event_type(t);
  }
  storage::result<std::vector<event_type>> list_event_types() override {
    return inner_.list_event_types();
  }
  storage::status insert_source(const source& s) override { return inner_.insert_source(s); }
  storage::result<source> get_source(const std::string& id) override {
    return inner_.get_source(id);
  }
  storage::result<source> find_source_by_api_key(const std::string& k) override {
    return inner_.find_source_by_api_key(k);
  }
  storage::result<page<source>> list_sources(const page_request& r) override {
    return inner_.list_sources(r);
  }
  storage::status update_source(const source& s) override { return inner_.update_source(s); }
  storage::status delete_source(const std::string& id) override { return inner_.delete_source(id); }
  storage::result<append_result> append_events(const std::vector<new_event>& b) override {
    return inner_.append_events(b);
  }
  storage::result<event> get_event(const std::string& c, const std::string& id) override {
    return inner_.get_event(c, id);
  }
  storage::result<std::vector<delivery>> load_due_deliveries(const std::vector<int>& p, int64_t due,
                                                             int limit) override {
    return inner_.load_due_deliveries(p, due, limit);
  }
  storage::result<std::vector<delivery>> load_pending_for_webhook(const std::string& id,
                                                                  int limit) override {
    return inner_.load_pending_for_webhook(id, limit);
  }
  storage::result<std::vector<std::string>> webhooks_with_pending(
      const std::vector<int>& p) override {
    return inner_.webhooks_with_pending(p);
  }
  storage::result<std::vector<storage::pending_delivery>> load_pending_with_events(
      const std::string& id, storage::pending_order order, int limit) override {
    return inner_.load_pending_with_events(id, order, limit);
  }
  storage::status record_attempts(const std::vector<attempt_outcome>& outcomes) override {
    ++record_calls;
    if (down) {
      ++failed_calls;
      return storage::error{storage::errc::unavailable, "store outage (test)"};
    }
    return inner_.record_attempts(outcomes);
  }
  storage::result<delivery> get_delivery(const std::string& c, const std::string& id) override {
    return inner_.get_delivery(c, id);
  }
  storage::result<page<delivery>> list_deliveries(const std::string& c, const std::string& w,
                                                  const delivery_filter& f,
                                                  const page_request& r) override {
    return inner_.list_deliveries(c, w, f, r);
  }
  storage::result<std::vector<delivery>> list_event_deliveries(const std::string& c,
                                                               const std::string& e) override {
    return inner_.list_event_deliveries(c, e);
  }
  storage::result<std::vector<attempt>> list_attempts(const std::string& c,
                                                      const std::string& d) override {
    return inner_.list_attempts(c, d);
  }
  storage::result<delivery> requeue_delivery(const std::string& c, const std::string& id,
                                             int64_t due) override {
    return inner_.requeue_delivery(c, id, due);
  }
  storage::result<delivery> resend_delivery(const std::string& c, const std::string& id,
                                            int64_t now) override {
    return inner_.resend_delivery(c, id, now);
  }
  storage::result<attempt_feed> list_attempt_feed(const std::string& c,
                                                  const attempt_feed_request& r) override {
    return inner_.list_attempt_feed(c, r);
  }
  storage::result<page<dlq_entry>> list_dlq(const std::string& c, const dlq_filter& f,
                                            const page_request& r) override {
    return inner_.list_dlq(c, f, r);
  }
  storage::result<int64_t> count_dlq() override { return inner_.count_dlq(); }
  storage::result<std::vector<delivery>> replay_dlq(const std::string& c,
                                                    const std::vector<std::string>& ids,
                                                    int64_t now) override {
    return inner_.replay_dlq(c, ids, now);
  }
  storage::status heartbeat_node(const node& n) override { return inner_.heartbeat_node(n); }
  storage::result<std::vector<node>> list_nodes() override { return inner_.list_nodes(); }
  storage::result<bool> acquire_lease(int p, const std::string& n, int64_t now,
                                      int64_t until) override {
    return inner_.acquire_lease(p, n, now, until);
  }
  storage::result<std::vector<partition_lease>> list_leases() override {
    return inner_.list_leases();
  }

 private:
  storage::blocking_store& inner_;
};

attempt_outcome success_of(const delivery_job& job, int64_t at) {
  attempt_outcome o;
  o.att.delivery_id = job.row.id;
  o.att.attempt_no = 1;
  o.att.started_at = at;
  o.att.duration_ms = 2;
  o.att.status_code = 200;
  o.new_status = delivery_status::succeeded;
  return o;
}

/// Retries a few ms apart: a test's store outage lasts milliseconds.
store_writer_settings fast_retries() {
  store_writer_settings settings;
  settings.min_backoff = std::chrono::milliseconds(5);
  settings.max_backoff = std::chrono::milliseconds(40);
  return settings;
}

store_writer_stats stats_of(caf::scoped_actor& self, const store_writer_actor& writer) {
  store_writer_stats out;
  self->request(writer, std::chrono::seconds(5), state_atom::value)
      .receive([&](store_writer_stats& s) { out = s; },
               [&](caf::error& err) { FAIL("state: " << caf::to_string(err)); });
  return out;
}

}  // namespace

TEST_CASE("store_writer batches many outcomes into few transactions, answering after commit",
          "[unit]") {
  temp_store db;
  outage_store store(db.store());
  auto w = add_test_webhook(db.store(), "wh_batch");
  const int n = 1000;
  auto jobs = add_test_events(db.store(), {w}, n, "batch");
  auto cfg = make_actor_config();
  caf::actor_system sys{*cfg};
  {
    auto writer = spawn_store_writer(sys, store_writer_deps{&store, nullptr, {}});
    caf::scoped_actor self{sys};
    int64_t now = system_clock_source{}.now_ms();
    for (const auto& job : jobs) self->send(writer, record_atom::value, success_of(job, now));
    // Every reply comes after its outcome is committed: at that point the store shows it.
    int answered = 0;
    int committed_when_answered = 0;
    for (int i = 0; i < n; ++i) {
      self->receive(
          [&](caf::ok_atom) {
            ++answered;
            if (status_of(db.store(), jobs[static_cast<size_t>(i)].row.id) ==
                delivery_status::succeeded)
              ++committed_when_answered;
          },
          [&](caf::error& err) { FAIL("record: " << caf::to_string(err)); },
          caf::after(std::chrono::seconds(10)) >> [&] { FAIL("no answer"); });
    }
    CHECK(answered == n);
    CHECK(committed_when_answered == n);
    auto stats = stats_of(self, writer);
    CHECK(stats.recorded == static_cast<uint64_t>(n));
    CHECK(stats.queued == 0);
    CHECK(stats.transactions == static_cast<uint64_t>(store.record_calls.load()));
    // 1000 outcomes sent at once: a threshold of 256 and a 5 ms timer give a handful of
    // transactions, nowhere near one per outcome.
    CHECK(stats.transactions <= 20);
    CHECK(stats.transactions >= 1);
    self->send_exit(writer, caf::exit_reason::user_shutdown);
  }
  sys.await_all_actors_done();
}

TEST_CASE("store_writer keeps outcomes through a store outage and writes them when it is back",
          "[unit]") {
  temp_store db;
  outage_store store(db.store());
  auto w = add_test_webhook(db.store(), "wh_outage");
  auto jobs = add_test_events(db.store(), {w}, 20, "outage");
  auto cfg = make_actor_config();
  caf::actor_system sys{*cfg};
  {
    auto writer = spawn_store_writer(sys, store_writer_deps{&store, nullptr, fast_retries()});
    caf::scoped_actor self{sys};
    store.down = true;
    int64_t now = system_clock_source{}.now_ms();
    for (const auto& job : jobs) self->send(writer, record_atom::value, success_of(job, now));
    // It keeps trying (with backoff) and answers nobody while the store is down.
    REQUIRE(wait_until([&] { return store.failed_calls.load() >= 3; }));
    self->receive(
        [&](caf::ok_atom) { FAIL("answered during the outage"); },
        [&](caf::error& err) { FAIL("error during the outage: " << caf::to_string(err)); },
        caf::after(std::chrono::milliseconds(50)) >> [] {});
    CHECK(stats_of(self, writer).queued == jobs.size());
    CHECK(all_have_status(db.store(), jobs, delivery_status::pending));
    store.down = false;
    for (std::size_t i = 0; i < jobs.size(); ++i)
      self->receive([](caf::ok_atom) {},
                    [&](caf::error& err) { FAIL("record: " << caf::to_string(err)); },
                    caf::after(std::chrono::seconds(10)) >> [&] { FAIL("no answer"); });
    CHECK(all_have_status(db.store(), jobs, delivery_status::succeeded));
    auto stats = stats_of(self, writer);
    CHECK(stats.recorded == jobs.size());
    CHECK(stats.failures >= 3);
    CHECK(stats.rejected == 0);
    self->send_exit(writer, caf::exit_reason::user_shutdown);
  }
  sys.await_all_actors_done();
}

TEST_CASE("store_writer gives room once at most half its backlog limit is outstanding", "[unit]") {
  temp_store db;
  outage_store store(db.store());
  auto w = add_test_webhook(db.store(), "wh_room");
  auto jobs = add_test_events(db.store(), {w}, 6, "room");
  auto cfg = make_actor_config();
  caf::actor_system sys{*cfg};
  {
    auto backlog = std::make_shared<record_backlog>(4);
    auto writer = spawn_store_writer(
        sys, store_writer_deps{&store, nullptr, fast_retries(), nullptr, backlog});
    caf::scoped_actor self{sys};
    // Room at once while nothing is outstanding.
    self->request(writer, std::chrono::seconds(5), room_atom::value)
        .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });

    store.down = true;
    int64_t now = system_clock_source{}.now_ms();
    for (const auto& job : jobs) {
      backlog->sent();
      self->send(writer, record_atom::value, success_of(job, now));
    }
    CHECK(backlog->full());
    // Asked while full: no answer (a plain send gets its answer as a message, like the records).
    self->send(writer, room_atom::value);
    REQUIRE(wait_until([&] { return store.failed_calls.load() >= 2; }));
    self->receive([](caf::ok_atom) { FAIL("answered during the outage"); },
                  caf::after(std::chrono::milliseconds(50)) >> [] {});
    // The writer's state shows the hold: what is outstanding, the limit, one endpoint waiting.
    store_writer_stats held = stats_of(self, writer);
    CHECK(held.outstanding == jobs.size());
    CHECK(held.outstanding_limit == 4);
    CHECK(held.held_endpoints == 1);

    store.down = false;
    // Six record answers and the room answer, in some order.
    for (std::size_t i = 0; i < jobs.size() + 1; ++i)
      self->receive([](caf::ok_atom) {},
                    [&](caf::error& err) { FAIL("record: " << caf::to_string(err)); },
                    caf::after(std::chrono::seconds(10)) >> [&] { FAIL("no answer"); });
    // Counted out before the answers were sent.
    CHECK(wait_until([&] { return backlog->outstanding() == 0; }));
    CHECK_FALSE(backlog->full());
    store_writer_stats released = stats_of(self, writer);
    CHECK(released.outstanding == 0);
    CHECK(released.held_endpoints == 0);
    self->send_exit(writer, caf::exit_reason::user_shutdown);
  }
  sys.await_all_actors_done();
}

TEST_CASE("store_writer answers an outcome whose delivery is gone with an error, the rest ok",
          "[unit]") {
  temp_store db;
  auto w = add_test_webhook(db.store(), "wh_gone");
  auto jobs = add_test_events(db.store(), {w}, 3, "gone");
  delivery_job ghost = jobs[1];
  ghost.row.id = "msg_never_stored";
  auto cfg = make_actor_config();
  caf::actor_system sys{*cfg};
  {
    auto writer = spawn_store_writer(sys, store_writer_deps{db.get(), nullptr, {}});
    caf::scoped_actor self{sys};
    int64_t now = system_clock_source{}.now_ms();
    int ok = 0;
    int refused = 0;
    for (const auto& job : {jobs[0], ghost, jobs[2]})
      self->request(writer, caf::infinite, record_atom::value, success_of(job, now))
          .receive([&](caf::ok_atom) { ++ok; }, [&](caf::error&) { ++refused; });
    // Sent one after another above; now all three in one batch.
    auto more = add_test_events(db.store(), {w}, 2, "gone2");
    for (const auto& job : {more[0], ghost, more[1]})
      self->send(writer, record_atom::value, success_of(job, now));
    for (int i = 0; i < 3; ++i)
      self->receive([&](caf::ok_atom) { ++ok; }, [&](caf::error&) { ++refused; },
                    caf::after(std::chrono::seconds(10)) >> [&] { FAIL("no answer"); });
    CHECK(ok == 4);
    CHECK(refused == 2);
    CHECK(all_have_status(db.store(), {jobs[0], jobs[2], more[0], more[1]},
                          delivery_status::succeeded));
    CHECK(stats_of(self, writer).rejected == 2);
    // sync answers once everything before it is written.
    self->request(writer, std::chrono::seconds(5), sync_atom::value)
        .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });
    self->send_exit(writer, caf::exit_reason::user_shutdown);
  }
  sys.await_all_actors_done();
}

TEST_CASE("store_writer writes what it holds when told to stop", "[unit]") {
  temp_store db;
  auto w = add_test_webhook(db.store(), "wh_stop");
  auto jobs = add_test_events(db.store(), {w}, 10, "stop");
  auto cfg = make_actor_config();
  caf::actor_system sys{*cfg};
  {
    store_writer_settings settings;
    settings.flush_delay = std::chrono::hours(1);  // only the exit flushes
    auto writer = spawn_store_writer(sys, store_writer_deps{db.get(), nullptr, settings});
    caf::scoped_actor self{sys};
    int64_t now = system_clock_source{}.now_ms();
    for (const auto& job : jobs) self->send(writer, record_atom::value, success_of(job, now));
    REQUIRE(wait_until([&] {
      store_writer_stats s;
      self->request(writer, std::chrono::seconds(5), state_atom::value)
          .receive([&](store_writer_stats& x) { s = x; }, [](caf::error&) {});
      return s.queued == jobs.size();
    }));
    CHECK(all_have_status(db.store(), jobs, delivery_status::pending));
    self->send_exit(writer, caf::exit_reason::user_shutdown);
    for (std::size_t i = 0; i < jobs.size(); ++i)
      self->receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); },
                    caf::after(std::chrono::seconds(10)) >> [&] { FAIL("no answer"); });
  }
  sys.await_all_actors_done();
  CHECK(all_have_status(db.store(), jobs, delivery_status::succeeded));
}
