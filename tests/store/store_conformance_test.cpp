// The store conformance suite: every case runs against the backend chosen by
// WEBHOOKD_TEST_BACKEND (ctest runs it twice: store_conformance_sqlite and store_conformance_pg).
// Each case gets a fresh store; the contract tested is the doc comments of storage/store.hpp.

#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/store/store_fixture.hpp"

using namespace webhookd::storage;
using namespace webhookd::storage::test;

namespace {

const std::string client_a = "client_a";
const std::string client_b = "client_b";

/// Every partition: load_due_deliveries over the whole store.
std::vector<int> all_partitions() {
  std::vector<int> out;
  for (int p = 0; p < partition_count; ++p) out.push_back(p);
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> dlq_ids(const std::vector<dlq_entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.delivery_id);
  return sorted(out);
}

std::vector<std::string> event_type_names(const std::vector<event_type>& types) {
  std::vector<std::string> out;
  for (const auto& t : types) out.push_back(t.name);
  return sorted(out);
}

/// The same event id as `id`, otherwise the event `ne` (its deliveries renamed along).
new_event with_event_id(new_event ne, const std::string& id) {
  ne.ev.event_id = id;
  for (auto& d : ne.deliveries) d.event_id = id;
  return ne;
}

/// A delivery as it should read back after `expected.status`/`attempts`/`next_attempt_at` were
/// changed by the store; fields the store derives from nowhere but the caller are compared.
void check_state(const delivery& actual, delivery_status status, int attempts,
                 int64_t next_attempt_at = -1) {
  INFO("delivery " << actual.id);
  CHECK(actual.status == status);
  CHECK(actual.attempts == attempts);
  if (next_attempt_at >= 0) CHECK(actual.next_attempt_at == next_attempt_at);
}

/// A foreign or unknown parent must show no rows: either not_found or an empty list.
template <class T>
void check_hidden(const result<std::vector<T>>& r, const char* expr) {
  INFO(expr << " -> " << describe(r));
  if (r.ok())
    CHECK(r->empty());
  else
    CHECK(r.err().code == errc::not_found);
}
template <class T>
void check_hidden(const result<page<T>>& r, const char* expr) {
  INFO(expr << " -> " << describe(r));
  if (r.ok())
    CHECK(r->items.empty());
  else
    CHECK(r.err().code == errc::not_found);
}
#define STORE_HIDDEN(expr) check_hidden((expr), #expr)

/// All rows of a paginated listing, and the size of each page.
template <class T>
struct all_pages {
  std::vector<T> rows;
  std::vector<size_t> page_sizes;
};

/// Follows next_cursor from the first page until it comes back empty.
template <class T, class Fetch>
all_pages<T> read_all_pages(Fetch fetch, int limit) {
  all_pages<T> out;
  page_request req;
  req.limit = limit;
  for (int pages = 0; pages < 1000; ++pages) {
    page<T> p = STORE_OK(fetch(req));
    CHECK(p.items.size() <= static_cast<size_t>(limit));
    out.page_sizes.push_back(p.items.size());
    out.rows.insert(out.rows.end(), p.items.begin(), p.items.end());
    if (p.next_cursor.empty()) return out;
    REQUIRE(p.next_cursor != req.after);
    req.after = p.next_cursor;
  }
  FAIL("pagination never returned an empty next_cursor");
  return out;
}

/// A webhook of `client` whose id falls in `partition`.
webhook add_webhook_in(store_fixture& f, const std::string& client, int partition) {
  for (;;) {
    auto w = f.make_webhook(client);
    if (partition_of(w.id) == partition) {
      STORE_OK(f.store().insert_webhook(w));
      return w;
    }
  }
}

/// A webhook of `client` whose id falls in none of `taken`.
webhook add_webhook_outside(store_fixture& f, const std::string& client,
                            const std::set<int>& taken) {
  for (;;) {
    auto w = f.make_webhook(client);
    if (taken.count(partition_of(w.id)) == 0) {
      STORE_OK(f.store().insert_webhook(w));
      return w;
    }
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Opening and migrations

TEST_CASE_METHOD(store_fixture, "opening a store applies the migrations; reopening keeps them",
                 "[store]") {
  CHECK(store().backend() == where().store_name());
  auto version = STORE_OK(store().schema_version());
  CHECK(version > 0);
  STORE_OK(store().ping());

  SECTION("reopening the same store keeps the version and works") {
    reopen();
    CHECK(STORE_OK(store().schema_version()) == version);
    STORE_OK(store().ping());
    auto w = add_webhook(client_a);
    check_same(STORE_OK(store().get_webhook(client_a, w.id)), w);
  }

  SECTION("a second handle on the same store sees the first one's writes") {
    auto second = STORE_OK(open_store_blocking(store_settings{where().url(), 2}));
    CHECK(STORE_OK(second->schema_version()) == version);
    auto w = add_webhook(client_a);
    check_same(STORE_OK(second->get_webhook(client_a, w.id)), w);
  }
}

// ------------------------------------------------------------------------------------------------
// Webhooks

TEST_CASE_METHOD(store_fixture, "webhook CRUD round-trips every field", "[store]") {
  auto w = make_webhook(client_a);
  w.callback_url = "https://receiver.example/hooks?x=1&y='2'";
  w.event_types = {"invoice.paid", "user.*", "*"};
  w.trigger_conditions = R"({"all":[{"path":"data.amount","op":"gt","value":100}]})";
  w.retry_policy = R"({"max_attempts":3,"schedule":[0,1.5,30]})";
  w.rate_limit = 17;
  w.priority = "high";
  w.ordered = true;
  w.public_key = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqh\n-----END PUBLIC KEY-----\n";
  w.encrypt_fields = R"(["data.card","data.ssn"])";
  w.timeout_ms = 2500;
  w.headers = R"({"X-Team":"payments \"core\"","X-Name":"Zoë ✓"})";
  w.description = "line one\nline two, it's 'quoted'; DROP TABLE webhooks; --";
  w.status = "paused";
  w.disabled_reason = "paused by operator";
  w.signing_secret = "whsec_c2VjcmV0LW9uZQ==";
  w.previous_secret = "whsec_b2xkLXNlY3JldA==";
  w.previous_secret_expires_at = now() + 86'400'000;
  STORE_OK(store().insert_webhook(w));

  check_same(STORE_OK(store().get_webhook(client_a, w.id)), w);
  auto listed = STORE_OK(store().list_webhooks(client_a, page_request{}));
  REQUIRE(listed.items.size() == 1);
  check_same(listed.items[0], w);
  CHECK(listed.next_cursor.empty());

  SECTION("update replaces every field") {
    webhook u = w;
    u.callback_url = "https://other.example/in";
    u.event_types = {"order.shipped"};
    u.trigger_conditions = "";
    u.retry_policy = R"({"max_attempts":5,"initial":1,"multiplier":2,"max":60})";
    u.rate_limit = 5000;
    u.priority = "bulk";
    u.ordered = false;
    u.public_key = "";
    u.encrypt_fields = "";
    u.timeout_ms = 0;
    u.headers = R"({"X-Other":"1"})";
    u.description = "updated";
    u.status = "disabled";
    u.disabled_reason = "endpoint answered 410 Gone";
    u.signing_secret = "whsec_bmV3LXNlY3JldA==";
    u.previous_secret = w.signing_secret;
    u.previous_secret_expires_at = now() + 3'600'000;
    u.updated_at = now() + 5;
    STORE_OK(store().update_webhook(u));
    check_same(STORE_OK(store().get_webhook(client_a, w.id)), u);
  }

  SECTION("delete removes it") {
    CHECK(STORE_OK(store().delete_webhook(client_a, w.id)) == 0);
    STORE_ERR(store().get_webhook(client_a, w.id), not_found);
    CHECK(STORE_OK(store().list_webhooks(client_a, page_request{})).items.empty());
    STORE_ERR(store().delete_webhook(client_a, w.id), not_found);
  }

  SECTION("inserting the same id again is a conflict and keeps the first row") {
    webhook again = make_webhook(client_a);
    again.id = w.id;
    STORE_ERR(store().insert_webhook(again), conflict);
    check_same(STORE_OK(store().get_webhook(client_a, w.id)), w);
  }
}

TEST_CASE_METHOD(store_fixture, "get, update and delete of a missing webhook are not_found",
                 "[store]") {
  auto existing = add_webhook(client_a);
  auto missing = make_webhook(client_a);
  STORE_ERR(store().get_webhook(client_a, missing.id), not_found);
  STORE_ERR(store().update_webhook(missing), not_found);
  STORE_ERR(store().delete_webhook(client_a, missing.id), not_found);
  STORE_ERR(store().get_webhook(client_a, ""), not_found);
  // The failed update created nothing.
  STORE_ERR(store().get_webhook(client_a, missing.id), not_found);
  CHECK(ids_of(STORE_OK(store().list_webhooks(client_a, page_request{})).items) ==
        std::vector<std::string>{existing.id});
}

TEST_CASE_METHOD(store_fixture, "load_webhooks returns every client's webhooks but disabled ones",
                 "[store]") {
  auto a1 = add_webhook(client_a);
  auto a2 = make_webhook(client_a);
  a2.status = "paused";
  STORE_OK(store().insert_webhook(a2));
  auto b1 = add_webhook(client_b);
  auto b2 = make_webhook(client_b);
  b2.status = "disabled";
  b2.disabled_reason = "410 Gone";
  STORE_OK(store().insert_webhook(b2));

  auto loaded = STORE_OK(store().load_webhooks());
  CHECK(sorted(ids_of(loaded)) == sorted({a1.id, a2.id, b1.id}));
  for (const auto& w : loaded)
    if (w.id == a2.id) check_same(w, a2);

  SECTION("disabling by update removes it, re-enabling brings it back") {
    auto off = a1;
    off.status = "disabled";
    STORE_OK(store().update_webhook(off));
    CHECK(sorted(ids_of(STORE_OK(store().load_webhooks()))) == sorted({a2.id, b1.id}));
    STORE_OK(store().update_webhook(a1));
    CHECK(sorted(ids_of(STORE_OK(store().load_webhooks()))) == sorted({a1.id, a2.id, b1.id}));
  }
}

// ------------------------------------------------------------------------------------------------
// Tenant scoping

TEST_CASE_METHOD(store_fixture, "a client never sees, changes or deletes another client's rows",
                 "[store]") {
  auto wa = add_webhook(client_a);
  auto wb = add_webhook(client_b);
  auto ea = add_event(client_a, {wa});
  auto eb = add_event(client_b, {wb});
  auto eb_pending = add_event(client_b, {wb});
  const delivery& da = ea.deliveries[0];
  const delivery& db = eb.deliveries[0];
  record(da, 1, delivery_status::failed);
  record(db, 1, delivery_status::failed);

  SECTION("webhooks") {
    STORE_ERR(store().get_webhook(client_a, wb.id), not_found);
    webhook hijack = wb;
    hijack.client_id = client_a;
    hijack.callback_url = "https://attacker.example/";
    STORE_ERR(store().update_webhook(hijack), not_found);
    check_same(STORE_OK(store().get_webhook(client_b, wb.id)), wb);
    STORE_ERR(store().delete_webhook(client_a, wb.id), not_found);
    check_same(STORE_OK(store().get_webhook(client_b, wb.id)), wb);
    check_state(STORE_OK(store().get_delivery(client_b, eb_pending.deliveries[0].id)),
                delivery_status::pending, 0);
    CHECK(ids_of(STORE_OK(store().list_webhooks(client_a, page_request{})).items) ==
          std::vector<std::string>{wa.id});
    CHECK(ids_of(STORE_OK(store().list_webhooks(client_b, page_request{})).items) ==
          std::vector<std::string>{wb.id});
  }

  SECTION("events and deliveries") {
    STORE_ERR(store().get_event(client_a, eb.ev.event_id), not_found);
    STORE_ERR(store().get_delivery(client_a, db.id), not_found);
    STORE_HIDDEN(store().list_attempts(client_a, db.id));
    STORE_HIDDEN(store().list_event_deliveries(client_a, eb.ev.event_id));
    STORE_HIDDEN(store().list_deliveries(client_a, wb.id, delivery_filter{}, page_request{}));
    STORE_ERR(store().requeue_delivery(client_a, db.id, now()), not_found);
    check_state(STORE_OK(store().get_delivery(client_b, db.id)), delivery_status::failed, 1);
    // B's own view is intact.
    CHECK(STORE_OK(store().list_attempts(client_b, db.id)).size() == 1);
    CHECK(ids_of(STORE_OK(store().list_event_deliveries(client_b, eb.ev.event_id))) ==
          std::vector<std::string>{db.id});
  }

  SECTION("dead-letter queue") {
    dlq_filter everything;
    everything.include_replayed = true;
    CHECK(dlq_ids(STORE_OK(store().list_dlq(client_a, everything, page_request{})).items) ==
          std::vector<std::string>{da.id});
    CHECK(dlq_ids(STORE_OK(store().list_dlq(client_b, everything, page_request{})).items) ==
          std::vector<std::string>{db.id});
    dlq_filter by_webhook;
    by_webhook.webhook_id = wb.id;
    CHECK(STORE_OK(store().list_dlq(client_a, by_webhook, page_request{})).items.empty());

    CHECK(STORE_OK(store().count_dlq()) == 2);  // every client's entries
    CHECK(STORE_OK(store().replay_dlq(client_a, {db.id}, now())).empty());
    CHECK(STORE_OK(store().count_dlq()) == 2);
    auto b_entries = STORE_OK(store().list_dlq(client_b, dlq_filter{}, page_request{})).items;
    REQUIRE(b_entries.size() == 1);
    CHECK(b_entries[0].replayed_at == 0);
    check_state(STORE_OK(store().get_delivery(client_b, db.id)), delivery_status::failed, 1);
    // B's own replay takes its entry out of the count.
    CHECK(STORE_OK(store().replay_dlq(client_b, {db.id}, now())).size() == 1);
    CHECK(STORE_OK(store().count_dlq()) == 1);
  }

  SECTION("the same event id under two clients is two events") {
    auto shared_a = make_event(client_a, {wa});
    auto shared_b = with_event_id(make_event(client_b, {wb}), shared_a.ev.event_id);
    shared_b.ev.payload = R"({"owner":"b"})";
    CHECK(STORE_OK(store().append_events({shared_a})).duplicate == std::vector<bool>{false});
    CHECK(STORE_OK(store().append_events({shared_b})).duplicate == std::vector<bool>{false});
    check_same(STORE_OK(store().get_event(client_a, shared_a.ev.event_id)), shared_a.ev);
    check_same(STORE_OK(store().get_event(client_b, shared_a.ev.event_id)), shared_b.ev);
    CHECK(ids_of(STORE_OK(store().list_event_deliveries(client_a, shared_a.ev.event_id))) ==
          ids_of(shared_a.deliveries));
    CHECK(ids_of(STORE_OK(store().list_event_deliveries(client_b, shared_a.ev.event_id))) ==
          ids_of(shared_b.deliveries));
  }
}

// ------------------------------------------------------------------------------------------------
// Pagination

TEST_CASE_METHOD(store_fixture, "list_webhooks pages visit every row once, ordered by id",
                 "[store]") {
  std::vector<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    expected.push_back(add_webhook(client_a).id);
    if (i % 3 == 0) add_webhook(client_b);  // interleaved rows of another client
  }
  REQUIRE(std::is_sorted(expected.begin(), expected.end()));

