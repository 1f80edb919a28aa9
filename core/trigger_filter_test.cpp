#include "core/trigger_filter.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

using namespace webhookd;
using json = nlohmann::json;

namespace {

/// The body a webhook receives (design.md section 4).
json sample_body() {
  return json::parse(R"({
    "id": "evt_01",
    "type": "invoice.paid",
    "timestamp": 1700000000,
    "client_id": "acme",
    "data": {
      "amount": 150,
      "price": 19.5,
      "currency": "USD",
      "vip": false,
      "note": null,
      "tags": ["new", "priority"],
      "scores": [3, 9, 12],
      "customer": {"country": "DE", "tier": "gold"},
      "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}],
      "by_key": {"0": "zero"},
      "matrix": [[1, 2], [3, 4]]
    }
  })");
}

trigger_filter compile(const json& document) {
  auto parsed = parse_trigger_filter(document);
  INFO(document.dump());
  INFO((parsed ? std::string{} : parsed.err().to_string()));
  REQUIRE(parsed.ok());
  return *parsed;
}

bool filter_matches(const json& document, const json& body = sample_body()) {
  return matches(compile(document), body);
}

filter_error error_of(const json& document, const filter_limits& limits = {}) {
  auto parsed = parse_trigger_filter(document, limits);
  INFO(document.dump());
  REQUIRE_FALSE(parsed.ok());
  return parsed.err();
}

}  // namespace

TEST_CASE("the empty filter matches every body", "[unit]") {
  trigger_filter none;
  CHECK(none.empty());
  CHECK(none.source() == json::object());
  CHECK(matches(none, sample_body()));
  CHECK(matches(none, json(nullptr)));

  auto empty = compile(json::object());
  CHECK(empty.empty());
  CHECK(matches(empty, sample_body()));
}

TEST_CASE("a plain value is an implicit $eq on its path", "[unit]") {
  CHECK(filter_matches({{"type", "invoice.paid"}}));
  CHECK_FALSE(filter_matches({{"type", "invoice.created"}}));
  CHECK(filter_matches({{"client_id", "acme"}}));
  CHECK(filter_matches({{"data.customer.country", "DE"}}));
  CHECK_FALSE(filter_matches({{"data.customer.country", "FR"}}));
  CHECK(filter_matches({{"data.vip", false}}));
  CHECK_FALSE(filter_matches({{"data.vip", true}}));
  CHECK_FALSE(compile({{"type", "x"}}).empty());
}

TEST_CASE("top-level clauses are ANDed", "[unit]") {
  CHECK(filter_matches({{"type", "invoice.paid"}, {"data.currency", "USD"}}));
  CHECK_FALSE(filter_matches({{"type", "invoice.paid"}, {"data.currency", "EUR"}}));
}

TEST_CASE("$eq compares numbers by value and values deeply", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$eq": 150}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$eq": 150.0}})")));
  CHECK(filter_matches(json::parse(R"({"data.price": {"$eq": 19.5}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$eq": 151}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$eq": "150"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.vip": {"$eq": 0}})")));

  // Objects: same keys and equal values, in any order.
  CHECK(filter_matches(json::parse(R"({"data.customer": {"tier": "gold", "country": "DE"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.customer": {"country": "DE"}})")));
  CHECK_FALSE(filter_matches(
      json::parse(R"({"data.customer": {"country": "DE", "tier": "gold", "x": 1}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.customer": {"country": "DE", "tier": "g"}})")));
  // Arrays: same length, equal elements, same order.
  CHECK(filter_matches(json::parse(R"({"data.scores": [3, 9.0, 12]})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.scores": [9, 3, 12]})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.scores": [3, 9]})")));
  CHECK(filter_matches(json::parse(R"({"data.items": {"$eq": [{"qty": 2, "sku": "A-1"},
                                                              {"sku": "B-7", "qty": 1.0}]}})")));
  // An object with $-keys can be compared literally through $eq.
  json body = {{"data", {{"meta", {{"$ref", 1}}}}}};
  CHECK(filter_matches(json::parse(R"({"data.meta": {"$eq": {"$ref": 1}}})"), body));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.meta": {"$eq": {"$ref": 2}}})"), body));
}

TEST_CASE("$ne matches a different value or a missing path", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.currency": {"$ne": "EUR"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$ne": "USD"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$ne": 150.0}})")));
  CHECK(filter_matches(json::parse(R"({"data.missing": {"$ne": "USD"}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$ne": "150"}})")));
}

