#include "core/event_types.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace webhookd;

TEST_CASE("valid event type names", "[unit]") {
  for (const char* name : {"invoice.paid", "invoice", "user_created", "a-b.c_d.0", "x",
                           "invoice.line.added", "v2.order.shipped"}) {
    INFO(name);
    CHECK(is_valid_event_type_name(name));
    CHECK_FALSE(event_type_name_error(name).has_value());
  }
  CHECK(is_valid_event_type_name(std::string(128, 'a')));
  CHECK(is_valid_event_type_name(std::string(63, 'a') + "." + std::string(64, 'b')));
}

TEST_CASE("invalid event type names say why", "[unit]") {
  struct expectation {
    std::string name;
    const char* reason;
  };
  const expectation cases[] = {
      {"", "is empty"},
      {std::string(129, 'a'), "longer than 128 bytes"},
      {"Invoice.paid", "invalid character at byte 0"},
      {"invoice.Paid", "invalid character at byte 8"},
      {"invoice paid", "invalid character at byte 7"},
      {"invoice/paid", "invalid character at byte 7"},
      {"invoice.*", "invalid character at byte 8"},
      {"*", "invalid character at byte 0"},
      {"caf\xc3\xa9", "invalid character at byte 3"},
      {".invoice", "empty segment at byte 0"},
      {"invoice.", "empty segment at byte 8"},
      {"invoice..paid", "empty segment at byte 8"},
      {".", "empty segment at byte 0"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto error = event_type_name_error(c.name);
    REQUIRE(error.has_value());
    CHECK_THAT(*error, Catch::Contains(c.reason));
    CHECK_FALSE(is_valid_event_type_name(c.name));
  }
}

TEST_CASE("valid subscription patterns and their kinds", "[unit]") {
  CHECK(is_valid_event_pattern("*"));
  CHECK(event_pattern_kind_of("*") == event_pattern_kind::all);
  CHECK(event_pattern_stem("*").empty());

  CHECK(is_valid_event_pattern("invoice.*"));
  CHECK(event_pattern_kind_of("invoice.*") == event_pattern_kind::prefix);
  CHECK(event_pattern_stem("invoice.*") == "invoice.");
  CHECK(is_valid_event_pattern("invoice.line.*"));
  CHECK(event_pattern_stem("invoice.line.*") == "invoice.line.");

  CHECK(is_valid_event_pattern("invoice.paid"));
  CHECK(event_pattern_kind_of("invoice.paid") == event_pattern_kind::exact);
  CHECK(event_pattern_stem("invoice.paid") == "invoice.paid");

  CHECK(is_valid_event_pattern(std::string(126, 'a') + ".*"));
  CHECK_FALSE(is_valid_event_pattern(std::string(127, 'a') + ".*"));
}

TEST_CASE("invalid subscription patterns say why", "[unit]") {
  struct expectation {
    std::string pattern;
    const char* reason;
  };
  const expectation cases[] = {
      {"", "is empty"},
      {std::string(129, 'a'), "longer than 128 bytes"},
      {"invoice*", "* only as its whole last segment"},
      {"*.paid", "* only as its whole last segment"},
      {"invoice.*.added", "* only as its whole last segment"},
      {"invoice.**", "* only as its whole last segment"},
      {"**", "* only as its whole last segment"},
      {"invoice.p*", "* only as its whole last segment"},
      {".*", "empty segment at byte 0"},
      {"invoice..*", "empty segment at byte 8"},
      {"Invoice.*", "invalid character at byte 0"},
      {"invoice.Paid", "invalid character at byte 8"},
  };
  for (const auto& c : cases) {
    INFO(c.pattern);
    auto error = event_pattern_error(c.pattern);
    REQUIRE(error.has_value());
    CHECK_THAT(*error, Catch::Contains(c.reason));
    CHECK_FALSE(is_valid_event_pattern(c.pattern));
  }
}

TEST_CASE("patterns match event types", "[unit]") {
  // "*" matches everything.
  CHECK(pattern_matches("*", "invoice.paid"));
  CHECK(pattern_matches("*", "x"));

  // An exact pattern matches only the same name.
  CHECK(pattern_matches("invoice.paid", "invoice.paid"));
  CHECK_FALSE(pattern_matches("invoice.paid", "invoice.paid.late"));
  CHECK_FALSE(pattern_matches("invoice.paid", "invoice"));
  CHECK_FALSE(pattern_matches("invoice", "invoice.paid"));

  // A prefix pattern matches every type strictly below its prefix, at any depth.
  CHECK(pattern_matches("invoice.*", "invoice.paid"));
  CHECK(pattern_matches("invoice.*", "invoice.line.added"));
  CHECK_FALSE(pattern_matches("invoice.*", "invoice"));
  CHECK_FALSE(pattern_matches("invoice.*", "invoices.paid"));
  CHECK_FALSE(pattern_matches("invoice.*", "invoicepaid"));
  CHECK_FALSE(pattern_matches("invoice.*", "customer.invoice.paid"));
  CHECK(pattern_matches("invoice.line.*", "invoice.line.added"));
  CHECK_FALSE(pattern_matches("invoice.line.*", "invoice.paid"));
  CHECK_FALSE(pattern_matches("invoice.line.*", "invoice.line"));
}