  auto all = read_all_pages<webhook>(
      [&](const page_request& req) { return store().list_webhooks(client_a, req); }, 5);
  CHECK(ids_of(all.rows) == expected);
  CHECK(all.page_sizes == std::vector<size_t>{5, 5, 5, 5, 3});

  SECTION("after = the id of a row starts right behind it") {
    page_request req;
    req.after = expected[6];
    req.limit = 4;
    auto p = STORE_OK(store().list_webhooks(client_a, req));
    CHECK(ids_of(p.items) == std::vector<std::string>(expected.begin() + 7, expected.begin() + 11));
  }

  SECTION("a limit larger than the rows returns one page") {
    page_request req;
    req.limit = 100;
    auto p = STORE_OK(store().list_webhooks(client_a, req));
    CHECK(ids_of(p.items) == expected);
    CHECK(p.next_cursor.empty());
  }
}

TEST_CASE_METHOD(store_fixture, "list_deliveries pages visit every row once, newest first",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto other = add_webhook(client_a);
  std::vector<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    advance(1000);
    auto ne = add_event(client_a, {w, other});
    expected.push_back(ne.deliveries[0].id);
  }
  std::reverse(expected.begin(), expected.end());

  auto all = read_all_pages<delivery>(
      [&](const page_request& req) {
        return store().list_deliveries(client_a, w.id, delivery_filter{}, req);
      },
      5);
  CHECK(ids_of(all.rows) == expected);
  CHECK(all.page_sizes == std::vector<size_t>{5, 5, 5, 5, 3});
  for (const auto& d : all.rows) CHECK(d.webhook_id == w.id);
}

TEST_CASE_METHOD(store_fixture, "list_dlq pages visit every entry once", "[store]") {
  auto w = add_webhook(client_a);
  auto wb = add_webhook(client_b);
  std::vector<attempt_outcome> outcomes;
  std::vector<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    auto ne = add_event(client_a, {w});
    outcomes.push_back(make_outcome(ne.deliveries[0], 1, delivery_status::failed, now()));
    expected.push_back(ne.deliveries[0].id);
    if (i % 4 == 0) {
      auto nb = add_event(client_b, {wb});
      outcomes.push_back(make_outcome(nb.deliveries[0], 1, delivery_status::failed, now()));
    }
  }
  STORE_OK(store().record_attempts(outcomes));

  auto all = read_all_pages<dlq_entry>(
      [&](const page_request& req) { return store().list_dlq(client_a, dlq_filter{}, req); }, 5);
  CHECK(all.rows.size() == 23);
  CHECK(dlq_ids(all.rows) == sorted(expected));  // sorted + equal sizes: no repeats, no gaps
  CHECK(all.page_sizes == std::vector<size_t>{5, 5, 5, 5, 3});
}

// ------------------------------------------------------------------------------------------------
// Event types and sources

TEST_CASE_METHOD(store_fixture, "event types: insert, list, duplicate name is a conflict",
                 "[store]") {
  event_type paid{"invoice.paid", "An invoice was paid",
                  R"({"type":"object","required":["amount"]})", now()};
  event_type created{"user.created", "", "", now() + 1};
  event_type shipped{"order.shipped", "Ünïcode “quotes”", "", now() + 2};
  CHECK(STORE_OK(store().list_event_types()).empty());
  STORE_OK(store().insert_event_type(paid));
  STORE_OK(store().insert_event_type(created));
  STORE_OK(store().insert_event_type(shipped));

  auto listed = STORE_OK(store().list_event_types());
  CHECK(event_type_names(listed) == sorted({paid.name, created.name, shipped.name}));
  for (const auto& t : listed) {
    if (t.name == paid.name) check_same(t, paid);
    if (t.name == created.name) check_same(t, created);
    if (t.name == shipped.name) check_same(t, shipped);
  }

  event_type again{"invoice.paid", "a different description", "", now() + 3};
  STORE_ERR(store().insert_event_type(again), conflict);
  listed = STORE_OK(store().list_event_types());
  CHECK(listed.size() == 3);
  for (const auto& t : listed)
    if (t.name == paid.name) check_same(t, paid);
}

