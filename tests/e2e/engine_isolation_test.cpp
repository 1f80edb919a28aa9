// One receiver that hangs every request does not delay deliveries to a healthy one: every
// delivery to the healthy webhook arrives while the hanging endpoint's requests are all still
// held, i.e. before the hanging endpoint's first attempt could even have timed out.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

TEST_CASE("a receiver that hangs every request does not delay a healthy one",
          "[e2e][engine][sqlite]") {
  engine_world world;
  constexpr int events = 50;
  // webhookd's default attempt timeout (design section 4).
  constexpr int64_t attempt_timeout_ms = 10'000;
  const std::string stuck = "/stuck";
  const std::string healthy = "/healthy";
  world.add_webhook(stuck, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}},
                    {{"hang", true}, {"hang_ms", 120'000}});
  world.add_webhook(healthy, {"invoice.paid"});

  auto poster = world.poster();
  // The first event reaches the stuck endpoint before the rest are posted, so its queue and
  // in-flight slots are taken by hanging requests from the start.
  poster.accept_event(make_event(world.client_id(), "evt_iso_0", "invoice.paid"));
  REQUIRE(world.sink().wait_for(stuck, 1, milliseconds{30'000}));
  const int64_t first_hang_ms = steady_now_ms();

  json batch = json::array();
  for (int i = 1; i < events; ++i) {
    batch.push_back(make_event(world.client_id(), "evt_iso_" + std::to_string(i), "invoice.paid"));
  }
  auto answer = poster.post_batch(batch);
  INFO(answer.describe());
  REQUIRE(answer.status == 202);

  // Wait at most until the stuck endpoint's first attempt could time out.
  const int64_t left = attempt_timeout_ms - (steady_now_ms() - first_hang_ms) - 500;
  REQUIRE(left > 0);
  CHECK(world.sink().wait_for(healthy, events, milliseconds{left}));
  const int64_t done_ms = steady_now_ms();

  // At that moment nothing at the stuck path has been answered: every request there still hangs.
  json stuck_stats = world.sink().stats(stuck);
  INFO("stuck path: " << stuck_stats.dump());
  CHECK(stuck_stats.at("count").get<int>() >= 1);
  CHECK(stuck_stats.at("statuses").empty());
  CHECK(done_ms - first_hang_ms < attempt_timeout_ms);

  json healthy_stats = world.sink().stats(healthy);
  CHECK(healthy_stats.at("count") == events);
  CHECK(healthy_stats.at("verified") == events);
  CHECK(healthy_stats.at("distinct_event_ids") == events);

  world.sink().release();
}
