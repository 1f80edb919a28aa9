#include <sqlite3.h>
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/sqlite_store.hpp"

namespace fs = std::filesystem;
using namespace webhookd::storage;

namespace {

/// A fresh directory under the system temp dir, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "webhookd-sqlite-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::unique_ptr<blocking_store> open_ok(const std::string& path) {
  auto opened = open_sqlite_store_blocking(path);
  INFO((opened ? "" : opened.err().message));
  REQUIRE(opened.ok());
  return std::move(*opened);
}

/// Runs one SQL query on a separate raw connection and returns the first column of its first row.
std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::string value;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr)
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// Takes the file back to schema version 5, for tests of the migrations from there.
void undo_migration_6(const std::string& path) {
  for (const char* drop : {"TRIGGER dlq_size_insert", "TRIGGER dlq_size_update",
                           "TRIGGER dlq_size_delete", "TABLE dlq_size"})
    raw_query(path, std::string("DROP ") + drop);
  raw_query(path, "DELETE FROM schema_migrations WHERE version = 6");
}

webhook make_webhook(const std::string& id, const std::string& client) {
  webhook w;
  w.id = id;
  w.client_id = client;
  w.callback_url = "https://example.com/hook";
  w.event_types = {"invoice.*", "order.created"};
  w.signing_secret = "whsec_abc";
  w.created_at = w.updated_at = 1000;
  return w;
}

delivery make_delivery(const std::string& id, const event& ev, const std::string& webhook_id) {
  delivery d;
  d.id = id;
  d.client_id = ev.client_id;
  d.event_id = ev.event_id;
  d.event_type = ev.event_type;
  d.webhook_id = webhook_id;
  d.partition = partition_of(webhook_id);
  d.next_attempt_at = 2000;
  d.created_at = d.updated_at = 2000;
  return d;
}

/// An event of `client` fanned out to one delivery per webhook id (delivery id = "msg_" +
/// event id + "_" + webhook id).
new_event make_event(const std::string& client, const std::string& event_id,
                     const std::vector<std::string>& webhook_ids) {
  new_event item;
  item.ev.client_id = client;
  item.ev.event_id = event_id;
  item.ev.event_type = "invoice.paid";
  item.ev.payload = R"({"amount":5})";
  item.ev.source_id = "src_1";
  item.ev.timestamp = item.ev.received_at = 2000;
  for (const auto& wh : webhook_ids)
    item.deliveries.push_back(make_delivery("msg_" + event_id + "_" + wh, item.ev, wh));
  return item;
}

attempt_outcome failed_attempt(const std::string& delivery_id, int no, delivery_status next) {
  attempt_outcome o;
  o.att.delivery_id = delivery_id;
  o.att.attempt_no = no;
  o.att.started_at = 3000 + no;
  o.att.duration_ms = 10;
  o.att.status_code = 500;
  o.new_status = next;
  o.next_attempt_at = 5000;
  o.dlq_reason = "max attempts";
  return o;
}

}  // namespace

TEST_CASE("opening creates the file in WAL mode with the schema applied", "[sqlite]") {
  temp_dir dir;
  auto path = dir.file("store.db");
  auto store = open_ok(path);
  CHECK(fs::exists(path));
  CHECK(store->backend() == "sqlite");
  CHECK(store->ping().ok());
  auto version = store->schema_version();
  REQUIRE(version.ok());
  CHECK(*version >= 1);
  CHECK(raw_query(path, "PRAGMA journal_mode") == "wal");
}

TEST_CASE("the due index holds pending deliveries only", "[sqlite]") {
  temp_dir dir;
  auto path = dir.file("store.db");
  auto store = open_ok(path);
  auto sql = raw_query(path, "SELECT sql FROM sqlite_master WHERE name = 'deliveries_due'");
  CHECK(sql.find("WHERE status = 'pending'") != std::string::npos);
  CHECK(raw_query(path, "SELECT group_concat(name) FROM pragma_index_info('deliveries_due')") ==
        "partition,next_attempt_at");
}