TEST_CASE_METHOD(store_fixture, "sources: CRUD, lookup by api key, api key conflicts", "[store]") {
  source s1{next_id("src"),
            "billing",
            "key-billing",
            "s3cr3t-1",
            {"invoice.paid", "invoice.*"},
            {"10.0.0.0/8", "2001:db8::/32"},
            now(),
            now()};
  source s2{next_id("src"), "crm", "key-crm", "s3cr3t-2", {"user.created"}, {}, now(), now()};
  STORE_OK(store().insert_source(s1));
  STORE_OK(store().insert_source(s2));

  check_same(STORE_OK(store().get_source(s1.id)), s1);
  check_same(STORE_OK(store().get_source(s2.id)), s2);
  check_same(STORE_OK(store().find_source_by_api_key("key-billing")), s1);
  check_same(STORE_OK(store().find_source_by_api_key("key-crm")), s2);
  STORE_ERR(store().find_source_by_api_key("key-nobody"), not_found);
  STORE_ERR(store().get_source("src_missing"), not_found);

  SECTION("a taken api key is a conflict") {
    source s3{next_id("src"), "copycat", "key-billing", "x", {}, {}, now(), now()};
    STORE_ERR(store().insert_source(s3), conflict);
    STORE_ERR(store().get_source(s3.id), not_found);
    check_same(STORE_OK(store().find_source_by_api_key("key-billing")), s1);
  }

  SECTION("update replaces the fields and the api key") {
    source u = s1;
    u.name = "billing v2";
    u.api_key = "key-billing-2";
    u.secret = "rotated";
    u.allowed_event_types = {"*"};
    u.ip_allowlist = {"192.0.2.0/24"};
    u.updated_at = now() + 10;
    STORE_OK(store().update_source(u));
    check_same(STORE_OK(store().get_source(s1.id)), u);
    check_same(STORE_OK(store().find_source_by_api_key("key-billing-2")), u);
    STORE_ERR(store().find_source_by_api_key("key-billing"), not_found);

    source steal = s2;
    steal.api_key = "key-billing-2";
    STORE_ERR(store().update_source(steal), conflict);
    check_same(STORE_OK(store().get_source(s2.id)), s2);

    source missing{"src_missing", "x", "key-x", "x", {}, {}, now(), now()};
    STORE_ERR(store().update_source(missing), not_found);
    STORE_ERR(store().find_source_by_api_key("key-x"), not_found);
  }

  SECTION("delete removes the source and frees its api key") {
    STORE_OK(store().delete_source(s1.id));
    STORE_ERR(store().get_source(s1.id), not_found);
    STORE_ERR(store().find_source_by_api_key("key-billing"), not_found);
    STORE_ERR(store().delete_source(s1.id), not_found);
    check_same(STORE_OK(store().get_source(s2.id)), s2);
    source reuse{next_id("src"), "billing again", "key-billing", "y", {}, {}, now(), now()};
    STORE_OK(store().insert_source(reuse));
    check_same(STORE_OK(store().find_source_by_api_key("key-billing")), reuse);
  }

  SECTION("list_sources pages visit every source once") {
    std::vector<std::string> expected{s1.id, s2.id};
    for (int i = 0; i < 5; ++i) {
      source s{
          next_id("src"), "s" + std::to_string(i), "key-" + std::to_string(i), "x", {}, {}, now(),
          now()};
      STORE_OK(store().insert_source(s));
      expected.push_back(s.id);
    }
    auto all = read_all_pages<source>(
        [&](const page_request& req) { return store().list_sources(req); }, 3);
    CHECK(sorted(ids_of(all.rows)) == sorted(expected));
    CHECK(all.rows.size() == expected.size());
    CHECK(all.page_sizes == std::vector<size_t>{3, 3, 1});
  }
}

// ------------------------------------------------------------------------------------------------
// Ingestion

TEST_CASE_METHOD(store_fixture, "append_events stores events with their deliveries", "[store]") {
  auto w1 = add_webhook(client_a);
  auto w2 = add_webhook(client_a);
  auto e1 = make_event(client_a, {w1, w2});
  auto e2 = make_event(client_a, {w1}, "user.created");
  auto e3 = make_event(client_a, {w2});
  CHECK(STORE_OK(store().append_events({e1, e2, e3})).duplicate ==
        std::vector<bool>{false, false, false});

  for (const auto* ne : {&e1, &e2, &e3}) {
    check_same(STORE_OK(store().get_event(client_a, ne->ev.event_id)), ne->ev);
    for (const auto& d : ne->deliveries)
      check_same(STORE_OK(store().get_delivery(client_a, d.id)), d);
    CHECK(sorted(ids_of(STORE_OK(store().list_event_deliveries(client_a, ne->ev.event_id)))) ==
          sorted(ids_of(ne->deliveries)));
  }

  SECTION("duplicates across and within batches are reported in batch order, unwritten") {
    auto e4 = make_event(client_a, {w1});
    auto dup_e1 = with_event_id(make_event(client_a, {w1}), e1.ev.event_id);
    dup_e1.ev.payload = R"({"overwritten":true})";
    auto e5 = make_event(client_a, {w2});
    auto dup_e5 = with_event_id(make_event(client_a, {w1, w2}), e5.ev.event_id);
    auto dup_e3 = with_event_id(make_event(client_a, {w1}), e3.ev.event_id);
    CHECK(STORE_OK(store().append_events({e4, dup_e1, e5, dup_e5, dup_e3})).duplicate ==
          std::vector<bool>{false, true, false, true, true});

    check_same(STORE_OK(store().get_event(client_a, e1.ev.event_id)), e1.ev);
    check_same(STORE_OK(store().get_event(client_a, e4.ev.event_id)), e4.ev);
    check_same(STORE_OK(store().get_event(client_a, e5.ev.event_id)), e5.ev);
    for (const auto* dup : {&dup_e1, &dup_e5, &dup_e3})
      for (const auto& d : dup->deliveries)
        STORE_ERR(store().get_delivery(client_a, d.id), not_found);
    CHECK(sorted(ids_of(STORE_OK(store().list_event_deliveries(client_a, e1.ev.event_id)))) ==
          sorted(ids_of(e1.deliveries)));
    CHECK(ids_of(STORE_OK(store().list_event_deliveries(client_a, e5.ev.event_id))) ==
          ids_of(e5.deliveries));
    CHECK(ids_of(STORE_OK(store().list_event_deliveries(client_a, e3.ev.event_id))) ==
          ids_of(e3.deliveries));

    // Only the stored deliveries are due.
    auto due = STORE_OK(store().load_due_deliveries(all_partitions(), now() + 1, 1000));
    CHECK(sorted(ids_of(due)) ==
          sorted({e1.deliveries[0].id, e1.deliveries[1].id, e2.deliveries[0].id,
                  e3.deliveries[0].id, e4.deliveries[0].id, e5.deliveries[0].id}));
  }

  SECTION("a batch of duplicates only writes nothing") {
    auto again = with_event_id(make_event(client_a, {w1}), e2.ev.event_id);
    CHECK(STORE_OK(store().append_events({again, again})).duplicate ==
          std::vector<bool>{true, true});
    STORE_ERR(store().get_delivery(client_a, again.deliveries[0].id), not_found);
  }

  SECTION("an empty batch is fine") {
    CHECK(STORE_OK(store().append_events({})).duplicate.empty());
  }
}

TEST_CASE_METHOD(store_fixture, "a failing append_events batch leaves nothing behind", "[store]") {
  auto w1 = add_webhook(client_a);
  auto w2 = add_webhook(client_a);
  auto earlier = add_event(client_a, {w1});
  auto good = make_event(client_a, {w1, w2});
  auto bad = make_event(client_a, {w2});

  SECTION("two deliveries of the batch share an id") {
    bad.deliveries[0].id = good.deliveries[1].id;
  }
  SECTION("two deliveries of one event share an id") {
    bad = make_event(client_a, {w1, w2});
    bad.deliveries[1].id = bad.deliveries[0].id;
  }
  SECTION("a delivery id was used by an earlier batch") {
    bad.deliveries[0].id = earlier.deliveries[0].id;
  }

  auto failed = store().append_events({good, bad});
  INFO("append_events -> " << describe(failed));
  CHECK_FALSE(failed.ok());

  STORE_ERR(store().get_event(client_a, good.ev.event_id), not_found);
  STORE_ERR(store().get_event(client_a, bad.ev.event_id), not_found);
  for (const auto& d : good.deliveries) STORE_ERR(store().get_delivery(client_a, d.id), not_found);
  STORE_HIDDEN(store().list_event_deliveries(client_a, good.ev.event_id));
  STORE_HIDDEN(store().list_event_deliveries(client_a, bad.ev.event_id));
  auto due = STORE_OK(store().load_due_deliveries(all_partitions(), now() + 1, 1000));
  CHECK(ids_of(due) == ids_of(earlier.deliveries));
  check_same(STORE_OK(store().get_delivery(client_a, earlier.deliveries[0].id)),
             earlier.deliveries[0]);

  // Retrying the good part works: nothing of it was kept as a "duplicate".
  CHECK(STORE_OK(store().append_events({good})).duplicate == std::vector<bool>{false});
  check_same(STORE_OK(store().get_event(client_a, good.ev.event_id)), good.ev);
  for (const auto& d : good.deliveries)
    check_same(STORE_OK(store().get_delivery(client_a, d.id)), d);
}

TEST_CASE_METHOD(store_fixture, "get_event returns the stored event", "[store]") {
  auto w = add_webhook(client_a);
  auto ne = make_event(client_a, {w}, "invoice.paid");
  ne.ev.payload = R"({"note":"line\nbreak \"quoted\" Zoë ✓","nested":{"a":[1,2,3]}})";
  ne.ev.source_id = "src_special";
  ne.ev.timestamp = 1'600'000'000'123;
  auto bare = make_event(client_a, {}, "user.created");  // matched no webhook
  CHECK(STORE_OK(store().append_events({ne, bare})).duplicate == std::vector<bool>{false, false});

  check_same(STORE_OK(store().get_event(client_a, ne.ev.event_id)), ne.ev);
  check_same(STORE_OK(store().get_event(client_a, bare.ev.event_id)), bare.ev);
  CHECK(STORE_OK(store().list_event_deliveries(client_a, bare.ev.event_id)).empty());
  STORE_ERR(store().get_event(client_a, "ev_missing"), not_found);
  STORE_ERR(store().get_event(client_b, ne.ev.event_id), not_found);
}

// ------------------------------------------------------------------------------------------------
// Delivery queue