TEST_CASE("$gt $gte $lt $lte compare numbers numerically", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$gt": 149}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$gt": 150}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$gte": 150}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$gte": 149.99}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$gte": 150.01}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$lt": 150.5}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$lt": 150}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$lte": 150}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$lte": 149}})")));
  CHECK(filter_matches(json::parse(R"({"data.price": {"$gt": 19, "$lt": 20}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.price": {"$gt": 19, "$lt": 19.5}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$gt": -1e300}})")));
}

TEST_CASE("number comparisons are exact across integer and floating representations", "[unit]") {
  // 2^53 + 1 is not representable as a double; casting it to double would make it equal.
  json body = {{"data", {{"big", int64_t{9007199254740993}}}}};
  CHECK(filter_matches({{"data.big", {{"$gt", 9007199254740992.0}}}}, body));
  CHECK_FALSE(filter_matches({{"data.big", 9007199254740992.0}}, body));
  CHECK(filter_matches({{"data.big", int64_t{9007199254740993}}}, body));

  json huge = {{"data", {{"n", std::numeric_limits<uint64_t>::max()}}}};
  CHECK(filter_matches({{"data.n", {{"$gt", -1}}}}, huge));
  CHECK(filter_matches({{"data.n", {{"$gt", std::numeric_limits<int64_t>::max()}}}}, huge));
  CHECK(filter_matches({{"data.n", {{"$lt", 1e20}}}}, huge));
  CHECK_FALSE(filter_matches({{"data.n", {{"$lt", 0.5}}}}, huge));

  json negative = {{"data", {{"n", -5}}}};
  CHECK(filter_matches({{"data.n", {{"$lt", uint64_t{1}}}}}, negative));
  CHECK(filter_matches({{"data.n", {{"$lt", -4.5}}}}, negative));
  CHECK_FALSE(filter_matches({{"data.n", {{"$lt", -5.5}}}}, negative));
  CHECK(filter_matches({{"data.n", -5.0}}, negative));

  json zero = {{"data", {{"n", -0.0}}}};
  CHECK(filter_matches({{"data.n", 0}}, zero));
}

TEST_CASE("strings compare lexicographically by bytes", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.currency": {"$gt": "EUR"}})")));
  CHECK(filter_matches(json::parse(R"({"data.currency": {"$lt": "USDA"}})")));
  CHECK(filter_matches(json::parse(R"({"data.currency": {"$gte": "USD", "$lte": "USD"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$lt": "USC"}})")));
  // Uppercase sorts before lowercase; "é" (0xC3 0xA9) after every ASCII letter.
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$gt": "usd"}})")));
  json body = {{"data", {{"name", "\xc3\xa9t\xc3\xa9"}}}};
  CHECK(filter_matches({{"data.name", {{"$gt", "zzz"}}}}, body));
}

TEST_CASE("comparisons between different types never match", "[unit]") {
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$gt": "100"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$lt": "100"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$gt": 1}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$lt": 1}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.vip": {"$lt": 1}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.note": {"$gte": 0}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.customer": {"$gte": ""}})")));
  json body = {{"data", {{"amount", "150"}}}};
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$gte": 100}})"), body));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$gte": "100"}})"), body));
}

TEST_CASE("$in and $nin test membership with deep equality", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.currency": {"$in": ["USD", "EUR"]}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$in": ["GBP", "EUR"]}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$in": [1, 150.0]}})")));
  CHECK(filter_matches(
      json::parse(R"({"data.customer": {"$in": [{"country": "DE", "tier": "gold"}]}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$in": []}})")));

  CHECK(filter_matches(json::parse(R"({"data.currency": {"$nin": ["GBP", "EUR"]}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.currency": {"$nin": ["USD", "EUR"]}})")));
  CHECK(filter_matches(json::parse(R"({"data.currency": {"$nin": []}})")));
}