TEST_CASE("migration 5 keeps one attempt per delivery and number, the first", "[sqlite]") {
  temp_dir dir;
  auto path = dir.file("store.db");
  open_ok(path);
  // The file as version 4 left it: a plain index, and copies of one attempt.
  raw_query(path, "DROP INDEX delivery_attempts_by_delivery");
  raw_query(path,
            "CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, "
            "attempt_no)");
  undo_migration_6(path);
  raw_query(path, "DELETE FROM schema_migrations WHERE version = 5");
  for (auto excerpt : {"first", "copy", "other"})
    raw_query(path, std::string("INSERT INTO delivery_attempts VALUES ('dl_1', ") +
                        (excerpt == std::string("other") ? "2" : "1") + ", 0, 0, 200, '', '" +
                        excerpt + "')");

  open_ok(path);
  CHECK(raw_query(path,
                  "SELECT group_concat(response_excerpt) FROM (SELECT response_excerpt "
                  "FROM delivery_attempts ORDER BY attempt_no)") == "first,other");
  CHECK(raw_query(path,
                  "SELECT \"unique\" FROM pragma_index_list('delivery_attempts') "
                  "WHERE name = 'delivery_attempts_by_delivery'") == "1");
}

TEST_CASE("migration 6 counts the DLQ entries already there, then keeps the count", "[sqlite]") {
  temp_dir dir;
  auto path = dir.file("store.db");
  open_ok(path);
  // The file as version 5 left it, with two waiting entries and a replayed one.
  undo_migration_6(path);
  for (auto [id, replayed] : {std::pair{"dl_1", 0}, {"dl_2", 0}, {"dl_3", 99}})
    raw_query(path, std::string("INSERT INTO dlq VALUES ('") + id +
                        "', 'acme', 'wh_1', 'evt', 'invoice.paid', 'HTTP 410', 1, " +
                        std::to_string(replayed) + ")");

  auto store = open_ok(path);
  CHECK(store->count_dlq().value() == 2);
  // The triggers keep it from here, whichever way a row changes.
  raw_query(path, "UPDATE dlq SET replayed_at = 5 WHERE delivery_id = 'dl_1'");
  CHECK(store->count_dlq().value() == 1);
  raw_query(path, "UPDATE dlq SET replayed_at = 0 WHERE delivery_id = 'dl_3'");
  CHECK(store->count_dlq().value() == 2);
  raw_query(path, "UPDATE dlq SET reason = 'other' WHERE delivery_id = 'dl_2'");
  CHECK(store->count_dlq().value() == 2);
  raw_query(path, "DELETE FROM dlq WHERE delivery_id IN ('dl_2', 'dl_1')");
  CHECK(store->count_dlq().value() == 1);
}

TEST_CASE("a path that can't be written fails at open with unavailable", "[sqlite]") {
  temp_dir dir;
  std::ofstream(dir.file("plain-file")) << "not a directory";
  auto path = GENERATE_COPY(dir.file("plain-file") + "/store.db", dir.file("missing/store.db"));
  auto opened = open_sqlite_store_blocking(path);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.err().code == errc::unavailable);
  CHECK_THAT(opened.err().message,
             Catch::StartsWith("cannot open SQLite store at '" + path + "': "));
}

TEST_CASE("reopening keeps the data and re-running migrations is a no-op", "[sqlite]") {
  temp_dir dir;
  auto path = dir.file("store.db");
  REQUIRE(open_ok(path)->insert_webhook(make_webhook("wh_1", "c1")));
  auto count_before = raw_query(path, "SELECT COUNT(*) FROM schema_migrations");

  auto store = open_ok(path);
  CHECK(raw_query(path, "SELECT COUNT(*) FROM schema_migrations") == count_before);
  CHECK(store->get_webhook("c1", "wh_1").ok());
}

TEST_CASE("a schema newer than the build is refused", "[sqlite]") {
  temp_dir dir;
  auto path = dir.file("store.db");
  open_ok(path);
  raw_query(path, "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)");
  auto opened = open_sqlite_store_blocking(path);
  REQUIRE_FALSE(opened.ok());
  CHECK_THAT(opened.err().message, Catch::Contains("newer"));
}

TEST_CASE("webhooks are scoped to their client, paged by id and fully replaced", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  for (auto id : {"wh_3", "wh_1", "wh_2"}) REQUIRE(store->insert_webhook(make_webhook(id, "c1")));
  REQUIRE(store->insert_webhook(make_webhook("wh_9", "c2")));

  auto dup = store->insert_webhook(make_webhook("wh_1", "c1"));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.err().code == errc::conflict);
  CHECK(store->get_webhook("c2", "wh_1").err().code == errc::not_found);

  auto first = store->list_webhooks("c1", {"", 2});
  REQUIRE(first.ok());
  REQUIRE(first->items.size() == 2);
  CHECK(first->items[0].id == "wh_1");
  CHECK(first->next_cursor == "wh_2");
  auto second = store->list_webhooks("c1", {first->next_cursor, 2});
  REQUIRE(second->items.size() == 1);
  CHECK(second->items[0].id == "wh_3");
  CHECK(second->next_cursor.empty());

  auto changed = make_webhook("wh_1", "c1");
  changed.event_types = {"*"};
  changed.ordered = true;
  changed.status = "paused";
  REQUIRE(store->update_webhook(changed));
  auto got = store->get_webhook("c1", "wh_1");
  CHECK(got->event_types == std::vector<std::string>{"*"});
  CHECK(got->ordered);
  CHECK(got->status == "paused");
  changed.client_id = "c2";
  CHECK(store->update_webhook(changed).err().code == errc::not_found);
}