TEST_CASE_METHOD(store_fixture,
                 "load_due_deliveries: pending rows of the partitions, due, oldest first, limited",
                 "[store]") {
  auto w1 = add_webhook(client_a);
  const int p1 = partition_of(w1.id);
  auto w2 = add_webhook_outside(*this, client_a, {p1});
  const int p2 = partition_of(w2.id);
  auto w3 = add_webhook_outside(*this, client_b, {p1, p2});
  const int p3 = partition_of(w3.id);
  auto w4 = add_webhook_in(*this, client_a, p1);

  const int64_t t0 = now() + 10'000;
  auto a = add_event(client_a, {w1}, "invoice.paid", t0 + 30).deliveries[0];
  auto b = add_event(client_a, {w1}, "invoice.paid", t0 + 10).deliveries[0];
  auto c = add_event(client_a, {w1}, "invoice.paid", t0 + 20).deliveries[0];
  auto late = add_event(client_a, {w1}, "invoice.paid", t0 + 1000).deliveries[0];
  auto e = add_event(client_a, {w2}, "invoice.paid", t0 + 15).deliveries[0];
  auto f = add_event(client_b, {w3}, "invoice.paid", t0 + 5).deliveries[0];
  auto succeeded = add_event(client_a, {w1}, "invoice.paid", t0 + 1).deliveries[0];
  auto failed = add_event(client_a, {w1}, "invoice.paid", t0 + 2).deliveries[0];
  auto retry = add_event(client_a, {w2}, "invoice.paid", t0 + 3).deliveries[0];
  auto cancelled = add_event(client_a, {w4}, "invoice.paid", t0 + 4).deliveries[0];
  record(succeeded, 1, delivery_status::succeeded);
  record(failed, 1, delivery_status::failed);
  record(retry, 1, delivery_status::pending, t0 + 12);
  CHECK(STORE_OK(store().delete_webhook(client_a, w4.id)) == 1);

  const std::vector<int> p12{p1, p2};
  auto due = STORE_OK(store().load_due_deliveries(p12, t0 + 30, 100));
  CHECK(ids_of(due) == std::vector<std::string>{b.id, retry.id, e.id, c.id, a.id});
  for (const auto& d : due) {
    CHECK(d.status == delivery_status::pending);
    CHECK((d.partition == p1 || d.partition == p2));
    if (d.id == b.id) check_same(d, b);
    if (d.id == retry.id) check_state(d, delivery_status::pending, 1, t0 + 12);
  }

  CHECK(ids_of(STORE_OK(store().load_due_deliveries(p12, t0 + 29, 100))) ==
        std::vector<std::string>{b.id, retry.id, e.id, c.id});
  CHECK(ids_of(STORE_OK(store().load_due_deliveries(p12, t0 + 30, 2))) ==
        std::vector<std::string>{b.id, retry.id});
  CHECK(STORE_OK(store().load_due_deliveries(p12, t0 + 9, 100)).empty());
  CHECK(ids_of(STORE_OK(store().load_due_deliveries({p3}, t0 + 30, 100))) ==
        std::vector<std::string>{f.id});
  CHECK(ids_of(STORE_OK(store().load_due_deliveries({p1}, t0 + 30, 100))) ==
        std::vector<std::string>{b.id, c.id, a.id});
  CHECK(ids_of(STORE_OK(store().load_due_deliveries(all_partitions(), t0 + 1000, 100))) ==
        std::vector<std::string>{f.id, b.id, retry.id, e.id, c.id, a.id, late.id});
}

TEST_CASE_METHOD(store_fixture,
                 "load_pending_for_webhook: that webhook's pending rows, oldest first", "[store]") {
  auto w1 = add_webhook(client_a);
  auto w2 = add_webhook(client_a);
  std::vector<delivery> d;
  for (int i = 0; i < 5; ++i) {
    advance(100);
    d.push_back(add_event(client_a, {w1, w2}).deliveries[0]);
  }
  record(d[1], 1, delivery_status::succeeded);
  record(d[3], 1, delivery_status::failed);
  record(d[4], 1, delivery_status::pending, d[4].next_attempt_at + 10);

  auto pending = STORE_OK(store().load_pending_for_webhook(w1.id, 100));
  CHECK(ids_of(pending) == std::vector<std::string>{d[0].id, d[2].id, d[4].id});
  if (!pending.empty()) check_same(pending[0], d[0]);
  CHECK(ids_of(STORE_OK(store().load_pending_for_webhook(w1.id, 2))) ==
        std::vector<std::string>{d[0].id, d[2].id});
  auto other = STORE_OK(store().load_pending_for_webhook(w2.id, 100));
  CHECK(other.size() == 5);
  for (const auto& x : other) CHECK(x.webhook_id == w2.id);
  CHECK(STORE_OK(store().load_pending_for_webhook("wh_missing", 100)).empty());
}

TEST_CASE_METHOD(store_fixture,
                 "webhooks_with_pending: webhooks with pending rows in the partitions, sorted",
                 "[store]") {
  auto w1 = add_webhook(client_a);
  const int p1 = partition_of(w1.id);
  auto w2 = add_webhook_outside(*this, client_b, {p1});
  const int p2 = partition_of(w2.id);
  auto w3 = add_webhook_in(*this, client_a, p1);
  auto done = add_webhook_outside(*this, client_a, {p1, p2});
  auto later = add_webhook_in(*this, client_b, p2);
  auto gone = add_webhook_in(*this, client_a, p1);

  add_event(client_a, {w1, w3});
  add_event(client_b, {w2});
  auto finished = add_event(client_a, {done}).deliveries[0];
  record(finished, 1, delivery_status::succeeded);
  add_event(client_b, {later}, "invoice.paid", now() + 86'400'000);  // pending, not yet due
  add_event(client_a, {gone});
  CHECK(STORE_OK(store().delete_webhook(client_a, gone.id)) == 1);

  CHECK(STORE_OK(store().webhooks_with_pending(all_partitions())) ==
        sorted({w1.id, w2.id, w3.id, later.id}));
  CHECK(STORE_OK(store().webhooks_with_pending({p1})) == sorted({w1.id, w3.id}));
  CHECK(STORE_OK(store().webhooks_with_pending({p2})) == sorted({w2.id, later.id}));
  CHECK(STORE_OK(store().webhooks_with_pending({partition_of(done.id)})).empty());
  CHECK(STORE_OK(store().webhooks_with_pending({})).empty());
}

TEST_CASE_METHOD(store_fixture,
                 "load_pending_with_events: pending rows with their events, in the order asked",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto other = add_webhook(client_a);
  const int64_t t0 = now();
  // Created in this order; due in another.
  std::vector<new_event> events;
  for (int64_t due : {t0 + 300, t0 + 100, t0 + 200, t0 + 50}) {
    advance(10);
    events.push_back(add_event(client_a, {w, other}, "invoice.paid", due));
  }
  advance(10);
  auto succeeded = add_event(client_a, {w}).deliveries[0];
  record(succeeded, 1, delivery_status::succeeded);
  // A retried row is due at its new time.
  record(events[3].deliveries[0], 1, delivery_status::pending, t0 + 250);

  auto by_due = STORE_OK(store().load_pending_with_events(w.id, pending_order::due, 100));
  std::vector<std::string> due_ids;
  for (const auto& p : by_due) due_ids.push_back(p.row.id);
  CHECK(due_ids == std::vector<std::string>{events[1].deliveries[0].id, events[2].deliveries[0].id,
                                            events[3].deliveries[0].id,
                                            events[0].deliveries[0].id});
  for (const auto& p : by_due) {
    CHECK(p.row.webhook_id == w.id);
    CHECK(p.row.status == delivery_status::pending);
    CHECK(p.ev.event_id == p.row.event_id);
    for (const auto& ne : events)
      if (ne.ev.event_id == p.ev.event_id) check_same(p.ev, ne.ev);
  }
  if (by_due.size() == 4) check_state(by_due[2].row, delivery_status::pending, 1, t0 + 250);

  auto by_created = STORE_OK(store().load_pending_with_events(w.id, pending_order::created, 3));
  std::vector<std::string> created_ids;
  for (const auto& p : by_created) created_ids.push_back(p.row.id);
  CHECK(created_ids == std::vector<std::string>{events[0].deliveries[0].id,
                                                events[1].deliveries[0].id,
                                                events[2].deliveries[0].id});
  CHECK(STORE_OK(store().load_pending_with_events(w.id, pending_order::due, 2)).size() == 2);
  CHECK(STORE_OK(store().load_pending_with_events(other.id, pending_order::due, 100)).size() == 4);
  CHECK(STORE_OK(store().load_pending_with_events("wh_missing", pending_order::due, 100)).empty());
}

TEST_CASE_METHOD(store_fixture,
                 "record_attempts keeps a cancelled delivery cancelled and out of the DLQ",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto d1 = add_event(client_a, {w}).deliveries[0];
  auto d2 = add_event(client_a, {w}).deliveries[0];
  CHECK(STORE_OK(store().delete_webhook(client_a, w.id)) == 2);

  // Attempts that were in flight when the webhook was deleted.
  STORE_OK(store().record_attempts(
      {make_outcome(d1, 1, delivery_status::pending, now(), now() + 5000),
       make_outcome(d2, 1, delivery_status::failed, now(), 0, "client error HTTP 400")}));

  for (const auto& d : {d1, d2}) {
    auto row = STORE_OK(store().get_delivery(client_a, d.id));
    CHECK(row.status == delivery_status::cancelled);
    CHECK(row.attempts == 1);
    CHECK(STORE_OK(store().list_attempts(client_a, d.id)).size() == 1);
  }
  CHECK(STORE_OK(store().list_dlq(client_a, dlq_filter{}, page_request{})).items.empty());
  CHECK(STORE_OK(store().webhooks_with_pending(all_partitions())).empty());
}

