#include "app/config_file.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

using namespace webhookd::app;

config_file_entries parse_ok(const std::string& text) {
  auto result = parse_config_text(text, "test.toml");
  if (auto* err = std::get_if<config_file_error>(&result)) FAIL(err->message);
  return std::get<config_file_entries>(result);
}

std::string parse_error(const std::string& text) {
  auto result = parse_config_text(text, "test.toml");
  REQUIRE(std::holds_alternative<config_file_error>(result));
  return std::get<config_file_error>(result).message;
}

}  // namespace

TEST_CASE("config text: scalars, strings and comments", "[unit][config]") {
  auto entries = parse_ok(
      "# leading comment\n"
      "\n"
      "a = \"x # not a comment\"  # a comment\n"
      "b='lit\\eral'\n"
      "c = true\n"
      "d = -42\n"
      "e_f-g = \"tab\\tquote\\\" slash\\\\ \\u00e9\"\r\n");
  REQUIRE(entries.size() == 5);
  CHECK(entries["a"].items == std::vector<std::string>{"x # not a comment"});
  CHECK_FALSE(entries["a"].is_array);
  CHECK(entries["a"].line == 3);
  CHECK(entries["b"].items == std::vector<std::string>{"lit\\eral"});
  CHECK(entries["c"].items == std::vector<std::string>{"true"});
  CHECK(entries["d"].items == std::vector<std::string>{"-42"});
  CHECK(entries["e_f-g"].items == std::vector<std::string>{"tab\tquote\" slash\\ \xc3\xa9"});
}

TEST_CASE("config text: arrays, on one line or several", "[unit][config]") {
  auto entries = parse_ok(
      "one = [\"a\", 'b', 3]\n"
      "empty = []\n"
      "multi = [\n"
      "  \"x\",  # first\n"
      "  \"y\",\n"
      "]\n"
      "after = 1\n");
  CHECK(entries["one"].is_array);
  CHECK(entries["one"].items == std::vector<std::string>{"a", "b", "3"});
  CHECK(entries["empty"].is_array);
  CHECK(entries["empty"].items.empty());
  CHECK(entries["multi"].items == std::vector<std::string>{"x", "y"});
  CHECK(entries["after"].line == 7);
}

TEST_CASE("config text: everything outside the subset is an error with its line",
          "[unit][config]") {
  CHECK(parse_error("a = 1\n[section]\n") ==
        "config file test.toml line 2: tables ([section]) are not supported: settings are "
        "top-level keys");
  CHECK_THAT(parse_error("a.b = 1\n"), Catch::Contains("line 1: dotted key"));
  CHECK_THAT(parse_error("a = 1\na = 2\n"), Catch::Contains("line 2: duplicate key 'a'"));
  CHECK_THAT(parse_error("store = sqlite:/x\n"), Catch::Contains("unquoted value"));
  CHECK_THAT(parse_error("a = \"open\n"), Catch::Contains("unterminated string"));
  CHECK_THAT(parse_error("a = [\"x\"\n"), Catch::Contains("unterminated array"));
  CHECK_THAT(parse_error("a = \"x\" \"y\"\n"), Catch::Contains("unexpected text"));
  CHECK_THAT(parse_error("just words\n"), Catch::Contains("expected '=' after key 'just'"));
  CHECK_THAT(parse_error("a =\n"), Catch::Contains("expected a value"));
  CHECK_THAT(parse_error("a = \"\\q\"\n"), Catch::Contains("unknown escape"));
  CHECK_THAT(parse_error("= 1\n"), Catch::Contains("expected a key"));
}