TEST_CASE("missing paths", "[unit]") {
  const char* missing[] = {"data.missing", "nope", "data.customer.city", "data.amount.value",
                           "data.tags.x"};
  for (const char* path : missing) {
    INFO(path);
    CHECK_FALSE(filter_matches({{path, "x"}}));
    CHECK_FALSE(filter_matches({{path, {{"$eq", 0}}}}));
    CHECK_FALSE(filter_matches({{path, {{"$gt", 0}}}}));
    CHECK_FALSE(filter_matches({{path, {{"$gte", ""}}}}));
    CHECK_FALSE(filter_matches({{path, {{"$lt", 0}}}}));
    CHECK_FALSE(filter_matches({{path, {{"$lte", ""}}}}));
    CHECK_FALSE(filter_matches({{path, {{"$in", {1, "x"}}}}}));
    CHECK_FALSE(filter_matches({{path, {{"$exists", true}}}}));
    CHECK(filter_matches({{path, {{"$exists", false}}}}));
    CHECK(filter_matches({{path, {{"$ne", 1}}}}));
    CHECK(filter_matches({{path, {{"$nin", {1, "x"}}}}}));
    CHECK(filter_matches({{path, {{"$not", {{"$gt", 0}}}}}}));
  }
}

TEST_CASE("$exists tests presence; a null value is present", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$exists": true}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$exists": false}})")));
  CHECK(filter_matches(json::parse(R"({"data.note": {"$exists": true}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.note": {"$exists": false}})")));
  CHECK(filter_matches(json::parse(R"({"data.items.1": {"$exists": true}})")));
  CHECK(filter_matches(json::parse(R"({"data.items.2": {"$exists": false}})")));
}

TEST_CASE("null equals null or a missing path", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.note": null})")));
  CHECK(filter_matches(json::parse(R"({"data.missing": null})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.vip": null})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": null})")));

  CHECK(filter_matches(json::parse(R"({"data.amount": {"$ne": null}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.note": {"$ne": null}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.missing": {"$ne": null}})")));

  CHECK(filter_matches(json::parse(R"({"data.missing": {"$in": [null, 1]}})")));
  CHECK(filter_matches(json::parse(R"({"data.note": {"$in": [null]}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.missing": {"$nin": [null]}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.note": {"$nin": [null]}})")));
  CHECK(filter_matches(json::parse(R"({"data.vip": {"$nin": [null]}})")));
}