TEST_CASE_METHOD(store_fixture, "record_attempts updates deliveries, keeps attempts, fills the DLQ",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto ne = add_event(client_a, {w}, "invoice.paid");
  auto ne2 = add_event(client_a, {w}, "user.created");
  auto ne3 = add_event(client_a, {w}, "invoice.paid");
  const delivery d1 = ne.deliveries[0];
  const delivery d2 = ne2.deliveries[0];
  const delivery d3 = ne3.deliveries[0];
  const int64_t t = now();

  auto o1 = make_outcome(d1, 1, delivery_status::succeeded, t + 1);
  auto o2 = make_outcome(d2, 1, delivery_status::pending, t + 2, t + 5000);
  o2.att.status_code = 503;
  o2.att.error = "";
  o2.att.response_excerpt = std::string(4096, 'x');
  auto o3 = make_outcome(d3, 1, delivery_status::pending, t + 3, t + 7000);
  o3.att.error = "connect: \"connection refused\" (Zoë ✓)";
  STORE_OK(store().record_attempts({o1, o2, o3}));

  check_state(STORE_OK(store().get_delivery(client_a, d1.id)), delivery_status::succeeded, 1);
  check_state(STORE_OK(store().get_delivery(client_a, d2.id)), delivery_status::pending, 1,
              t + 5000);
  check_state(STORE_OK(store().get_delivery(client_a, d3.id)), delivery_status::pending, 1,
              t + 7000);
  CHECK(STORE_OK(store().list_dlq(client_a, dlq_filter{}, page_request{})).items.empty());
  CHECK(STORE_OK(store().count_dlq()) == 0);

  advance(10'000);
  auto o4 = make_outcome(d2, 2, delivery_status::failed, t + 6000, 0, "client error 422");
  o4.att.status_code = 422;
  auto o5 = make_outcome(d3, 2, delivery_status::pending, t + 7001, t + 9000);
  STORE_OK(store().record_attempts({o4, o5}));

  check_state(STORE_OK(store().get_delivery(client_a, d2.id)), delivery_status::failed, 2);
  check_state(STORE_OK(store().get_delivery(client_a, d3.id)), delivery_status::pending, 2,
              t + 9000);

  auto attempts2 = STORE_OK(store().list_attempts(client_a, d2.id));
  REQUIRE(attempts2.size() == 2);
  check_same(attempts2[0], o2.att);
  check_same(attempts2[1], o4.att);
  auto attempts3 = STORE_OK(store().list_attempts(client_a, d3.id));
  REQUIRE(attempts3.size() == 2);
  check_same(attempts3[0], o3.att);
  check_same(attempts3[1], o5.att);
  auto attempts1 = STORE_OK(store().list_attempts(client_a, d1.id));
  REQUIRE(attempts1.size() == 1);
  check_same(attempts1[0], o1.att);
  auto ne4 = add_event(client_a, {w});
  CHECK(STORE_OK(store().list_attempts(client_a, ne4.deliveries[0].id)).empty());

  auto dlq = STORE_OK(store().list_dlq(client_a, dlq_filter{}, page_request{})).items;
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].delivery_id == d2.id);
  CHECK(dlq[0].client_id == client_a);
  CHECK(dlq[0].webhook_id == w.id);
  CHECK(dlq[0].event_id == d2.event_id);
  CHECK(dlq[0].event_type == "user.created");
  CHECK(dlq[0].reason == "client error 422");
  CHECK(dlq[0].replayed_at == 0);
  CHECK(STORE_OK(store().count_dlq()) == 1);

  // No longer due; the pending one is, at its new time.
  CHECK(ids_of(STORE_OK(store().load_due_deliveries(all_partitions(), t + 8999, 100))).empty());
  CHECK(ids_of(STORE_OK(store().load_due_deliveries(all_partitions(), now(), 100))) ==
        std::vector<std::string>{d3.id, ne4.deliveries[0].id});
}

TEST_CASE_METHOD(store_fixture, "delete_webhook cancels its pending deliveries", "[store]") {
  auto w = add_webhook(client_a);
  auto keep = add_webhook(client_a);
  std::vector<delivery> d;
  for (int i = 0; i < 5; ++i) d.push_back(add_event(client_a, {w, keep}).deliveries[0]);
  auto kept = STORE_OK(store().load_pending_for_webhook(keep.id, 100));
  record(d[2], 1, delivery_status::pending, now() + 50);
  record(d[3], 1, delivery_status::succeeded);
  record(d[4], 1, delivery_status::failed);

  CHECK(STORE_OK(store().delete_webhook(client_a, w.id)) == 3);

  for (int i : {0, 1, 2})
    CHECK(STORE_OK(store().get_delivery(client_a, d[i].id)).status == delivery_status::cancelled);
  CHECK(STORE_OK(store().get_delivery(client_a, d[3].id)).status == delivery_status::succeeded);
  CHECK(STORE_OK(store().get_delivery(client_a, d[4].id)).status == delivery_status::failed);
  CHECK(STORE_OK(store().load_pending_for_webhook(w.id, 100)).empty());
  auto due = STORE_OK(store().load_due_deliveries(all_partitions(), now() + 1000, 100));
  CHECK(sorted(ids_of(due)) == sorted(ids_of(kept)));
  STORE_ERR(store().get_webhook(client_a, w.id), not_found);
  CHECK(ids_of(STORE_OK(store().load_webhooks())) == std::vector<std::string>{keep.id});
  CHECK(ids_of(STORE_OK(store().list_webhooks(client_a, page_request{})).items) ==
        std::vector<std::string>{keep.id});
}

TEST_CASE_METHOD(store_fixture, "requeue_delivery sets a delivery pending again, keeping attempts",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto d = add_event(client_a, {w}).deliveries[0];
  auto s = add_event(client_a, {w}).deliveries[0];
  record(d, 1, delivery_status::pending, now() + 10);
  record(d, 2, delivery_status::failed);
  record(s, 1, delivery_status::succeeded);
  const int64_t due_at = now() + 100'000;

  auto requeued = STORE_OK(store().requeue_delivery(client_a, d.id, due_at));
  CHECK(requeued.id == d.id);
  CHECK(requeued.webhook_id == w.id);
  check_state(requeued, delivery_status::pending, 2, due_at);
  check_state(STORE_OK(store().get_delivery(client_a, d.id)), delivery_status::pending, 2, due_at);
  CHECK(STORE_OK(store().load_due_deliveries(all_partitions(), due_at - 1, 100)).empty());
  CHECK(ids_of(STORE_OK(store().load_due_deliveries(all_partitions(), due_at, 100))) ==
        std::vector<std::string>{d.id});
  CHECK(ids_of(STORE_OK(store().load_pending_for_webhook(w.id, 100))) ==
        std::vector<std::string>{d.id});

  check_state(STORE_OK(store().requeue_delivery(client_a, s.id, due_at + 1)),
              delivery_status::pending, 1, due_at + 1);
  STORE_ERR(store().requeue_delivery(client_a, "msg_missing", due_at), not_found);
  CHECK(STORE_OK(store().list_attempts(client_a, d.id)).size() == 2);
}

TEST_CASE_METHOD(store_fixture, "list_event_deliveries returns one delivery per webhook",
                 "[store]") {
  auto w1 = add_webhook(client_a);
  auto w2 = add_webhook(client_a);
  auto w3 = add_webhook(client_a);
  auto ne = add_event(client_a, {w1, w2, w3});
  auto other = add_event(client_a, {w1});
  record(ne.deliveries[1], 1, delivery_status::succeeded);

  auto listed = STORE_OK(store().list_event_deliveries(client_a, ne.ev.event_id));
  CHECK(sorted(ids_of(listed)) == sorted(ids_of(ne.deliveries)));
  for (const auto& d : listed) {
    if (d.id == ne.deliveries[0].id) check_same(d, ne.deliveries[0]);
    if (d.id == ne.deliveries[1].id) check_state(d, delivery_status::succeeded, 1);
    if (d.id == ne.deliveries[2].id) check_same(d, ne.deliveries[2]);
  }
  CHECK(ids_of(STORE_OK(store().list_event_deliveries(client_a, other.ev.event_id))) ==
        ids_of(other.deliveries));
  STORE_HIDDEN(store().list_event_deliveries(client_a, "ev_missing"));
}

TEST_CASE_METHOD(store_fixture, "list_deliveries filters by status, since and until", "[store]") {
  auto w = add_webhook(client_a);
  auto other = add_webhook(client_a);
  std::vector<delivery> d;
  for (int i = 0; i < 6; ++i) {
    advance(1000);
    d.push_back(add_event(client_a, {w, other}).deliveries[0]);
  }
  record(d[1], 1, delivery_status::succeeded);
  record(d[2], 1, delivery_status::failed);
  record(d[4], 1, delivery_status::succeeded);
  record(d[5], 1, delivery_status::pending, now() + 1000);

  auto list = [&](delivery_filter filter) {
    return ids_of(STORE_OK(store().list_deliveries(client_a, w.id, filter, page_request{})).items);
  };
  using ids = std::vector<std::string>;
  delivery_filter f;
  CHECK(list(f) == ids{d[5].id, d[4].id, d[3].id, d[2].id, d[1].id, d[0].id});
  f.status = delivery_status::succeeded;
  CHECK(list(f) == ids{d[4].id, d[1].id});
  f.status = delivery_status::pending;
  CHECK(list(f) == ids{d[5].id, d[3].id, d[0].id});
  f.status = delivery_status::failed;
  CHECK(list(f) == ids{d[2].id});
  f.status = delivery_status::cancelled;
  CHECK(list(f).empty());

  delivery_filter since;
  since.since = d[2].created_at;  // inclusive
  CHECK(list(since) == ids{d[5].id, d[4].id, d[3].id, d[2].id});
  delivery_filter until;
  until.until = d[4].created_at;  // exclusive
  CHECK(list(until) == ids{d[3].id, d[2].id, d[1].id, d[0].id});
  delivery_filter both;
  both.since = d[1].created_at;
  both.until = d[4].created_at;
  both.status = delivery_status::pending;
  CHECK(list(both) == ids{d[3].id});

  delivery_filter pending;
  pending.status = delivery_status::pending;
  auto pages = read_all_pages<delivery>(
      [&](const page_request& req) {
        return store().list_deliveries(client_a, w.id, pending, req);
      },
      2);
  CHECK(ids_of(pages.rows) == ids{d[5].id, d[3].id, d[0].id});
  CHECK(pages.page_sizes == std::vector<size_t>{2, 1});
}

// ------------------------------------------------------------------------------------------------
// Dead-letter queue

TEST_CASE_METHOD(store_fixture, "list_dlq filters by webhook, event type, time and replay",
                 "[store]") {
  constexpr int64_t hour = 3'600'000;
  auto w1 = add_webhook(client_a);
  auto w2 = add_webhook(client_a);
  auto x1 = add_event(client_a, {w1}, "a.created").deliveries[0];
  auto x2 = add_event(client_a, {w1}, "b.deleted").deliveries[0];
  auto x3 = add_event(client_a, {w2}, "a.created").deliveries[0];
  auto x4 = add_event(client_a, {w2}, "b.deleted").deliveries[0];
  const int64_t t1 = now() + hour;
  advance(hour);
  record(x1, 1, delivery_status::failed);
  advance(hour);
  record(x2, 1, delivery_status::failed);
  advance(hour);
  const int64_t t3 = now();
  record(x3, 1, delivery_status::failed);
  advance(hour);
  record(x4, 1, delivery_status::failed);
  advance(hour);
  const int64_t replayed_at = now();
  CHECK(ids_of(STORE_OK(store().replay_dlq(client_a, {x4.id}, replayed_at))) ==
        std::vector<std::string>{x4.id});

  auto list = [&](const dlq_filter& filter) {
    return dlq_ids(STORE_OK(store().list_dlq(client_a, filter, page_request{})).items);
  };
  dlq_filter none;
  CHECK(list(none) == sorted({x1.id, x2.id, x3.id}));

  dlq_filter replayed;
  replayed.include_replayed = true;
  CHECK(list(replayed) == sorted({x1.id, x2.id, x3.id, x4.id}));
  for (const auto& e : STORE_OK(store().list_dlq(client_a, replayed, page_request{})).items)
    CHECK(e.replayed_at == (e.delivery_id == x4.id ? replayed_at : 0));

  dlq_filter by_webhook;
  by_webhook.webhook_id = w1.id;
  CHECK(list(by_webhook) == sorted({x1.id, x2.id}));
  dlq_filter by_type;
  by_type.event_type = "a.created";
  CHECK(list(by_type) == sorted({x1.id, x3.id}));
  dlq_filter since;
  since.since = t1 + hour / 2;
  CHECK(list(since) == sorted({x2.id, x3.id}));
  dlq_filter until;
  until.until = t3 - hour / 2;
  CHECK(list(until) == sorted({x1.id, x2.id}));
  dlq_filter window;
  window.since = t1 + hour / 2;
  window.until = t3 - hour / 2;
  CHECK(list(window) == std::vector<std::string>{x2.id});
  dlq_filter combined;
  combined.webhook_id = w2.id;
  combined.event_type = "b.deleted";
  combined.include_replayed = true;
  CHECK(list(combined) == std::vector<std::string>{x4.id});
  combined.include_replayed = false;
  CHECK(list(combined).empty());
  dlq_filter unknown;
  unknown.webhook_id = "wh_missing";
  CHECK(list(unknown).empty());
}

