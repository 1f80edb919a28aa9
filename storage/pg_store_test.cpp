// PostgreSQL-specific behaviour of the store: migrations under concurrent opens, daily event
// partitions, connection failures and recovery, the pool under load. The behaviour shared with
// SQLite is tested by the conformance suite in tests/store/. Needs a server: run under
// scripts/with-postgres.sh, which sets WEBHOOKD_TEST_PG_URL.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "storage/pg_pool.hpp"
#include "storage/pg_schema.hpp"
#include "storage/pg_store.hpp"
#include "storage/pg_test_support.hpp"

using namespace webhookd::storage;

namespace {

constexpr int64_t day_ms = 86'400'000;
constexpr int64_t t0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

std::string admin_url() {
  const char* url = std::getenv("WEBHOOKD_TEST_PG_URL");
  if (url == nullptr || *url == '\0')
    FAIL(
        "WEBHOOKD_TEST_PG_URL is not set: the [pg] tests need a PostgreSQL server; run them "
        "under scripts/with-postgres.sh, e.g. scripts/with-postgres.sh "
        "build/storage/pg_store_test");
  return url;
}

std::string describe(const error& e) {
  return std::string(to_string(e.code)) + ": " + e.message;
}

template <class T>
T take(result<T> r) {
  INFO((r.ok() ? std::string("ok") : describe(r.err())));
  REQUIRE(r.ok());
  return std::move(r.value());
}

void take(const status& s) {
  INFO((s.ok() ? std::string("ok") : describe(s.err())));
  REQUIRE(s.ok());
}

/// A fresh database on the test server, dropped at the end of the test case.
class scratch_database {
 public:
  scratch_database() : admin_(admin_url()) {
    static std::atomic<int> counter{0};
    name_ = "webhookd_pg_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    url_ = take(create_scratch_database_blocking(admin_, name_));
  }
  ~scratch_database() {
    auto dropped = drop_scratch_database_blocking(admin_, name_);
    if (!dropped.ok()) WARN("dropping " << name_ << ": " << describe(dropped.err()));
  }

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  std::unique_ptr<blocking_store> open(int pool_size = 2) const {
    return take(open_pg_store_blocking(url_, pool_size));
  }

  /// Runs SQL directly on the scratch database (to inspect or sabotage it).
  pqxx::result sql(const std::string& statement) const {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    tx.exec("SET client_min_messages = warning");
    return tx.exec(statement);
  }

  /// Runs SQL on the admin database of the server.
  pqxx::result admin_sql(const std::string& statement) const {
    pqxx::connection conn(admin_);
    pqxx::nontransaction tx(conn);
    return tx.exec(statement);
  }

  /// Sessions connected to the scratch database, not counting the one asking.
  int sessions() const {
    return admin_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + name_ + "'")[0][0]
        .as<int>();
  }

 private:
  std::string admin_;
  std::string name_;
  std::string url_;
};

webhook make_webhook(const std::string& client_id, const std::string& id) {
  webhook w;
  w.id = id;
  w.client_id = client_id;
  w.callback_url = "https://example.com/hook";
  w.event_types = {"invoice.*"};
  w.signing_secret = "whsec_x";
  w.created_at = w.updated_at = t0;
  return w;
}

/// An event received at `received_at` with one pending delivery per webhook id.
new_event make_event(const std::string& client_id, const std::string& event_id, int64_t received_at,
                     const std::vector<std::string>& webhook_ids) {
  new_event ne;
  ne.ev = event{client_id,         event_id, "invoice.paid", received_at,
                R"({"amount":1})", "src_1",  received_at};
  for (const auto& webhook_id : webhook_ids) {
    delivery d;
    d.id = "msg_" + event_id + "_" + webhook_id;
    d.client_id = client_id;
    d.event_id = event_id;
    d.event_type = "invoice.paid";
    d.webhook_id = webhook_id;
    d.partition = partition_of(webhook_id);
    d.next_attempt_at = received_at;
    d.created_at = d.updated_at = received_at;
    ne.deliveries.push_back(d);
  }
  return ne;
}

attempt_outcome outcome(const std::string& delivery_id, int attempt_no, delivery_status st,
                        int64_t started_at, int status_code) {
  attempt_outcome o;
  o.att.delivery_id = delivery_id;
  o.att.attempt_no = attempt_no;
  o.att.started_at = started_at;
  o.att.duration_ms = 10;
  o.att.status_code = status_code;
  o.new_status = st;
  o.next_attempt_at = started_at + 5000;
  o.dlq_reason = st == delivery_status::failed ? "gave up" : "";
  return o;
}

