#include "core/time_format.hpp"

#include <catch2/catch.hpp>

using namespace webhookd;

TEST_CASE("unix milliseconds format as RFC 3339 UTC", "[unit]") {
  CHECK(format_rfc3339_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(1614265330123) == "2021-02-25T15:02:10.123Z");
  CHECK(format_rfc3339_ms(951782400000) == "2000-02-29T00:00:00.000Z");
  CHECK(format_rfc3339_ms(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("RFC 3339 timestamps parse to unix milliseconds", "[unit]") {
  CHECK(parse_rfc3339_ms("2021-02-25T15:02:10.123Z") == 1614265330123);
  CHECK(parse_rfc3339_ms("2021-02-25T15:02:10Z") == 1614265330000);
  CHECK(parse_rfc3339_ms("2021-02-25T16:02:10+01:00") == 1614265330000);
  CHECK(parse_rfc3339_ms("2021-02-25T15:02:10.5Z") == 1614265330500);
  for (int64_t ms : {int64_t{0}, int64_t{1614265330123}, int64_t{4102444799999}})
    CHECK(parse_rfc3339_ms(format_rfc3339_ms(ms)) == ms);
}

TEST_CASE("malformed RFC 3339 timestamps are refused", "[unit]") {
  for (const char* bad : {"", "2021-02-25", "2021-02-25T15:02:10", "2021-13-01T00:00:00Z",
                          "2021-02-30T00:00:00Z", "2021-02-25T24:00:00Z", "2021-02-25T15:02:10.Z",
                          "2021-02-25T15:02:10Zjunk", "yesterday"})
    CHECK_FALSE(parse_rfc3339_ms(bad).has_value());
}