TEST_CASE("a value that is an array matches when it or any element matches", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.tags": "priority"})")));
  CHECK(filter_matches(json::parse(R"({"data.tags": ["new", "priority"]})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.tags": "old"})")));
  CHECK(filter_matches(json::parse(R"({"data.tags": {"$in": ["old", "new"]}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.tags": {"$in": ["old"]}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.tags": {"$ne": "new"}})")));
  CHECK(filter_matches(json::parse(R"({"data.tags": {"$ne": "old"}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.tags": {"$nin": ["x", "new"]}})")));
  CHECK(filter_matches(json::parse(R"({"data.scores": {"$gt": 10}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.scores": {"$gt": 12}})")));
  CHECK(filter_matches(json::parse(R"({"data.scores": {"$lte": 3}})")));
  // Each operator may be satisfied by a different element (12 > 10, 3 < 5).
  CHECK(filter_matches(json::parse(R"({"data.scores": {"$gt": 10, "$lt": 5}})")));
  // One level only: elements of nested arrays are not searched.
  CHECK(filter_matches(json::parse(R"({"data.matrix": [3, 4]})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.matrix": 3})")));
  // null inside an array.
  json body = {{"data", {{"list", {1, nullptr}}}}};
  CHECK(filter_matches({{"data.list", nullptr}}, body));
}

TEST_CASE("numeric path segments index arrays", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.items.0.sku": "A-1"})")));
  CHECK(filter_matches(json::parse(R"({"data.items.1.sku": "B-7"})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.items.0.sku": "B-7"})")));
  CHECK(filter_matches(json::parse(R"({"data.items.1.qty": {"$lt": 2}})")));
  CHECK(filter_matches(json::parse(R"({"data.tags.1": "priority"})")));
  CHECK(filter_matches(json::parse(R"({"data.matrix.1.0": 3})")));
  // Out of range, non-canonical and non-numeric segments lead nowhere in an array.
  CHECK(filter_matches(json::parse(R"({"data.items.2": {"$exists": false}})")));
  CHECK(filter_matches(json::parse(R"({"data.items.01.sku": {"$exists": false}})")));
  CHECK(filter_matches(json::parse(R"({"data.items.99999999999999999999": {"$exists": false}})")));
  CHECK(filter_matches(json::parse(R"({"data.items.sku": {"$exists": false}})")));
  // On an object a numeric segment is an ordinary key.
  CHECK(filter_matches(json::parse(R"({"data.by_key.0": "zero"})")));
  // Nothing is under a scalar.
  CHECK(filter_matches(json::parse(R"({"data.amount.0": {"$exists": false}})")));
}

TEST_CASE("a body that is not an object has no paths", "[unit]") {
  CHECK_FALSE(filter_matches({{"type", "x"}}, json("x")));
  CHECK(filter_matches({{"type", {{"$exists", false}}}}, json::array({1, 2})));
  CHECK(filter_matches({{"0", {{"$exists", false}}}}, json(nullptr)));
}

TEST_CASE("$and, $or and $not combine clause objects", "[unit]") {
  auto example = json::parse(R"({
    "data.amount": {"$gte": 100},
    "data.currency": {"$in": ["USD", "EUR"]},
    "$or": [{"type": "invoice.paid"}, {"data.vip": true}]
  })");
  CHECK(filter_matches(example));
  json body = sample_body();
  body["type"] = "invoice.created";
  CHECK_FALSE(filter_matches(example, body));
  body["data"]["vip"] = true;
  CHECK(filter_matches(example, body));
  body["data"]["amount"] = 99.5;
  CHECK_FALSE(filter_matches(example, body));

  CHECK(filter_matches(
      json::parse(R"({"$and": [{"type": "invoice.paid"}, {"client_id": "acme"}]})")));
  CHECK_FALSE(
      filter_matches(json::parse(R"({"$and": [{"type": "invoice.paid"}, {"client_id": "x"}]})")));
  CHECK(filter_matches(json::parse(R"({"$or": [{"type": "x"}, {"client_id": "acme"}]})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"$or": [{"type": "x"}, {"client_id": "y"}]})")));
  // An element of $or is itself ANDed.
  CHECK_FALSE(
      filter_matches(json::parse(R"({"$or": [{"type": "invoice.paid", "client_id": "y"}]})")));
  // An empty clause object holds.
  CHECK(filter_matches(json::parse(R"({"$or": [{}, {"type": "x"}]})")));

  // Clause-level $not negates the whole clause object: NOT (A AND B).
  CHECK(filter_matches(json::parse(R"({"$not": {"type": "invoice.paid", "client_id": "x"}})")));
  CHECK_FALSE(
      filter_matches(json::parse(R"({"$not": {"type": "invoice.paid", "client_id": "acme"}})")));
  CHECK(filter_matches(json::parse(R"({"$not": {"data.missing": {"$exists": true}}})")));

  // Nested three levels deep.
  auto nested = json::parse(R"({
    "$or": [
      {"$and": [{"data.customer.country": {"$in": ["FR", "IT"]}}, {"data.amount": {"$gt": 10}}]},
      {"$not": {"$or": [{"data.customer.tier": "bronze"}, {"data.scores": {"$gt": 100}}]}}
    ]
  })");
  CHECK(filter_matches(nested));
  body = sample_body();
  body["data"]["customer"]["tier"] = "bronze";
  CHECK_FALSE(filter_matches(nested, body));
  body["data"]["customer"]["country"] = "IT";
  CHECK(filter_matches(nested, body));
}

TEST_CASE("field-level $not negates an operator object", "[unit]") {
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$not": {"$gt": 200}}})")));
  CHECK_FALSE(filter_matches(json::parse(R"({"data.amount": {"$not": {"$gt": 100}}})")));
  // NOT (> 100 AND < 200): 150 is in the range.
  CHECK_FALSE(
      filter_matches(json::parse(R"({"data.amount": {"$not": {"$gt": 100, "$lt": 200}}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$not": {"$gt": 100, "$lt": 120}}})")));
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$not": {"$not": {"$eq": 150}}}})")));
  CHECK(filter_matches(json::parse(R"({"data.currency": {"$not": {"$in": ["EUR"]}}})")));
  // Combined with other operators on the same field.
  CHECK(filter_matches(json::parse(R"({"data.amount": {"$exists": true, "$not": {"$eq": 1}}})")));
}

TEST_CASE("copies share one compiled filter and keep its source", "[unit]") {
  json document = json::parse(R"({"data.amount": {"$gte": 100}})");
  auto filter = compile(document);
  trigger_filter copy = filter;
  CHECK(copy.source() == document);
  CHECK(&copy.source() == &filter.source());
  CHECK(matches(copy, sample_body()));
  json small = sample_body();
  small["data"]["amount"] = 5;
  CHECK_FALSE(matches(copy, small));
}

