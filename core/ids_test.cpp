#include "core/ids.hpp"

#include <catch2/catch.hpp>
#include <set>

using namespace webhookd;

TEST_CASE("ids carry their prefix and sort by creation time", "[unit]") {
  manual_clock clock;
  id_generator ids{clock, 42};
  auto first = ids.next("wh");
  clock.advance_ms(1);
  auto second = ids.next("wh");
  CHECK(first.rfind("wh_", 0) == 0);
  CHECK(first.size() == 3 + 26);
  CHECK(first < second);
}

TEST_CASE("ids made in the same millisecond are distinct", "[unit]") {
  manual_clock clock;
  id_generator ids{clock, 7};
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(ids.next("msg"));
  CHECK(seen.size() == 10000);
}
