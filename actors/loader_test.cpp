// The loader against a real SQLite store: backlog pages, and the stop that answers queued reads
// without running them.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/endpoint_test_support.hpp"
#include "actors/loader.hpp"

using namespace webhookd;
using namespace webhookd::test;

TEST_CASE("loader reads a page of pending deliveries; once stopping it runs no read", "[unit]") {
  temp_store db;
  system_clock_source clock;
  auto cfg = make_actor_config();
  caf::actor_system sys{*cfg};
  auto w = add_test_webhook(db.store(), "wh_loader");
  auto jobs = add_test_events(db.store(), {w}, 5, "ld");
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  auto loader = spawn_loader(sys, loader_deps{db.get(), &clock, nullptr, 2, stopping});
  caf::scoped_actor self{sys};

  std::vector<delivery_job> page;
  self->request(loader, std::chrono::seconds(10), load_atom::value, w.id, false, int32_t{3})
      .receive([&](std::vector<delivery_job>& got) { page = std::move(got); },
               [&](caf::error& err) { FAIL("load: " << caf::to_string(err)); });
  REQUIRE(page.size() == 3);
  CHECK(page[0].row.id == jobs[0].row.id);
  CHECK_FALSE(page[0].body.empty());

  stopping->store(true);
  int refused = 0;
  for (int i = 0; i < 3; ++i) {
    self->request(loader, std::chrono::seconds(10), load_atom::value, w.id, false, int32_t{3})
        .receive([&](std::vector<delivery_job>&) { FAIL_CHECK("a read ran while stopping"); },
                 [&](caf::error& err) {
                   CHECK(err == caf::sec::request_receiver_down);
                   ++refused;
                 });
  }
  self->request(loader, std::chrono::seconds(10), pending_atom::value,
                std::vector<int>{partition_of(w.id)})
      .receive([&](std::vector<std::string>&) { FAIL_CHECK("a read ran while stopping"); },
               [&](caf::error&) { ++refused; });
  CHECK(refused == 4);
  caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
}
