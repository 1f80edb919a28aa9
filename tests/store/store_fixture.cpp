#include "tests/store/store_fixture.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <system_error>

#include "storage/pg_test_support.hpp"

namespace webhookd::storage::test {

namespace {

/// A name no other test case (in this or another process) uses at the same time.
std::string unique_suffix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(rd() % 1'000'000);
}

/// A SQLite file in a temporary directory of its own, removed with the directory.
class sqlite_backend final : public backend {
 public:
  explicit sqlite_backend(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~sqlite_backend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (ec) std::cerr << "store_fixture: could not remove " << dir_ << ": " << ec.message() << "\n";
  }
  std::string store_name() const override { return "sqlite"; }
  std::string url() const override { return "sqlite:" + (dir_ / "store.db").string(); }

 private:
  std::filesystem::path dir_;
};

/// A scratch PostgreSQL database, dropped when destroyed.
class pg_backend final : public backend {
 public:
  pg_backend(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}
  ~pg_backend() override {
    auto dropped = drop_scratch_database_blocking(admin_url_, name_);
    if (!dropped.ok())
      std::cerr << "store_fixture: could not drop scratch database " << name_ << ": "
                << describe(dropped) << "\n";
  }
  std::string store_name() const override { return "postgresql"; }
  std::string url() const override { return url_; }

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

result<std::unique_ptr<backend>> make_sqlite_backend() {
  std::error_code ec;
  auto base = std::filesystem::temp_directory_path(ec);
  if (ec) return error{errc::unavailable, "no temporary directory: " + ec.message()};
  auto dir = base / ("webhookd-store-conformance-" + unique_suffix());
  std::filesystem::create_directories(dir, ec);
  if (ec) return error{errc::unavailable, "cannot create " + dir.string() + ": " + ec.message()};
  return std::unique_ptr<backend>{std::make_unique<sqlite_backend>(dir)};
}

result<std::unique_ptr<backend>> make_pg_backend() {
  const char* admin = std::getenv("WEBHOOKD_TEST_PG_URL");
  if (admin == nullptr || *admin == '\0')
    return error{errc::invalid,
                 "WEBHOOKD_TEST_BACKEND=pg needs WEBHOOKD_TEST_PG_URL (an admin url of a "
                 "PostgreSQL server); run the suite under scripts/with-postgres.sh, e.g. "
                 "scripts/with-postgres.sh ctest --test-dir build -L pg"};
  std::string name = "webhookd_conf_" + unique_suffix();
  auto url = create_scratch_database_blocking(admin, name);
  if (!url.ok())
    return error{url.err().code, "creating scratch database " + name + " on " + admin +
                                     " failed: " + url.err().message};
  return std::unique_ptr<backend>{std::make_unique<pg_backend>(admin, name, *url)};
}

}  // namespace

result<std::unique_ptr<backend>> make_backend_from_environment() {
  const char* chosen = std::getenv("WEBHOOKD_TEST_BACKEND");
  std::string name = chosen == nullptr || *chosen == '\0' ? "sqlite" : chosen;
  if (name == "sqlite") return make_sqlite_backend();
  if (name == "pg" || name == "postgresql") return make_pg_backend();
  return error{errc::invalid, "WEBHOOKD_TEST_BACKEND must be sqlite or pg, not '" + name + "'"};
}

store_fixture::store_fixture() : ids_(clock_, 0x5eed) {
  auto made = make_backend_from_environment();
  if (!made.ok()) FAIL("store backend setup failed: " << describe(made));
  backend_ = std::move(*made);
  auto opened = open_store_blocking(store_settings{backend_->url(), 4});
  if (!opened.ok())
    FAIL("opening the store at " << backend_->url() << " failed: " << describe(opened));
  store_ = std::move(*opened);
}

store_fixture::~store_fixture() {
  store_.reset();
}

void store_fixture::reopen() {
  store_.reset();
  auto opened = open_store_blocking(store_settings{backend_->url(), 4});
  INFO("reopening " << backend_->url() << " -> " << describe(opened));
  REQUIRE(opened.ok());
  store_ = std::move(*opened);
}

std::string store_fixture::next_id(std::string_view prefix) {
  clock_.advance_ms(1);
  return ids_.next(prefix);
}

webhook store_fixture::make_webhook(const std::string& client_id) {
  webhook w;
  w.id = next_id("wh");
  w.client_id = client_id;
  w.callback_url = "https://receiver.example/hooks/" + w.id;
  w.event_types = {"invoice.paid", "user.*"};
  w.signing_secret = "whsec_" + w.id;
  w.created_at = now();
  w.updated_at = now();
  return w;
}

webhook store_fixture::add_webhook(const std::string& client_id) {
  auto w = make_webhook(client_id);
  STORE_OK(store().insert_webhook(w));
  return w;
}

new_event store_fixture::make_event(const std::string& client_id,
                                    const std::vector<webhook>& targets, const std::string& type,
                                    int64_t due_at) {
  new_event ne;
  ne.ev.client_id = client_id;
  ne.ev.event_id = next_id("ev");
  ne.ev.event_type = type;
  ne.ev.timestamp = now() - 1000;
  ne.ev.payload = R"({"id":")" + ne.ev.event_id + R"(","amount":42})";
  ne.ev.source_id = "src_billing";
  ne.ev.received_at = now();
  for (const auto& w : targets) {
    delivery d;
    d.id = next_id("msg");
    d.client_id = client_id;
    d.event_id = ne.ev.event_id;
    d.event_type = type;
    d.webhook_id = w.id;
    d.partition = partition_of(w.id);
    d.status = delivery_status::pending;
    d.next_attempt_at = due_at != 0 ? due_at : ne.ev.received_at;
    d.created_at = ne.ev.received_at;
    d.updated_at = ne.ev.received_at;
    ne.deliveries.push_back(d);
  }
  return ne;
}

new_event store_fixture::add_event(const std::string& client_id,
                                   const std::vector<webhook>& targets, const std::string& type,
                                   int64_t due_at) {
  auto ne = make_event(client_id, targets, type, due_at);
  auto appended = STORE_OK(store().append_events({ne}));
  REQUIRE(appended.duplicate == std::vector<bool>{false});
  return ne;
}

void store_fixture::record(const delivery& d, int attempt_no, delivery_status status,
                           int64_t next_at, const std::string& dlq_reason) {
  STORE_OK(
      store().record_attempts({make_outcome(d, attempt_no, status, now(), next_at, dlq_reason)}));
}

attempt_outcome make_outcome(const delivery& d, int attempt_no, delivery_status status,
                             int64_t started_at, int64_t next_at, const std::string& dlq_reason) {
  attempt_outcome o;
  o.att.delivery_id = d.id;
  o.att.attempt_no = attempt_no;
  o.att.started_at = started_at;
  o.att.duration_ms = 100 + attempt_no;
  switch (status) {
    case delivery_status::succeeded:
      o.att.status_code = 200;
      o.att.response_excerpt = R"({"ok":true})";
      break;
    case delivery_status::failed:
      o.att.status_code = 400;
      o.att.response_excerpt = R"({"error":"bad request"})";
      break;
    default:
      o.att.status_code = 0;
      o.att.error = "connection refused";
      break;
  }
  o.new_status = status;
  o.next_attempt_at = next_at;
  o.dlq_reason =
      dlq_reason.empty() && status == delivery_status::failed ? "client error 400" : dlq_reason;
  return o;
}

std::string describe(const status& s) {
  return s.ok() ? std::string{"ok"} : std::string{to_string(s.err().code)} + ": " + s.err().message;
}

void take_ok(const status& s, const char* expr) {
  INFO(expr << " -> " << describe(s));
  REQUIRE(s.ok());
}

void check_error(const status& s, errc code, const char* expr) {
  INFO(expr << " -> " << describe(s));
  CHECK_FALSE(s.ok());
  if (!s.ok()) CHECK(s.err().code == code);
}

void check_same(const webhook& actual, const webhook& expected) {
  INFO("webhook " << expected.id);
  CHECK(actual.id == expected.id);
  CHECK(actual.client_id == expected.client_id);
  CHECK(actual.callback_url == expected.callback_url);
  CHECK(actual.event_types == expected.event_types);
  CHECK(actual.trigger_conditions == expected.trigger_conditions);
  CHECK(actual.retry_policy == expected.retry_policy);
  CHECK(actual.rate_limit == expected.rate_limit);
  CHECK(actual.priority == expected.priority);
  CHECK(actual.ordered == expected.ordered);
  CHECK(actual.public_key == expected.public_key);
  CHECK(actual.encrypt_fields == expected.encrypt_fields);
  CHECK(actual.timeout_ms == expected.timeout_ms);
  CHECK(actual.headers == expected.headers);
  CHECK(actual.description == expected.description);
  CHECK(actual.status == expected.status);
  CHECK(actual.disabled_reason == expected.disabled_reason);
  CHECK(actual.signing_secret == expected.signing_secret);
  CHECK(actual.previous_secret == expected.previous_secret);
  CHECK(actual.previous_secret_expires_at == expected.previous_secret_expires_at);
  CHECK(actual.created_at == expected.created_at);
  CHECK(actual.updated_at == expected.updated_at);
}

void check_same(const event& actual, const event& expected) {
  INFO("event " << expected.client_id << "/" << expected.event_id);
  CHECK(actual.client_id == expected.client_id);
  CHECK(actual.event_id == expected.event_id);
  CHECK(actual.event_type == expected.event_type);
  CHECK(actual.timestamp == expected.timestamp);
  CHECK(actual.payload == expected.payload);
  CHECK(actual.source_id == expected.source_id);
  CHECK(actual.received_at == expected.received_at);
}

void check_same(const delivery& actual, const delivery& expected) {
  INFO("delivery " << expected.id);
  CHECK(actual.id == expected.id);
  CHECK(actual.client_id == expected.client_id);
  CHECK(actual.event_id == expected.event_id);
  CHECK(actual.event_type == expected.event_type);
  CHECK(actual.webhook_id == expected.webhook_id);
  CHECK(actual.partition == expected.partition);
  CHECK(actual.status == expected.status);
  CHECK(actual.attempts == expected.attempts);
  CHECK(actual.next_attempt_at == expected.next_attempt_at);
  CHECK(actual.last_error == expected.last_error);
  CHECK(actual.created_at == expected.created_at);
  CHECK(actual.updated_at == expected.updated_at);
}

void check_same(const attempt& actual, const attempt& expected) {
  INFO("attempt " << expected.delivery_id << " #" << expected.attempt_no);
  CHECK(actual.delivery_id == expected.delivery_id);
  CHECK(actual.attempt_no == expected.attempt_no);
  CHECK(actual.started_at == expected.started_at);
  CHECK(actual.duration_ms == expected.duration_ms);
  CHECK(actual.status_code == expected.status_code);
  CHECK(actual.error == expected.error);
  CHECK(actual.response_excerpt == expected.response_excerpt);
}

void check_same(const source& actual, const source& expected) {
  INFO("source " << expected.id);
  CHECK(actual.id == expected.id);
  CHECK(actual.name == expected.name);
  CHECK(actual.api_key == expected.api_key);
  CHECK(actual.secret == expected.secret);
  CHECK(actual.allowed_event_types == expected.allowed_event_types);
  CHECK(actual.ip_allowlist == expected.ip_allowlist);
  CHECK(actual.created_at == expected.created_at);
  CHECK(actual.updated_at == expected.updated_at);
}

void check_same(const event_type& actual, const event_type& expected) {
  INFO("event type " << expected.name);
  CHECK(actual.name == expected.name);
  CHECK(actual.description == expected.description);
  CHECK(actual.schema == expected.schema);
  CHECK(actual.created_at == expected.created_at);
}

}  // namespace webhookd::storage::test