TEST_CASE_METHOD(store_fixture, "replay_dlq requeues once; foreign and replayed ids are skipped",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto wb = add_webhook(client_b);
  auto d1 = add_event(client_a, {w}).deliveries[0];
  auto d2 = add_event(client_a, {w}).deliveries[0];
  auto d3 = add_event(client_a, {w}).deliveries[0];
  auto db = add_event(client_b, {wb}).deliveries[0];
  for (const auto* d : {&d1, &d2, &d3, &db}) {
    record(*d, 1, delivery_status::pending, now() + 5);
    record(*d, 2, delivery_status::failed);
  }
  advance(60'000);
  const int64_t t = now();

  auto replayed = STORE_OK(store().replay_dlq(client_a, {d1.id, db.id, "msg_missing", d2.id}, t));
  CHECK(sorted(ids_of(replayed)) == sorted({d1.id, d2.id}));
  for (const auto& d : replayed) {
    CHECK(d.status == delivery_status::pending);
    CHECK(d.next_attempt_at == t);
    CHECK(d.webhook_id == w.id);
  }
  check_state(STORE_OK(store().get_delivery(client_a, d1.id)), delivery_status::pending, 2, t);
  check_state(STORE_OK(store().get_delivery(client_a, d3.id)), delivery_status::failed, 2);
  check_state(STORE_OK(store().get_delivery(client_b, db.id)), delivery_status::failed, 2);
  CHECK(sorted(ids_of(STORE_OK(store().load_due_deliveries(all_partitions(), t, 100)))) ==
        sorted({d1.id, d2.id}));

  CHECK(dlq_ids(STORE_OK(store().list_dlq(client_a, dlq_filter{}, page_request{})).items) ==
        std::vector<std::string>{d3.id});
  dlq_filter with_replayed;
  with_replayed.include_replayed = true;
  for (const auto& e : STORE_OK(store().list_dlq(client_a, with_replayed, page_request{})).items)
    CHECK(e.replayed_at == (e.delivery_id == d3.id ? 0 : t));
  auto b_dlq = STORE_OK(store().list_dlq(client_b, dlq_filter{}, page_request{})).items;
  REQUIRE(b_dlq.size() == 1);
  CHECK(b_dlq[0].replayed_at == 0);

  SECTION("a second replay of the same ids does nothing") {
    CHECK(STORE_OK(store().replay_dlq(client_a, {d1.id, d2.id}, t + 1000)).empty());
    check_state(STORE_OK(store().get_delivery(client_a, d1.id)), delivery_status::pending, 2, t);
    for (const auto& e : STORE_OK(store().list_dlq(client_a, with_replayed, page_request{})).items)
      if (e.delivery_id != d3.id) CHECK(e.replayed_at == t);
  }

  SECTION("the owner can still replay its own entry") {
    CHECK(ids_of(STORE_OK(store().replay_dlq(client_b, {db.id}, t))) ==
          std::vector<std::string>{db.id});
  }

  SECTION("a replayed delivery that fails again re-enters the DLQ and can be replayed again") {
    record(d1, 3, delivery_status::failed, 0, "still failing");
    auto open = STORE_OK(store().list_dlq(client_a, dlq_filter{}, page_request{})).items;
    CHECK(dlq_ids(open) == sorted({d1.id, d3.id}));
    for (const auto& e : open)
      if (e.delivery_id == d1.id) CHECK(e.reason == "still failing");
    check_state(STORE_OK(store().get_delivery(client_a, d1.id)), delivery_status::failed, 3);
    CHECK(ids_of(STORE_OK(store().replay_dlq(client_a, {d1.id}, t + 5))) ==
          std::vector<std::string>{d1.id});
    check_state(STORE_OK(store().get_delivery(client_a, d1.id)), delivery_status::pending, 3,
                t + 5);
  }
}

TEST_CASE_METHOD(store_fixture,
                 "count_dlq follows parking, replay, resend and parking again across clients",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto wb = add_webhook(client_b);
  auto d1 = add_event(client_a, {w}).deliveries[0];
  auto d2 = add_event(client_a, {w}).deliveries[0];
  auto d3 = add_event(client_b, {wb}).deliveries[0];
  CHECK(STORE_OK(store().count_dlq()) == 0);
  record(d1, 1, delivery_status::failed, 0, "client error HTTP 400");
  record(d2, 1, delivery_status::failed, 0, "client error HTTP 410");
  record(d3, 1, delivery_status::failed, 0, "max attempts");
  CHECK(STORE_OK(store().count_dlq()) == 3);
  // The same outcome again (a batch retried whole) parks nothing new.
  record(d3, 1, delivery_status::failed, 0, "max attempts");
  CHECK(STORE_OK(store().count_dlq()) == 3);

  advance(1000);
  CHECK(STORE_OK(store().replay_dlq(client_a, {d1.id}, now())).size() == 1);
  CHECK(STORE_OK(store().count_dlq()) == 2);
  STORE_OK(store().resend_delivery(client_a, d2.id, now()));
  CHECK(STORE_OK(store().count_dlq()) == 1);
  // Replayed twice, or another client's entry: nothing changes.
  CHECK(STORE_OK(store().replay_dlq(client_a, {d1.id, d3.id}, now())).empty());
  CHECK(STORE_OK(store().count_dlq()) == 1);

  // Both fail again: their entries are waiting once more (one entry per delivery).
  advance(1000);
  record(d1, 2, delivery_status::failed, 0, "client error HTTP 400");
  record(d2, 2, delivery_status::failed, 0, "client error HTTP 410");
  CHECK(STORE_OK(store().count_dlq()) == 3);
  dlq_filter with_replayed;
  with_replayed.include_replayed = true;
  CHECK(STORE_OK(store().list_dlq(client_a, with_replayed, page_request{})).items.size() == 2);
}

TEST_CASE_METHOD(store_fixture,
                 "resend_delivery requeues a succeeded or failed delivery and closes its DLQ entry",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto wb = add_webhook(client_b);
  auto ok = add_event(client_a, {w}).deliveries[0];
  auto parked = add_event(client_a, {w}).deliveries[0];
  auto waiting = add_event(client_a, {w}).deliveries[0];
  auto foreign = add_event(client_b, {wb}).deliveries[0];
  record(ok, 1, delivery_status::succeeded);
  record(parked, 1, delivery_status::failed, 0, "client error HTTP 400");
  record(waiting, 1, delivery_status::pending, now() + 5000);
  record(foreign, 1, delivery_status::succeeded);
  advance(1000);
  const int64_t t = now();

  check_state(STORE_OK(store().resend_delivery(client_a, ok.id, t)), delivery_status::pending, 1,
              t);
  check_state(STORE_OK(store().get_delivery(client_a, ok.id)), delivery_status::pending, 1, t);

  auto resent = STORE_OK(store().resend_delivery(client_a, parked.id, t));
  check_state(resent, delivery_status::pending, 1, t);
  CHECK(STORE_OK(store().list_dlq(client_a, dlq_filter{}, page_request{})).items.empty());
  dlq_filter with_replayed;
  with_replayed.include_replayed = true;
  auto closed = STORE_OK(store().list_dlq(client_a, with_replayed, page_request{})).items;
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].replayed_at == t);
  // The DLQ entry can't be replayed any more: the resend was its replay.
  CHECK(STORE_OK(store().replay_dlq(client_a, {parked.id}, t + 1)).empty());

  // Pending (queued or in flight) is a conflict, also right after a resend; so is cancelled.
  STORE_ERR(store().resend_delivery(client_a, waiting.id, t), conflict);
  STORE_ERR(store().resend_delivery(client_a, ok.id, t), conflict);
  check_state(STORE_OK(store().get_delivery(client_a, waiting.id)), delivery_status::pending, 1,
              now() + 4000);
  CHECK(STORE_OK(store().delete_webhook(client_a, w.id)) == 3);  // the three pending ones
  STORE_ERR(store().resend_delivery(client_a, waiting.id, t), conflict);

  // Another client's delivery and an unknown one are not found, and left alone.
  STORE_ERR(store().resend_delivery(client_a, foreign.id, t), not_found);
  STORE_ERR(store().resend_delivery(client_a, "msg_missing", t), not_found);
  check_state(STORE_OK(store().get_delivery(client_b, foreign.id)), delivery_status::succeeded, 1);
  CHECK(STORE_OK(store().list_attempts(client_a, parked.id)).size() == 1);
}