TEST_CASE("validation errors name the offending value by JSON pointer", "[unit]") {
  struct expectation {
    const char* filter;
    const char* pointer;
    const char* message;  // a substring of the message
  };
  const expectation cases[] = {
      {R"({"$foo": 1})", "/$foo", "unknown operator $foo"},
      {R"({"data.amount": {"$regex": "x"}})", "/data.amount/$regex", "unknown operator $regex"},
      {R"({"data.amount": {"$gte": true}})", "/data.amount/$gte", "expected a number or string"},
      {R"({"data.amount": {"$gt": null}})", "/data.amount/$gt", "expected a number or string"},
      {R"({"data.amount": {"$lt": [1]}})", "/data.amount/$lt", "expected a number or string"},
      {R"({"data.amount": {"$lte": {}}})", "/data.amount/$lte", "expected a number or string"},
      {R"({"data.currency": {"$in": "USD"}})", "/data.currency/$in", "expected an array"},
      {R"({"data.currency": {"$nin": {"a": 1}}})", "/data.currency/$nin", "expected an array"},
      {R"({"data.x": {"$exists": 1}})", "/data.x/$exists", "expected true or false"},
      {R"({"data.x": {"$exists": "true"}})", "/data.x/$exists", "expected true or false"},
      {R"({"$and": []})", "/$and", "expected a non-empty array of objects"},
      {R"({"$and": {"type": "x"}})", "/$and", "expected a non-empty array of objects"},
      {R"({"$or": [{"type": "x"}, 5]})", "/$or/1", "expected an object"},
      {R"({"$or": [{"type": "x"}, [{"type": "y"}]]})", "/$or/1", "expected an object"},
      {R"({"$or": null})", "/$or", "expected a non-empty array of objects"},
      {R"({"$not": []})", "/$not", "expected a non-empty object of clauses"},
      {R"({"$not": {}})", "/$not", "expected a non-empty object of clauses"},
      {R"({"$not": {"$gt": 5}})", "/$not/$gt", "must be used inside a field condition"},
      {R"({"$gt": 5})", "/$gt", "must be used inside a field condition"},
      {R"({"data.amount": {"$not": 5}})", "/data.amount/$not", "expected an object of operators"},
      {R"({"data.amount": {"$not": {}}})", "/data.amount/$not", "expected an object of operators"},
      {R"({"data.amount": {"$not": {"gt": 5}}})", "/data.amount/$not",
       "expected an object of operators"},
      {R"({"data.amount": {"$not": {"$gt": "5", "$in": 1}}})", "/data.amount/$not/$in",
       "expected an array"},
      {R"({"data.amount": {"$and": [{"x": 1}]}})", "/data.amount/$and", "takes clauses"},
      {R"({"data.amount": {"$gt": 1, "lt": 2}})", "/data.amount/lt", "expected an operator"},
      {R"({"": 1})", "/", "empty path"},
      {R"({"data..amount": 1})", "/data..amount", "empty segment in path"},
      {R"({".data": 1})", "/.data", "empty segment in path"},
      {R"({"data.": 1})", "/data.", "empty segment in path"},
      {R"({"a/b~c": {"$gt": false}})", "/a~1b~0c/$gt", "expected a number or string"},
      {R"({"$or": [{"type": "x"}, {"$and": [{"data.amount": {"$gt": true}}]}]})",
       "/$or/1/$and/0/data.amount/$gt", "expected a number or string"},
      {R"({"$not": {"$or": [{"$nor": []}]}})", "/$not/$or/0/$nor", "unknown operator $nor"},
  };
  for (const auto& c : cases) {
    json document = json::parse(c.filter);
    auto err = error_of(document);
    INFO(c.filter << " -> " << err.to_string());
    CHECK(err.pointer == c.pointer);
    CHECK_THAT(err.message, Catch::Contains(c.message));
    CHECK_FALSE(err.offset.has_value());
    CHECK(err.to_string() == std::string{c.pointer} + ": " + err.message);
    // The pointer is a real RFC 6901 pointer into the document.
    CHECK(document.contains(json::json_pointer{c.pointer}));
  }
}

TEST_CASE("a filter must be a JSON object", "[unit]") {
  for (const char* text : {"5", "\"type\"", "[]", "[{\"type\": \"x\"}]", "null", "true"}) {
    auto err = error_of(json::parse(text));
    INFO(text);
    CHECK(err.pointer.empty());
    CHECK(err.message == "a filter must be a JSON object");
    CHECK(err.to_string() == err.message);
  }
}