TEST_CASE("append_events reports duplicates and writes no deliveries for them", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  REQUIRE(store->append_events({make_event("c1", "e1", {"wh_a"})}).ok());

  auto appended =
      store->append_events({make_event("c1", "e2", {"wh_a"}), make_event("c1", "e1", {"wh_b"}),
                            make_event("c1", "e2", {"wh_b"}), make_event("c2", "e1", {"wh_c"})});
  REQUIRE(appended.ok());
  CHECK(appended->duplicate == std::vector<bool>{false, true, true, false});
  CHECK(store->list_event_deliveries("c1", "e1")->size() == 1);
  CHECK(store->list_event_deliveries("c1", "e2")->size() == 1);
  CHECK(store->get_event("c2", "e1")->payload == R"({"amount":5})");
}

TEST_CASE("append_events is all or nothing", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  REQUIRE(store->append_events({make_event("c1", "e1", {"wh_a"})}).ok());

  auto clash = make_event("c1", "e3", {});
  clash.deliveries.push_back(make_delivery("msg_e1_wh_a", clash.ev, "wh_a"));  // id taken
  auto appended = store->append_events({make_event("c1", "e2", {"wh_a"}), clash});
  REQUIRE_FALSE(appended.ok());
  CHECK(appended.err().code == errc::conflict);
  CHECK(store->get_event("c1", "e2").err().code == errc::not_found);
  CHECK(store->get_event("c1", "e3").err().code == errc::not_found);
  CHECK(store->list_event_deliveries("c1", "e2")->empty());

  auto mismatched = make_event("c1", "e4", {"wh_a"});
  mismatched.deliveries[0].client_id = "c2";
  CHECK(store->append_events({mismatched}).err().code == errc::invalid);
}

TEST_CASE("concurrent appends from many threads are all stored", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  constexpr int threads = 4;
  constexpr int per_thread = 25;
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto id = "t" + std::to_string(t) + "_" + std::to_string(i);
        if (!store->append_events({make_event("c1", id, {"wh_a"})}).ok()) ++failures;
      }
    });
  for (auto& w : workers) w.join();
  CHECK(failures == 0);
  auto pending = store->load_pending_for_webhook("wh_a", 1000);
  REQUIRE(pending.ok());
  CHECK(pending->size() == threads * per_thread);
}

TEST_CASE("due deliveries come from the given partitions, oldest due first", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  auto late = make_event("c1", "e1", {"wh_a"});
  late.deliveries[0].next_attempt_at = 4000;
  auto early = make_event("c1", "e2", {"wh_a", "wh_b"});
  REQUIRE(store->append_events({late, early}).ok());
  int pa = partition_of("wh_a");
  REQUIRE(pa != partition_of("wh_b"));

  auto due = store->load_due_deliveries({pa}, 5000, 10);
  REQUIRE(due.ok());
  REQUIRE(due->size() == 2);
  CHECK(due->at(0).id == "msg_e2_wh_a");
  CHECK(due->at(1).id == "msg_e1_wh_a");
  CHECK(store->load_due_deliveries({pa}, 3000, 10)->size() == 1);
  CHECK(store->load_due_deliveries({pa}, 5000, 1)->size() == 1);
  CHECK(store->load_due_deliveries({}, 5000, 10)->empty());
}