TEST_CASE_METHOD(store_fixture,
                 "replay and resend start a new series at the attempt count; every read shows it",
                 "[store]") {
  auto w = add_webhook(client_a);
  auto d = add_event(client_a, {w}).deliveries[0];
  auto other = add_event(client_a, {w}).deliveries[0];
  CHECK(STORE_OK(store().get_delivery(client_a, d.id)).series_start == 0);
  record(d, 1, delivery_status::pending, now() + 5);
  record(d, 2, delivery_status::failed, 0, "exhausted after 2 attempts: HTTP 500");
  record(other, 1, delivery_status::pending, now() + 5);
  CHECK(STORE_OK(store().get_delivery(client_a, d.id)).series_start == 0);
  advance(1000);
  const int64_t t = now();

  // Every read of a pending delivery carries where its series began.
  auto check_reads = [&](int expected) {
    INFO("series_start " << expected);
    CHECK(STORE_OK(store().get_delivery(client_a, d.id)).series_start == expected);
    for (const auto& row : STORE_OK(store().load_due_deliveries(all_partitions(), now(), 100)))
      CHECK(row.series_start == (row.id == d.id ? expected : 0));
    for (const auto& row : STORE_OK(store().load_pending_for_webhook(w.id, 100)))
      CHECK(row.series_start == (row.id == d.id ? expected : 0));
    for (auto order : {pending_order::due, pending_order::created}) {
      auto loaded = STORE_OK(store().load_pending_with_events(w.id, order, 100));
      CHECK(loaded.size() == 2);
      for (const auto& item : loaded)
        CHECK(item.row.series_start == (item.row.id == d.id ? expected : 0));
    }
    for (const auto& row :
         STORE_OK(store().list_deliveries(client_a, w.id, delivery_filter{}, page_request{})).items)
      CHECK(row.series_start == (row.id == d.id ? expected : 0));
    for (const auto& row : STORE_OK(store().list_event_deliveries(client_a, d.event_id)))
      CHECK(row.series_start == expected);
  };

  auto replayed = STORE_OK(store().replay_dlq(client_a, {d.id}, t));
  REQUIRE(replayed.size() == 1);
  check_state(replayed[0], delivery_status::pending, 2, t);
  CHECK(replayed[0].series_start == 2);
  check_reads(2);

  // Attempts of the new series keep their numbers and leave the series where it began.
  record(d, 3, delivery_status::pending, t + 5);
  check_state(STORE_OK(store().get_delivery(client_a, d.id)), delivery_status::pending, 3, t + 5);
  check_reads(2);
  auto requeued = STORE_OK(store().requeue_delivery(client_a, d.id, t + 6));
  CHECK(requeued.series_start == 2);
  record(d, 4, delivery_status::failed, 0, "exhausted after 2 attempts: HTTP 500");
  CHECK(STORE_OK(store().get_delivery(client_a, d.id)).series_start == 2);
  CHECK(STORE_OK(store().list_attempts(client_a, d.id)).size() == 4);

  // A second parking: replay again, then a resend after a success.
  CHECK(ids_of(STORE_OK(store().replay_dlq(client_a, {d.id}, t + 10))) ==
        std::vector<std::string>{d.id});
  CHECK(STORE_OK(store().get_delivery(client_a, d.id)).series_start == 4);
  record(d, 5, delivery_status::succeeded);
  auto resent = STORE_OK(store().resend_delivery(client_a, d.id, t + 20));
  check_state(resent, delivery_status::pending, 5, t + 20);
  CHECK(resent.series_start == 5);
  check_reads(5);

  // A replay of a foreign or replayed entry and a refused resend leave the series alone.
  CHECK(STORE_OK(store().replay_dlq(client_b, {d.id}, t + 30)).empty());
  STORE_ERR(store().resend_delivery(client_a, d.id, t + 30), conflict);
  CHECK(STORE_OK(store().get_delivery(client_a, d.id)).series_start == 5);

  reopen();
  CHECK(STORE_OK(store().get_delivery(client_a, d.id)).series_start == 5);
  CHECK(STORE_OK(store().get_delivery(client_a, other.id)).series_start == 0);
}

TEST_CASE_METHOD(store_fixture, "the attempt feed returns a client's attempts in recorded order",
                 "[store]") {
  auto w1 = add_webhook(client_a);
  auto w2 = add_webhook(client_a);
  auto wb = add_webhook(client_b);
  auto d1 = add_event(client_a, {w1}).deliveries[0];
  auto d2 = add_event(client_a, {w2}).deliveries[0];
  auto db = add_event(client_b, {wb}).deliveries[0];
  record(d1, 1, delivery_status::pending, now() + 10);
  record(db, 1, delivery_status::pending, now() + 10);
  record(d2, 1, delivery_status::succeeded);
  record(d1, 2, delivery_status::succeeded);

  auto feed_of = [&](const std::string& client, const std::string& webhook_id, int64_t after,
                     int limit) {
    attempt_feed_request req;
    req.webhook_id = webhook_id;
    req.after = after;
    req.limit = limit;
    return STORE_OK(store().list_attempt_feed(client, req));
  };
  auto keys = [](const attempt_feed& feed) {
    std::vector<std::string> out;
    for (const auto& r : feed.items)
      out.push_back(r.att.delivery_id + "#" + std::to_string(r.att.attempt_no));
    return out;
  };

  auto all = feed_of(client_a, "", -1, 50);
  CHECK(keys(all) == std::vector<std::string>{d1.id + "#1", d2.id + "#1", d1.id + "#2"});
  REQUIRE(all.items.size() == 3);
  CHECK(all.items[0].webhook_id == w1.id);
  CHECK(all.items[1].webhook_id == w2.id);
  CHECK(all.items[1].event_id == d2.event_id);
  CHECK(all.items[1].event_type == d2.event_type);
  CHECK(all.items[0].seq < all.items[1].seq);
  CHECK(all.items[1].seq < all.items[2].seq);
  CHECK(all.cursor == all.items[2].seq);

  // The latest N, still oldest first; then only what comes after a cursor.
  CHECK(keys(feed_of(client_a, "", -1, 2)) == std::vector<std::string>{d2.id + "#1", d1.id + "#2"});
  CHECK(keys(feed_of(client_a, "", all.items[0].seq, 50)) ==
        std::vector<std::string>{d2.id + "#1", d1.id + "#2"});
  CHECK(keys(feed_of(client_a, "", all.items[0].seq, 1)) == std::vector<std::string>{d2.id + "#1"});
  auto none = feed_of(client_a, "", all.cursor, 50);
  CHECK(none.items.empty());
  CHECK(none.cursor == all.cursor);
  CHECK(keys(feed_of(client_a, w1.id, -1, 50)) ==
        std::vector<std::string>{d1.id + "#1", d1.id + "#2"});

  // A new attempt shows up after the cursor; another client's never does.
  record(db, 2, delivery_status::succeeded);
  auto d3 = add_event(client_a, {w2}).deliveries[0];
  record(d3, 1, delivery_status::succeeded);
  CHECK(keys(feed_of(client_a, "", all.cursor, 50)) == std::vector<std::string>{d3.id + "#1"});
  CHECK(keys(feed_of(client_b, "", -1, 50)) ==
        std::vector<std::string>{db.id + "#1", db.id + "#2"});
  CHECK(feed_of(client_b, w1.id, -1, 50).items.empty());
  auto empty = feed_of("nobody", "", -1, 50);
  CHECK(empty.items.empty());
  CHECK(empty.cursor == 0);
}

// ------------------------------------------------------------------------------------------------
// Concurrency

TEST_CASE_METHOD(store_fixture, "recording outcomes again keeps one attempt each", "[store]") {
  auto w = add_webhook(client_a);
  const delivery d1 = add_event(client_a, {w}).deliveries[0];
  const delivery d2 = add_event(client_a, {w}).deliveries[0];
  const int64_t t = now();
  auto o1 = make_outcome(d1, 1, delivery_status::succeeded, t + 1);
  auto o2 = make_outcome(d2, 1, delivery_status::failed, t + 2, 0, "client error 400");
  o2.att.status_code = 400;
  STORE_OK(store().record_attempts({o1, o2}));
  // A retry of a batch whose commit went unanswered.
  STORE_OK(store().record_attempts({o1, o2}));

  check_state(STORE_OK(store().get_delivery(client_a, d1.id)), delivery_status::succeeded, 1);
  check_state(STORE_OK(store().get_delivery(client_a, d2.id)), delivery_status::failed, 1);
  auto attempts1 = STORE_OK(store().list_attempts(client_a, d1.id));
  REQUIRE(attempts1.size() == 1);
  check_same(attempts1[0], o1.att);
  CHECK(STORE_OK(store().list_attempts(client_a, d2.id)).size() == 1);
  CHECK(STORE_OK(store().count_dlq()) == 1);
}