/// A loopback port nothing listens on.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Waits (up to 10 s) until `done()` holds; returns whether it did.
template <class Condition>
bool wait_until(Condition done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::vector<std::string> event_partitions(const scratch_database& db) {
  std::vector<std::string> out;
  for (const auto& row : db.sql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON "
                                "c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass "
                                "ORDER BY c.relname"))
    out.push_back(row[0].as<std::string>());
  return out;
}

std::string partition_name(int64_t unix_ms) {
  auto day = pg_day_text(pg_day_of(unix_ms));  // YYYY-MM-DD
  return "events_p" + day.substr(0, 4) + day.substr(5, 2) + day.substr(8, 2);
}

}  // namespace

TEST_CASE("parse_pg_target appends connect_timeout and names host:port", "[pg]") {
  auto plain = take(parse_pg_target("postgresql://app:hunter2@db.internal:5433/webhookd"));
  CHECK(plain.conninfo == "postgresql://app:hunter2@db.internal:5433/webhookd?connect_timeout=5");
  CHECK(plain.endpoint == "db.internal:5433");

  auto with_query = take(parse_pg_target("postgres://app@db.internal/webhookd?sslmode=disable"));
  CHECK(with_query.conninfo ==
        "postgres://app@db.internal/webhookd?sslmode=disable&connect_timeout=5");
  CHECK(with_query.endpoint == "db.internal:5432");

  auto own_timeout = take(parse_pg_target("postgresql://db.internal/x?connect_timeout=2"));
  CHECK(own_timeout.conninfo == "postgresql://db.internal/x?connect_timeout=2");

  auto keywords = take(parse_pg_target("host=10.0.0.7 port=6432 dbname='web hooks' user=app"));
  CHECK(keywords.conninfo ==
        "host=10.0.0.7 port=6432 dbname='web hooks' user=app connect_timeout=5");
  CHECK(keywords.endpoint == "10.0.0.7:6432");

  CHECK(take(parse_pg_target("postgresql://[::1]:5999/x")).endpoint == "[::1]:5999");
  CHECK(take(parse_pg_target("postgresql:///x?host=%2Fvar%2Frun%2Fpostgresql")).endpoint ==
        "/var/run/postgresql:5432");

  for (const char* bad : {"postgresql://db.internal:54x2/x", "postgresql://db/x?sslmode",
                          "postgresql://db/x?port=abc", "host=db port", "postgresql://[::1/x"}) {
    INFO(bad);
    auto malformed = parse_pg_target(bad);
    REQUIRE_FALSE(malformed.ok());
    CHECK(malformed.err().code == errc::invalid);
  }
}

