// A webhook's rate_limit is never exceeded at the receiver: with rate_limit 5 and 50 events
// queued at once, no window of arrival times at the sink holds more than the token bucket can
// grant in a second (its burst plus its rate). The window is 1 s less a jitter allowance: two
// requests granted 1 s apart may arrive closer together when the first one is delayed on its
// way, so windows of 1 s - jitter hold what was granted within at most 1 s as long as no
// request is delayed by more than the allowance.

#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

TEST_CASE("a webhook's rate limit is never exceeded at the receiver", "[e2e][engine][sqlite]") {
  engine_world world;
  constexpr int rate = 5;
  constexpr int events = 50;
  // The bucket's burst for a rate of 5/s (core/token_bucket.hpp: max(1, rate / 10)).
  constexpr int burst = std::max(1, rate / 10);
  const std::string path = "/limited";
  world.add_webhook(path, {"invoice.paid"}, {{"rate_limit", rate}});

  json batch = json::array();
  for (int i = 0; i < events; ++i) {
    batch.push_back(
        make_event(world.client_id(), "evt_rate_" + std::to_string(i), "invoice.paid", {{"n", i}}));
  }
  auto answer = world.poster().post_batch(batch);
  INFO(answer.describe());
  REQUIRE(answer.status == 202);

  // 50 deliveries at 5/s take about 10 s.
  REQUIRE(world.sink().wait_for(path, events, milliseconds{60'000}));
  json got = world.sink().deliveries(path);
  REQUIRE(got.size() == static_cast<std::size_t>(events));
  std::vector<int64_t> arrivals;
  for (const auto& d : got) {
    CHECK(d.at("verified") == "verified");
    arrivals.push_back(d.at("received_steady_ms").get<int64_t>());
  }
  std::sort(arrivals.begin(), arrivals.end());

  // Most arrivals in any window [t, t + window) that starts at an arrival.
  constexpr int64_t jitter_ms = 150;
  constexpr int64_t window_ms = 1000 - jitter_ms;
  int busiest = 0;
  std::size_t busiest_start = 0;
  for (std::size_t i = 0, j = 0; i < arrivals.size(); ++i) {
    while (j < arrivals.size() && arrivals[j] < arrivals[i] + window_ms) ++j;
    if (static_cast<int>(j - i) > busiest) {
      busiest = static_cast<int>(j - i);
      busiest_start = i;
    }
  }
  INFO("busiest " << window_ms << " ms window starts at arrival " << busiest_start << " with " << busiest
                                               << " deliveries; spread "
                                               << arrivals.back() - arrivals.front() << " ms");
  CHECK(busiest <= burst + rate);
  // The whole run can't be faster than the bucket allows either.
  CHECK(arrivals.back() - arrivals.front() >= (events - burst) * 1000 / rate - 1000);
}