TEST_CASE("deleting a webhook cancels its pending deliveries and keeps them", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  REQUIRE(store->insert_webhook(make_webhook("wh_a", "c1")));
  REQUIRE(store->append_events({make_event("c1", "e1", {"wh_a"}), make_event("c1", "e2", {"wh_a"})})
              .ok());
  auto done = failed_attempt("msg_e1_wh_a", 1, delivery_status::succeeded);
  done.att.status_code = 200;
  REQUIRE(store->record_attempts({done}));

  CHECK(store->delete_webhook("c2", "wh_a").err().code == errc::not_found);
  auto cancelled = store->delete_webhook("c1", "wh_a");
  REQUIRE(cancelled.ok());
  CHECK(*cancelled == 1);
  CHECK(store->get_webhook("c1", "wh_a").err().code == errc::not_found);
  CHECK(store->get_delivery("c1", "msg_e2_wh_a")->status == delivery_status::cancelled);
  CHECK(store->get_delivery("c1", "msg_e1_wh_a")->status == delivery_status::succeeded);
  CHECK(store->list_attempts("c1", "msg_e1_wh_a")->size() == 1);
}

TEST_CASE("attempts update their delivery; a final failure enters the DLQ", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  REQUIRE(store->append_events({make_event("c1", "e1", {"wh_a"})}).ok());
  auto transport = failed_attempt("msg_e1_wh_a", 1, delivery_status::pending);
  transport.att.status_code = 0;
  transport.att.error = "connection refused";
  REQUIRE(store->record_attempts({transport}));
  auto d = store->get_delivery("c1", "msg_e1_wh_a");
  CHECK(d->attempts == 1);
  CHECK(d->next_attempt_at == 5000);
  CHECK(d->last_error == "connection refused");
  CHECK(store->list_dlq("c1", {}, {})->items.empty());

  REQUIRE(store->record_attempts({failed_attempt("msg_e1_wh_a", 2, delivery_status::failed)}));
  d = store->get_delivery("c1", "msg_e1_wh_a");
  CHECK(d->status == delivery_status::failed);
  CHECK(d->last_error == "HTTP 500");
  auto attempts = store->list_attempts("c1", "msg_e1_wh_a");
  REQUIRE(attempts->size() == 2);
  CHECK(attempts->at(0).error == "connection refused");
  CHECK(attempts->at(1).status_code == 500);
  CHECK(store->list_attempts("c2", "msg_e1_wh_a").err().code == errc::not_found);

  auto dlq = store->list_dlq("c1", {}, {});
  REQUIRE(dlq->items.size() == 1);
  CHECK(dlq->items[0].webhook_id == "wh_a");
  CHECK(dlq->items[0].reason == "max attempts");
  CHECK(store->list_dlq("c2", {}, {})->items.empty());

  auto unknown = store->record_attempts({failed_attempt("msg_nope", 1, delivery_status::pending)});
  CHECK(unknown.err().code == errc::not_found);
}

TEST_CASE("replaying the DLQ requeues each entry once", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  REQUIRE(store->append_events({make_event("c1", "e1", {"wh_a"})}).ok());
  REQUIRE(store->record_attempts({failed_attempt("msg_e1_wh_a", 1, delivery_status::failed)}));

  CHECK(store->replay_dlq("c2", {"msg_e1_wh_a"}, 9000)->empty());
  auto replayed = store->replay_dlq("c1", {"msg_e1_wh_a", "msg_e1_wh_a", "msg_x"}, 9000);
  REQUIRE(replayed.ok());
  REQUIRE(replayed->size() == 1);
  CHECK(replayed->at(0).status == delivery_status::pending);
  CHECK(replayed->at(0).next_attempt_at == 9000);
  CHECK(replayed->at(0).attempts == 1);
  CHECK(store->list_dlq("c1", {}, {})->items.empty());
  dlq_filter all;
  all.include_replayed = true;
  CHECK(store->list_dlq("c1", all, {})->items.at(0).replayed_at == 9000);

  // Failing again puts it back in the DLQ, unreplayed.
  REQUIRE(store->record_attempts({failed_attempt("msg_e1_wh_a", 2, delivery_status::failed)}));
  CHECK(store->list_dlq("c1", {}, {})->items.size() == 1);
}

TEST_CASE("a lease goes to one node until it expires", "[sqlite]") {
  temp_dir dir;
  auto store = open_ok(dir.file("store.db"));
  CHECK(*store->acquire_lease(7, "n1", 1000, 2000));
  CHECK_FALSE(*store->acquire_lease(7, "n2", 1500, 2500));
  CHECK(*store->acquire_lease(7, "n1", 1900, 3000));
  CHECK_FALSE(*store->acquire_lease(7, "n2", 3000, 4000));
  CHECK(*store->acquire_lease(7, "n2", 3001, 4000));
  auto leases = store->list_leases();
  REQUIRE(leases->size() == 1);
  CHECK(leases->at(0).node_id == "n2");
  CHECK(leases->at(0).expires_at == 4000);
}
