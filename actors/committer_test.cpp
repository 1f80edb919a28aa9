#include "actors/committer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace webhookd;

namespace {

constexpr std::chrono::seconds deadline{10};

new_event make_item(const std::string& id, int deliveries) {
  new_event item;
  item.ev.client_id = "acme";
  item.ev.event_id = id;
  item.ev.event_type = "invoice.paid";
  item.ev.timestamp = 1'700'000'000'000;
  item.ev.payload = R"({"amount":1})";
  item.ev.source_id = "src_1";
  for (int i = 0; i < deliveries; ++i) {
    delivery d;
    d.id = "msg_" + id + "_" + std::to_string(i);
    d.client_id = "acme";
    d.event_id = id;
    d.event_type = "invoice.paid";
    d.webhook_id = "wh_" + std::to_string(i);
    d.partition = partition_of(d.webhook_id);
    d.next_attempt_at = 1'700'000'000'000;
    item.deliveries.push_back(d);
  }
  return item;
}

struct committer_fixture {
  committer_fixture() : sys(configured(config)) {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() /
          ("webhookd-committer-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    auto opened = storage::open_store_blocking({"sqlite:" + (dir / "store.db").string()});
    REQUIRE(opened);
    store = std::move(opened.value());
    committer = spawn_committer(sys, store.get(), nullptr);
  }
  ~committer_fixture() {
    caf::anon_send_exit(committer, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  // The committer's answer: the result, or the error.
  std::pair<std::optional<append_result>, caf::error> commit(std::vector<new_event> batch) {
    caf::scoped_actor self{sys, true};
    std::pair<std::optional<append_result>, caf::error> out;
    self->request(committer, deadline, commit_atom::value, std::move(batch))
        .receive([&](append_result& r) { out.first = std::move(r); },
                 [&](caf::error& err) { out.second = std::move(err); });
    return out;
  }

  caf::actor_system_config config;
  caf::actor_system sys;
  std::filesystem::path dir;
  std::unique_ptr<storage::blocking_store> store;
  committer_actor committer;
};

}  // namespace

TEST_CASE("committer appends a batch in one go and reports duplicates", "[unit][sqlite]") {
  committer_fixture f;
  auto first = f.commit({make_item("e1", 2), make_item("e2", 1)});
  REQUIRE(first.first);
  CHECK(first.first->duplicate == std::vector<bool>{false, false});
  auto deliveries = f.store->list_event_deliveries("acme", "e1");
  REQUIRE(deliveries);
  CHECK(deliveries->size() == 2);

  auto second = f.commit({make_item("e2", 1), make_item("e3", 1), make_item("e3", 1)});
  REQUIRE(second.first);
  CHECK(second.first->duplicate == std::vector<bool>{true, false, true});
  CHECK(f.store->get_event("acme", "e3").ok());
}

TEST_CASE("committer turns a store error into a commit error and writes nothing",
          "[unit][sqlite]") {
  committer_fixture f;
  new_event bad = make_item("e2", 1);
  bad.deliveries[0].event_id = "someone_else";  // breaks append_events' precondition
  auto answer = f.commit({make_item("e1", 1), bad});
  CHECK_FALSE(answer.first);
  auto failure = commit_failure_of(answer.second);
  REQUIRE(failure);
  CHECK(failure->code == storage::errc::invalid);
  CHECK_FALSE(failure->message.empty());
  CHECK_FALSE(f.store->get_event("acme", "e1").ok());
}

TEST_CASE("commit errors round-trip their store code and message", "[unit]") {
  for (auto code : {storage::errc::not_found, storage::errc::conflict, storage::errc::invalid,
                    storage::errc::unavailable, storage::errc::internal}) {
    auto failure = commit_failure_of(make_commit_error({code, "why"}));
    REQUIRE(failure);
    CHECK(failure->code == code);
    CHECK(failure->message == "why");
  }
  CHECK_FALSE(commit_failure_of(caf::make_error(caf::sec::request_timeout)));
  CHECK_FALSE(commit_failure_of(caf::error{}));
}