TEST_CASE("opening an unreachable server fails fast with unavailable and one clean line", "[pg]") {
  const int port = closed_port();
  auto started = std::chrono::steady_clock::now();
  auto opened = open_pg_store_blocking(
      "postgresql://app:hunter2@127.0.0.1:" + std::to_string(port) + "/x", 2);
  auto took = std::chrono::steady_clock::now() - started;

  REQUIRE_FALSE(opened.ok());
  const auto& err = opened.err();
  INFO(err.message);
  CHECK(err.code == errc::unavailable);
  CHECK(err.message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(err.message.find("hunter2") == std::string::npos);
  CHECK(err.message.find('\n') == std::string::npos);
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("open rejects a malformed url and a pool without connections", "[pg]") {
  auto malformed = open_pg_store_blocking("postgresql://db.internal:54x2/x", 2);
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.err().code == errc::invalid);

  scratch_database db;
  auto no_pool = open_pg_store_blocking(db.url(), 0);
  REQUIRE_FALSE(no_pool.ok());
  CHECK(no_pool.err().code == errc::invalid);
}

TEST_CASE("migrations are recorded once, also when several nodes open at the same time", "[pg]") {
  scratch_database db;
  constexpr int nodes = 4;
  std::vector<std::string> failures(nodes);
  std::vector<std::thread> threads;
  for (int i = 0; i < nodes; ++i)
    threads.emplace_back([&, i] {
      auto opened = open_pg_store_blocking(db.url(), 1);
      if (!opened.ok()) failures[i] = describe(opened.err());
    });
  for (auto& t : threads) t.join();
  for (const auto& failure : failures) CHECK(failure.empty());

  auto store = db.open();
  CHECK(store->backend() == "postgresql");
  CHECK(take(store->schema_version()) == latest_pg_schema_version());
  auto versions = db.sql("SELECT version FROM schema_migrations ORDER BY version");
  REQUIRE(versions.size() == static_cast<size_t>(latest_pg_schema_version()));
  for (size_t i = 0; i < versions.size(); ++i) CHECK(versions[i][0].as<int>() == int(i) + 1);
  take(store->ping());
}

TEST_CASE("a database migrated by a newer build is refused with one line", "[pg]") {
  scratch_database db;
  db.open();
  db.sql("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)");
  auto opened = open_pg_store_blocking(db.url(), 1);
  REQUIRE_FALSE(opened.ok());
  INFO(opened.err().message);
  CHECK(opened.err().code == errc::internal);
  CHECK(opened.err().message.find("999") != std::string::npos);
  CHECK(opened.err().message.find('\n') == std::string::npos);
}

TEST_CASE("get_event reads only the partition of the event's day", "[pg]") {
  scratch_database db;
  auto store = db.open();
  std::vector<new_event> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(make_event("c1", "ev_" + std::to_string(i), t0 + i * day_ms, {"wh_1"}));
  take(store->append_events(batch));
  auto plan = db.sql(
      "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM events WHERE "
      "client_id = 'c1' AND event_id = 'ev_3' AND received_day = (SELECT received_day FROM "
      "event_keys WHERE client_id = 'c1' AND event_id = 'ev_3')");
  std::string text;
  for (const auto& row : plan) text += row[0].as<std::string>() + "\n";
  INFO(text);
  CHECK(text.find(partition_name(t0 + 3 * day_ms)) != std::string::npos);
  CHECK(text.find("(never executed)") != std::string::npos);  // the other days' partitions
  CHECK(take(store->get_event("c1", "ev_3")).received_at == t0 + 3 * day_ms);
}

TEST_CASE("events go to daily partitions made on demand; dedup spans every day", "[pg]") {
  scratch_database db;
  auto store = db.open();
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto at_open = event_partitions(db);
  CHECK(at_open ==
        std::vector<std::string>{partition_name(now_ms), partition_name(now_ms + day_ms)});

  take(store->insert_webhook(make_webhook("c1", "wh_1")));
  const std::vector<int64_t> days{t0, t0 + day_ms, t0 + 40 * day_ms, 0};
  std::vector<new_event> batch;
  for (size_t i = 0; i < days.size(); ++i)
    batch.push_back(make_event("c1", "ev_" + std::to_string(i), days[i], {"wh_1"}));
  CHECK(take(store->append_events(batch)).duplicate == std::vector<bool>(days.size(), false));

  auto partitions = event_partitions(db);
  for (size_t i = 0; i < days.size(); ++i) {
    INFO("event " << i);
    auto where = db.sql("SELECT tableoid::regclass::text FROM events WHERE event_id = 'ev_" +
                        std::to_string(i) + "'");
    REQUIRE(where.size() == 1);
    CHECK(where[0][0].as<std::string>() == partition_name(days[i]));
    CHECK(take(store->get_event("c1", "ev_" + std::to_string(i))).received_at == days[i]);
  }
  CHECK(partitions.size() == at_open.size() + days.size());
  CHECK(partition_name(0) == "events_p19700101");

  // The same event id on another day is still a duplicate.
  auto again = make_event("c1", "ev_0", t0 + 3 * day_ms, {"wh_1"});
  again.deliveries[0].id = "msg_other";
  CHECK(take(store->append_events({again})).duplicate == std::vector<bool>{true});
  CHECK(db.sql("SELECT 1 FROM deliveries WHERE id = 'msg_other'").empty());
}

TEST_CASE("a partition dropped behind the store's back is made again", "[pg]") {
  scratch_database db;
  auto store = db.open();
  take(store->append_events({make_event("c1", "ev_1", t0, {"wh_1"})}));
  db.sql("DROP TABLE " + partition_name(t0));

  CHECK(take(store->append_events({make_event("c1", "ev_2", t0 + 1, {"wh_1"})})).duplicate ==
        std::vector<bool>{false});
  CHECK(take(store->get_event("c1", "ev_2")).received_at == t0 + 1);
  auto reopened = db.open();
  CHECK(take(reopened->get_event("c1", "ev_2")).event_id == "ev_2");
}

TEST_CASE("a batch of 500 events is stored at once and is all duplicates the second time", "[pg]") {
  scratch_database db;
  auto store = db.open();
  std::vector<new_event> batch;
  for (int i = 0; i < 500; ++i)
    batch.push_back(make_event("c1", "ev_" + std::to_string(i), t0 + i, {"wh_a", "wh_b"}));
  batch.push_back(batch[17]);  // a repeat within the batch

  auto first = take(store->append_events(batch));
  REQUIRE(first.duplicate.size() == 501);
  CHECK(std::count(first.duplicate.begin(), first.duplicate.end(), true) == 1);
  CHECK(first.duplicate.back());
  CHECK(db.sql("SELECT count(*) FROM deliveries")[0][0].as<int>() == 1000);
  CHECK(take(store->load_due_deliveries({partition_of("wh_a")}, t0 + 1000, 2000)).size() == 500);

  auto second = take(store->append_events(batch));
  CHECK(second.duplicate == std::vector<bool>(501, true));
  CHECK(db.sql("SELECT count(*) FROM events")[0][0].as<int>() == 500);
}

TEST_CASE("overlapping batches in opposite orders neither deadlock nor double-store", "[pg]") {
  scratch_database db;
  auto store = db.open(4);
  constexpr int rounds = 30;
  constexpr int width = 20;
  std::vector<std::vector<std::string>> errors(2);
  std::vector<int> stored(2, 0);
  std::vector<std::thread> threads;
  for (int th = 0; th < 2; ++th)
    threads.emplace_back([&, th] {
      for (int r = 0; r < rounds; ++r) {
        std::vector<new_event> batch;
        for (int i = 0; i < width; ++i) {
          int k = th == 0 ? i : width - 1 - i;
          auto ne = make_event("c1", "ev_" + std::to_string(r) + "_" + std::to_string(k), t0,
                               {"wh_" + std::to_string(th)});
          batch.push_back(ne);
        }
        auto appended = store->append_events(batch);
        if (!appended.ok()) {
          errors[th].push_back(describe(appended.err()));
          continue;
        }
        for (bool dup : appended->duplicate) stored[th] += dup ? 0 : 1;
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    INFO((e.empty() ? "" : e[0]));
    CHECK(e.empty());
  }
  CHECK(stored[0] + stored[1] == rounds * width);
  CHECK(db.sql("SELECT count(*) FROM deliveries")[0][0].as<int>() == rounds * width);
}

TEST_CASE("outcomes: the last one of a delivery decides; an unknown delivery writes nothing",
          "[pg]") {
  scratch_database db;
  auto store = db.open();
  take(store->append_events({make_event("c1", "ev_1", t0, {"wh_1"})}));
  const std::string id = "msg_ev_1_wh_1";

  take(store->record_attempts({outcome(id, 1, delivery_status::pending, t0 + 10, 500),
                               outcome(id, 2, delivery_status::failed, t0 + 20, 404)}));
  auto d = take(store->get_delivery("c1", id));
  CHECK(d.status == delivery_status::failed);
  CHECK(d.attempts == 2);
  CHECK(d.last_error == "HTTP 404");
  CHECK(d.updated_at == t0 + 30);
  CHECK(take(store->list_attempts("c1", id)).size() == 2);
  auto dlq = take(store->list_dlq("c1", dlq_filter{}, page_request{})).items;
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].created_at == t0 + 30);
  CHECK(dlq[0].reason == "gave up");

  auto missing =
      store->record_attempts({outcome(id, 3, delivery_status::succeeded, t0 + 40, 200),
                              outcome("msg_nope", 1, delivery_status::succeeded, t0 + 40, 200)});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.err().code == errc::not_found);
  CHECK(take(store->get_delivery("c1", id)).attempts == 2);
  CHECK(take(store->list_attempts("c1", id)).size() == 2);
}