TEST_CASE("the error message of the brief's example reads as documented", "[unit]") {
  auto err = error_of(json::parse(R"({"data.amount": {"$gte": "a", "$lt": true}})"));
  CHECK(err.to_string() == "/data.amount/$lt: expected a number or string");
}

namespace {

/// {"$not": {"$not": ... {"type": "x"} ...}} with `levels` $not objects around the clause.
json nested_nots(int levels) {
  json document = {{"type", "x"}};
  for (int i = 0; i < levels; ++i) document = json{{"$not", document}};
  return document;
}

}  // namespace

TEST_CASE("nesting deeper than the limit is rejected where it happens", "[unit]") {
  // nested_nots(31): 32 objects deep, the default limit.
  auto ok = compile(nested_nots(31));
  CHECK_FALSE(matches(ok, json{{"type", "x"}}));  // an odd number of negations
  CHECK(matches(ok, json{{"type", "y"}}));

  auto err = error_of(nested_nots(32));
  std::string pointer;
  for (int i = 0; i < 32; ++i) pointer += "/$not";
  CHECK(err.pointer == pointer);
  CHECK_THAT(err.message, Catch::Contains("nested too deeply"));

  filter_limits shallow;
  shallow.max_depth = 2;
  CHECK(parse_trigger_filter(json::parse(R"({"data.amount": {"$gt": 1}})"), shallow).ok());
  auto deep = error_of(json::parse(R"({"$or": [{"type": "x"}]})"), shallow);
  CHECK(deep.pointer == "/$or/0");
  // Literal operands count too.
  auto literal = error_of(json::parse(R"({"data.x": {"$eq": [[1]]}})"), shallow);
  CHECK(literal.pointer == "/data.x/$eq");
}

TEST_CASE("filters larger than the size limits are rejected", "[unit]") {
  json many = json::array();
  for (int i = 0; i < 2000; ++i) many.push_back(i);
  auto err = error_of(json{{"data.x", {{"$in", many}}}});
  CHECK_THAT(err.message, Catch::Contains("more than 1024 values"));
  // Values counted: the document, the operator object, the array, then its elements.
  CHECK(err.pointer == "/data.x/$in/1021");

  auto fits = json{{"data.x", {{"$in", json::array({1, 2, 3})}}}};
  filter_limits tight;
  tight.max_values = 6;
  CHECK(parse_trigger_filter(fits, tight).ok());
  tight.max_values = 5;
  CHECK(error_of(fits, tight).pointer == "/data.x/$in/2");

  auto text = error_of(json{{"data.note", std::string(20000, 'a')}});
  CHECK(text.pointer == "/data.note");
  CHECK_THAT(text.message, Catch::Contains("bytes of keys and strings"));

  filter_limits keys;
  keys.max_text_bytes = 10;
  CHECK(parse_trigger_filter(json{{"data.a", "xy"}}, keys).ok());           // 6 + 2 bytes
  CHECK(error_of(json{{"data.abc", "xyz"}}, keys).pointer == "/data.abc");  // 8 + 3 bytes
}

TEST_CASE("filters parse from text with syntax errors located by byte offset", "[unit]") {
  auto ok = parse_trigger_filter_text(R"({"data.amount": {"$gte": 100}})");
  REQUIRE(ok.ok());
  CHECK(matches(*ok, sample_body()));

  auto bad = parse_trigger_filter_text(R"({"type": })");
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.err().offset.has_value());
  CHECK(*bad.err().offset == 9);
  CHECK(bad.err().pointer.empty());
  CHECK_THAT(bad.err().message, Catch::StartsWith("invalid JSON: "));
  CHECK_THAT(bad.err().to_string(), Catch::StartsWith("byte 9: invalid JSON: "));

  auto truncated = parse_trigger_filter_text(R"({"type": "x")");
  REQUIRE_FALSE(truncated.ok());
  CHECK(*truncated.err().offset == 12);

  auto trailing = parse_trigger_filter_text(R"({"type": "x"} x)");
  REQUIRE_FALSE(trailing.ok());
  CHECK(*trailing.err().offset == 14);

  auto empty = parse_trigger_filter_text("");
  REQUIRE_FALSE(empty.ok());
  CHECK(*empty.err().offset == 0);

  auto semantic = parse_trigger_filter_text(R"({"$or": [1]})");
  REQUIRE_FALSE(semantic.ok());
  CHECK_FALSE(semantic.err().offset.has_value());
  CHECK(semantic.err().to_string() == "/$or/0: expected an object");
}