TEST_CASE_METHOD(store_fixture, "concurrent append_events store each event exactly once",
                 "[store]") {
  constexpr int threads = 4;
  constexpr int batches = 50;
  constexpr int shared_pool = 30;
  auto w = add_webhook(client_a);
  const int64_t t = now();

  auto make = [&](const std::string& event_id, const std::string& delivery_id) {
    new_event ne;
    ne.ev = event{client_a, event_id, "invoice.paid", t, R"({"n":1})", "src_load", t};
    delivery d;
    d.id = delivery_id;
    d.client_id = client_a;
    d.event_id = event_id;
    d.event_type = "invoice.paid";
    d.webhook_id = w.id;
    d.partition = partition_of(w.id);
    d.next_attempt_at = t;
    d.created_at = t;
    d.updated_at = t;
    ne.deliveries.push_back(d);
    return ne;
  };

  // plan[thread][batch]: two events only this batch has, two drawn from a pool every thread
  // draws from, and every fifth batch repeats its first event at the end.
  std::vector<std::vector<std::vector<new_event>>> plan(threads);
  std::set<std::string> distinct;
  for (int th = 0; th < threads; ++th) {
    for (int b = 0; b < batches; ++b) {
      std::string tag = std::to_string(th) + "-" + std::to_string(b);
      std::vector<std::string> event_ids{"u-" + tag + "-0", "u-" + tag + "-1",
                                         "s-" + std::to_string((b * 7 + th) % shared_pool),
                                         "s-" + std::to_string((b * 3 + 2 * th + 1) % shared_pool)};
      if (b % 5 == 0) event_ids.push_back(event_ids[0]);
      std::vector<new_event> batch;
      for (size_t i = 0; i < event_ids.size(); ++i) {
        batch.push_back(make(event_ids[i], "msg-" + tag + "-" + std::to_string(i)));
        distinct.insert(event_ids[i]);
      }
      plan[th].push_back(std::move(batch));
    }
  }

  // No Catch assertions off the main thread: workers only record what they saw.
  std::vector<std::vector<std::vector<bool>>> seen(threads);
  std::vector<std::vector<std::string>> errors(threads);
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  std::vector<std::thread> workers;
  for (int th = 0; th < threads; ++th) {
    workers.emplace_back([&, th] {
      start.wait();
      for (const auto& batch : plan[th]) {
        auto r = store().append_events(batch);
        if (r.ok())
          seen[th].push_back(r->duplicate);
        else
          errors[th].push_back(describe(r));
      }
    });
  }
  go.set_value();
  for (auto& worker : workers) worker.join();

  for (int th = 0; th < threads; ++th) {
    INFO("thread " << th << " first error: " << (errors[th].empty() ? "" : errors[th][0]));
    CHECK(errors[th].empty());
    REQUIRE(seen[th].size() == plan[th].size());
  }

  // Who stored each event: exactly one (thread, batch, position), and for an event repeated
  // within one batch, its first occurrence.
  std::map<std::string, std::vector<std::string>> winners;  // event id -> delivery ids
  int stored = 0;
  std::vector<std::string> problems;
  for (int th = 0; th < threads; ++th) {
    for (int b = 0; b < batches; ++b) {
      const auto& batch = plan[th][b];
      const auto& dup = seen[th][b];
      if (dup.size() != batch.size()) {
        problems.push_back("batch " + std::to_string(th) + "-" + std::to_string(b) +
                           ": duplicate has " + std::to_string(dup.size()) + " entries for " +
                           std::to_string(batch.size()) + " events");
        continue;
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        if (dup[i]) continue;
        ++stored;
        winners[batch[i].ev.event_id].push_back(batch[i].deliveries[0].id);
        if (batch[i].ev.event_id.rfind("u-", 0) == 0 && batch[i].deliveries[0].id.back() != '0' &&
            batch[i].deliveries[0].id.back() != '1')
          problems.push_back("the repeat of " + batch[i].ev.event_id + " in its batch was stored");
      }
    }
  }
  for (const auto& id : distinct)
    if (winners[id].size() != 1)
      problems.push_back(id + " was reported stored " + std::to_string(winners[id].size()) +
                         " times");
  INFO("first problems: " << (problems.empty() ? "" : problems[0]) << " / "
                          << (problems.size() > 1 ? problems[1] : ""));
  CHECK(problems.empty());
  CHECK(stored == static_cast<int>(distinct.size()));

  // What the store holds matches what it reported.
  std::vector<std::string> expected_deliveries;
  for (const auto& [event_id, deliveries] : winners)
    expected_deliveries.insert(expected_deliveries.end(), deliveries.begin(), deliveries.end());
  auto all = read_all_pages<delivery>(
      [&](const page_request& req) {
        return store().list_deliveries(client_a, w.id, delivery_filter{}, req);
      },
      100);
  CHECK(all.rows.size() == distinct.size());
  CHECK(sorted(ids_of(all.rows)) == sorted(expected_deliveries));
  std::vector<std::string> mismatched;
  for (const auto& id : distinct) {
    auto listed = store().list_event_deliveries(client_a, id);
    if (!listed.ok() || ids_of(*listed) != winners[id]) mismatched.push_back(id);
  }
  INFO("first mismatched event: " << (mismatched.empty() ? "" : mismatched[0]));
  CHECK(mismatched.empty());
}

// ------------------------------------------------------------------------------------------------
// Durability across reopening

TEST_CASE_METHOD(store_fixture, "reopening the store keeps every row", "[store]") {
  auto w = make_webhook(client_a);
  w.description = "survives";
  w.retry_policy = R"({"max_attempts":2})";
  STORE_OK(store().insert_webhook(w));
  auto ne = add_event(client_a, {w, add_webhook(client_b)});
  const delivery failed = ne.deliveries[0];
  auto retry = add_event(client_a, {w}).deliveries[0];
  auto failure = make_outcome(failed, 1, delivery_status::failed, now(), 0, "gone");
  auto retrying = make_outcome(retry, 1, delivery_status::pending, now(), now() + 500);
  STORE_OK(store().record_attempts({failure, retrying}));
  event_type type{"invoice.paid", "kept", "", now()};
  STORE_OK(store().insert_event_type(type));
  source src{next_id("src"), "billing", "key-1", "secret", {"invoice.paid"}, {}, now(), now()};
  STORE_OK(store().insert_source(src));
  STORE_OK(store().heartbeat_node(node{"node-1", "127.0.0.1:7001", now()}));
  REQUIRE(STORE_OK(store().acquire_lease(3, "node-1", now(), now() + 10'000)));

  reopen();

  check_same(STORE_OK(store().get_webhook(client_a, w.id)), w);
  check_same(STORE_OK(store().get_event(client_a, ne.ev.event_id)), ne.ev);
  check_same(STORE_OK(store().get_delivery(client_a, ne.deliveries[1].id)), ne.deliveries[1]);
  check_state(STORE_OK(store().get_delivery(client_a, failed.id)), delivery_status::failed, 1);
  check_state(STORE_OK(store().get_delivery(client_a, retry.id)), delivery_status::pending, 1,
              retrying.next_attempt_at);
  auto attempts = STORE_OK(store().list_attempts(client_a, failed.id));
  REQUIRE(attempts.size() == 1);
  check_same(attempts[0], failure.att);
  auto dlq = STORE_OK(store().list_dlq(client_a, dlq_filter{}, page_request{})).items;
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].delivery_id == failed.id);
  CHECK(dlq[0].reason == "gone");
  auto types = STORE_OK(store().list_event_types());
  REQUIRE(types.size() == 1);
  check_same(types[0], type);
  check_same(STORE_OK(store().get_source(src.id)), src);
  auto nodes = STORE_OK(store().list_nodes());
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].id == "node-1");
  auto leases = STORE_OK(store().list_leases());
  REQUIRE(leases.size() == 1);
  CHECK(leases[0].node_id == "node-1");
  CHECK(ids_of(STORE_OK(store().load_due_deliveries(all_partitions(), now() + 500, 100))) ==
        std::vector<std::string>{ne.deliveries[1].id, retry.id});
}

// ------------------------------------------------------------------------------------------------
// Cluster

TEST_CASE_METHOD(store_fixture, "heartbeat_node inserts and refreshes nodes", "[store]") {
  const int64_t t = now();
  CHECK(STORE_OK(store().list_nodes()).empty());
  STORE_OK(store().heartbeat_node(node{"node-1", "10.0.0.1:7000", t}));
  STORE_OK(store().heartbeat_node(node{"node-2", "", t + 1}));

  auto by_id = [&] {
    std::map<std::string, node> out;
    for (const auto& n : STORE_OK(store().list_nodes())) out[n.id] = n;
    return out;
  };
  auto nodes = by_id();
  REQUIRE(nodes.size() == 2);
  CHECK(nodes["node-1"].address == "10.0.0.1:7000");
  CHECK(nodes["node-1"].heartbeat_at == t);
  CHECK(nodes["node-2"].address == "");
  CHECK(nodes["node-2"].heartbeat_at == t + 1);

  STORE_OK(store().heartbeat_node(node{"node-1", "10.0.0.9:7001", t + 5000}));
  nodes = by_id();
  REQUIRE(nodes.size() == 2);
  CHECK(nodes["node-1"].address == "10.0.0.9:7001");
  CHECK(nodes["node-1"].heartbeat_at == t + 5000);
  CHECK(nodes["node-2"].heartbeat_at == t + 1);
}

TEST_CASE_METHOD(store_fixture, "acquire_lease: free, held, expired, renewed", "[store]") {
  const int64_t t = now();
  auto holder = [&](int partition) -> partition_lease {
    for (const auto& l : STORE_OK(store().list_leases()))
      if (l.partition == partition) return l;
    return partition_lease{partition, "", 0};
  };

  CHECK(STORE_OK(store().list_leases()).empty());
  CHECK(STORE_OK(store().acquire_lease(7, "node-1", t, t + 1000)));
  CHECK(holder(7).node_id == "node-1");
  CHECK(holder(7).expires_at == t + 1000);

  CHECK_FALSE(STORE_OK(store().acquire_lease(7, "node-2", t + 10, t + 1010)));
  CHECK_FALSE(STORE_OK(store().acquire_lease(7, "node-2", t + 1000, t + 2000)));  // not yet expired
  CHECK(holder(7).node_id == "node-1");
  CHECK(holder(7).expires_at == t + 1000);

  CHECK(STORE_OK(store().acquire_lease(7, "node-1", t + 500, t + 1500)));  // renewal
  CHECK(holder(7).expires_at == t + 1500);
  CHECK(STORE_OK(store().acquire_lease(8, "node-1", t + 500, t + 1500)));  // another partition

  CHECK(STORE_OK(store().acquire_lease(7, "node-2", t + 1501, t + 2501)));  // expired: taken over
  CHECK(holder(7).node_id == "node-2");
  CHECK(holder(7).expires_at == t + 2501);
  CHECK_FALSE(STORE_OK(store().acquire_lease(7, "node-1", t + 1600, t + 2600)));
  CHECK(holder(7).node_id == "node-2");
  CHECK(holder(8).node_id == "node-1");
  CHECK(STORE_OK(store().list_leases()).size() == 2);
}

TEST_CASE_METHOD(store_fixture, "racing nodes: exactly one gets each lease", "[store]") {
  constexpr int racers = 6;
  constexpr int partitions = 8;
  const int64_t t = now();

  // Round 0: every partition is free. Round 1: every lease has expired.
  for (int round = 0; round < 2; ++round) {
    const int64_t at = t + round * 10'000;
    std::vector<std::vector<int>> won(racers);
    std::vector<std::vector<std::string>> errors(racers);
    std::promise<void> go;
    std::shared_future<void> start = go.get_future().share();
    std::vector<std::thread> workers;
    for (int r = 0; r < racers; ++r) {
      workers.emplace_back([&, r] {
        start.wait();
        const std::string me = "node-" + std::to_string(round) + "-" + std::to_string(r);
        for (int p = 0; p < partitions; ++p) {
          auto got = store().acquire_lease(p, me, at, at + 1000);
          if (!got.ok())
            errors[r].push_back(describe(got));
          else if (*got)
            won[r].push_back(p);
        }
      });
    }
    go.set_value();
    for (auto& worker : workers) worker.join();

    INFO("round " << round);
    std::map<int, std::vector<std::string>> winners;
    for (int r = 0; r < racers; ++r) {
      INFO("racer " << r << " first error: " << (errors[r].empty() ? "" : errors[r][0]));
      CHECK(errors[r].empty());
      for (int p : won[r])
        winners[p].push_back("node-" + std::to_string(round) + "-" + std::to_string(r));
    }
    for (int p = 0; p < partitions; ++p) {
      INFO("partition " << p);
      REQUIRE(winners[p].size() == 1);
      bool listed = false;
      for (const auto& l : STORE_OK(store().list_leases()))
        if (l.partition == p) {
          listed = true;
          CHECK(l.node_id == winners[p][0]);
          CHECK(l.expires_at == at + 1000);
        }
      CHECK(listed);
    }
  }
}