TEST_CASE("replay_dlq returns the requeued deliveries in the order asked", "[pg]") {
  scratch_database db;
  auto store = db.open();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto ev = "ev_" + std::to_string(i);
    take(store->append_events({make_event("c1", ev, t0, {"wh_1"})}));
    ids.push_back("msg_" + ev + "_wh_1");
    take(store->record_attempts({outcome(ids.back(), 1, delivery_status::failed, t0, 400)}));
  }
  auto replayed = take(store->replay_dlq("c1", {ids[2], ids[0], ids[2], ids[1]}, t0 + 99));
  REQUIRE(replayed.size() == 3);
  CHECK(replayed[0].id == ids[2]);
  CHECK(replayed[1].id == ids[0]);
  CHECK(replayed[2].id == ids[1]);
  CHECK(replayed[0].next_attempt_at == t0 + 99);
}

TEST_CASE("text that PostgreSQL can't hold is invalid, not internal", "[pg]") {
  scratch_database db;
  auto store = db.open();
  auto bad_utf8 = make_event("c1", "ev_1", t0, {"wh_1"});
  bad_utf8.ev.payload = "{\"x\":\"\xff\xfe\"}";
  auto appended = store->append_events({bad_utf8});
  REQUIRE_FALSE(appended.ok());
  CHECK(appended.err().code == errc::invalid);

  auto w = make_webhook("c1", "wh_1");
  w.description = "bad \xc3";
  auto inserted = store->insert_webhook(w);
  REQUIRE_FALSE(inserted.ok());
  CHECK(inserted.err().code == errc::invalid);
  take(store->ping());
}

TEST_CASE("the store reconnects after its connections are killed", "[pg]") {
  scratch_database db;
  auto store = db.open(2);
  take(store->insert_webhook(make_webhook("c1", "wh_1")));
  REQUIRE(db.sessions() >= 1);

  db.admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
               db.name() + "'");
  REQUIRE(wait_until([&] { return db.sessions() == 0; }));

  // Each dead pooled connection fails one call with unavailable; then a new one is made.
  int failures = 0;
  for (;;) {
    auto got = store->get_webhook("c1", "wh_1");
    if (got.ok()) break;
    INFO(describe(got.err()));
    CHECK(got.err().code == errc::unavailable);
    CHECK(got.err().message.find(":") != std::string::npos);
    REQUIRE(++failures <= 2);
  }
  CHECK(failures >= 1);
  take(store->ping());
  take(store->insert_webhook(make_webhook("c1", "wh_2")));
}

TEST_CASE("many threads share a small pool without errors or extra connections", "[pg]") {
  scratch_database db;
  auto store = db.open(2);
  constexpr int threads = 8;
  constexpr int per_thread = 40;
  std::vector<std::vector<std::string>> errors(threads);
  std::vector<std::thread> workers;
  for (int th = 0; th < threads; ++th)
    workers.emplace_back([&, th] {
      for (int i = 0; i < per_thread; ++i) {
        auto ev = "ev_" + std::to_string(th) + "_" + std::to_string(i);
        auto appended = store->append_events({make_event("c1", ev, t0, {"wh_1"})});
        if (!appended.ok()) errors[th].push_back(describe(appended.err()));
        auto got = store->get_event("c1", ev);
        if (!got.ok()) errors[th].push_back(describe(got.err()));
      }
    });
  for (auto& w : workers) w.join();
  for (const auto& e : errors) {
    INFO((e.empty() ? "" : e[0]));
    CHECK(e.empty());
  }
  CHECK(db.sessions() <= 2);
  CHECK(take(store->load_pending_for_webhook("wh_1", 1000)).size() == threads * per_thread);
}

TEST_CASE("scratch databases are created empty and dropped", "[pg]") {
  auto admin = admin_url();
  const std::string name = "webhookd_pg_scratch_" + std::to_string(::getpid());
  auto url = take(create_scratch_database_blocking(admin, name));
  CHECK(url.find("/" + name) != std::string::npos);
  {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    CHECK(tx.exec("SELECT current_database()")[0][0].as<std::string>() == name);
    CHECK(tx.exec("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0].as<int>() ==
          0);
  }
  take(drop_scratch_database_blocking(admin, name));
  take(drop_scratch_database_blocking(admin, name));  // already gone is fine
  pqxx::connection conn(admin);
  pqxx::nontransaction tx(conn);
  CHECK(tx.exec("SELECT 1 FROM pg_database WHERE datname = '" + name + "'").empty());

  auto bad = create_scratch_database_blocking(admin, "Robert'); DROP TABLE x;--");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().code == errc::invalid);
}
