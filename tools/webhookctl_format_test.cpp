#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "webhookctl_format.hpp"

using nlohmann::json;
using namespace webhookctl;

namespace {

std::string printed(const text_table& table) {
  std::ostringstream out;
  table.print(out);
  return out.str();
}

std::string printed(const record& fields) {
  std::ostringstream out;
  print_record(out, fields);
  return out.str();
}

std::vector<std::string> labels(const record& fields) {
  std::vector<std::string> out;
  for (const auto& [label, value] : fields) out.push_back(label);
  return out;
}

std::string value_of(const record& fields, const std::string& label) {
  for (const auto& [name, value] : fields) {
    if (name == label) return value;
  }
  FAIL("no field " << label);
  return {};
}

}  // namespace

TEST_CASE("terminal_safe escapes control characters and keeps the rest", "[unit][webhookctl]") {
  CHECK(terminal_safe("plain text, ünïcode") == "plain text, ünïcode");
  CHECK(terminal_safe("a\nb\tc\rd") == "a\\nb\\tc\\rd");
  CHECK(terminal_safe("\x1b[2Jgone") == "\\x1b[2Jgone");
  CHECK(terminal_safe(std::string("nul\0del\x7f", 8)) == "nul\\x00del\\x7f");
}

TEST_CASE("cell_text renders JSON values for a table cell", "[unit][webhookctl]") {
  CHECK(cell_text(json("text")) == "text");
  CHECK(cell_text(json(nullptr)) == "-");
  CHECK(cell_text(json(42)) == "42");
  CHECK(cell_text(json(true)) == "true");
  CHECK(cell_text(json::array({"invoice.paid", "order.*"})) == "invoice.paid,order.*");
  CHECK(cell_text(json::array({1, "a", false})) == "1,a,false");
  CHECK(cell_text(json::array()) == "-");
  CHECK(cell_text(json::object()) == "-");
  CHECK(cell_text(json{{"data.amount", {{"$gte", 100}}}}) == R"({"data.amount":{"$gte":100}})");
  CHECK(cell_text(json::array({json::array({1})})) == "[[1]]");
}

TEST_CASE("text_table aligns columns by code points and leaves the last column unpadded",
          "[unit][webhookctl]") {
  text_table table({"id", "name", "note"});
  table.add_row({"wh_1", "ünï", "x"});
  table.add_row({"wh_12345", "b", ""});
  table.add_row({"wh_2"});  // missing cells are blank
  CHECK(table.rows() == 3);
  CHECK(printed(table) ==
        "ID        NAME  NOTE\n"
        "wh_1      ünï   x\n"
        "wh_12345  b\n"
        "wh_2\n");
}

TEST_CASE("text_table escapes hostile cells so each row stays one line", "[unit][webhookctl]") {
  text_table table({"id", "description"});
  table.add_row({"wh_1", "line one\nline two\x1b[31m"});
  CHECK(printed(table) ==
        "ID    DESCRIPTION\n"
        "wh_1  line one\\nline two\\x1b[31m\n");
}

TEST_CASE("print_record aligns the values", "[unit][webhookctl]") {
  CHECK(printed(record{{"webhook_id", "wh_1"}, {"status", "active"}}) ==
        "webhook_id:  wh_1\n"
        "status:      active\n");
}

TEST_CASE("object_record puts known fields in order, then the others", "[unit][webhookctl]") {
  const json object = {{"zeta", 1}, {"name", "a"}, {"alpha", nullptr}, {"created_at", "t"}};
  const record fields = object_record(object, {"name", "created_at", "missing"});
  CHECK(labels(fields) == std::vector<std::string>{"name", "created_at", "alpha", "zeta"});
  CHECK(value_of(fields, "alpha") == "-");
  CHECK(object_record(json::array(), {"name"}).empty());
}

TEST_CASE("webhook_record shows the secret and summarises key and verification",
          "[unit][webhookctl]") {
  const json created = {
      {"webhook_id", "wh_1"},
      {"callback_url", "https://hooks.example.com/x"},
      {"event_types", {"invoice.paid", "order.*"}},
      {"status", "active"},
      {"public_key", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"},
      {"headers", {{"x-team", "billing"}}},
      {"signing_secret", "whsec_abc"},
      {"verification",
       {{"dns", {{"ok", true}, {"addresses", {"93.184.216.34"}}}},
        {"reachability", {{"ok", true}, {"status_code", 200}, {"error", nullptr}}}}},
      {"future_field", 7}};
  const record fields = webhook_record(created);
  CHECK(labels(fields) ==
        std::vector<std::string>{"webhook_id", "status", "callback_url", "event_types", "headers",
                                 "public_key", "signing_secret", "verification", "future_field"});
  CHECK(value_of(fields, "event_types") == "invoice.paid,order.*");
  CHECK(value_of(fields, "public_key") == "PEM, 57 bytes");
  CHECK(value_of(fields, "headers") == R"({"x-team":"billing"})");
  CHECK(value_of(fields, "signing_secret") == "whsec_abc");
  CHECK(value_of(fields, "verification") == "dns ok (93.184.216.34); reachable (HTTP 200)");
  CHECK(value_of(fields, "future_field") == "7");
}

TEST_CASE("verification_text reports failures", "[unit][webhookctl]") {
  CHECK(verification_text(
            {{"dns", {{"ok", true}, {"addresses", {"192.0.2.1", "192.0.2.2"}}}},
             {"reachability",
              {{"ok", false}, {"status_code", nullptr}, {"error", "connection refused"}}}}) ==
        "dns ok (192.0.2.1,192.0.2.2); not reachable: connection refused");
  CHECK(verification_text(
            {{"dns", {{"ok", true}, {"addresses", json::array()}}},
             {"reachability", {{"ok", false}, {"status_code", 500}, {"error", nullptr}}}}) ==
        "dns ok; not reachable: HTTP 500");
  // Odd shapes never throw.
  CHECK(verification_text({{"dns", "yes"}, {"reachability", {{"ok", "true"}}}}) ==
        "dns failed; not reachable");
  CHECK(verification_text(json("text")) == "text");
}

TEST_CASE("tables of webhooks, event types and sources", "[unit][webhookctl]") {
  const std::vector<json> webhooks = {{{"webhook_id", "wh_1"},
                                       {"status", "active"},
                                       {"priority", "high"},
                                       {"event_types", {"a.b", "c.*"}},
                                       {"callback_url", "https://x.example/h"},
                                       {"description", "first"}},
                                      {{"webhook_id", "wh_22"},
                                       {"status", "paused"},
                                       {"priority", "bulk"},
                                       {"event_types", {"*"}},
                                       {"callback_url", "https://y.example/"},
                                       {"description", ""}}};
  CHECK(printed(webhook_table(webhooks)) ==
        "ID     STATUS  PRIORITY  EVENTS   URL                  DESCRIPTION\n"
        "wh_1   active  high      a.b,c.*  https://x.example/h  first\n"
        "wh_22  paused  bulk      *        https://y.example/\n");

  CHECK(printed(event_type_table({{{"name", "invoice.paid"},
                                   {"description", "Paid."},
                                   {"created_at", "2026-01-01T00:00:00.000Z"}}})) ==
        "NAME          DESCRIPTION  CREATED\n"
        "invoice.paid  Paid.        2026-01-01T00:00:00.000Z\n");

  CHECK(printed(source_table({{{"source_id", "src_1"},
                               {"name", "billing"},
                               {"api_key", "k1"},
                               {"allowed_event_types", {"invoice.paid"}},
                               {"ip_allowlist", json::array()},
                               {"created_at", "2026-01-01T00:00:00.000Z"}}})) ==
        "ID     NAME     API KEY  EVENTS        IP ALLOWLIST  CREATED\n"
        "src_1  billing  k1       invoice.paid  -             2026-01-01T00:00:00.000Z\n");
}

TEST_CASE("error_line reads the API's error body", "[unit][webhookctl]") {
  CHECK(error_line(
            422, R"({"error":{"code":"validation_failed","message":"event_types[0]: unknown"}})") ==
        "error: validation_failed: event_types[0]: unknown");
  CHECK(error_line(401, R"({"error":{"code":"unauthorized","message":"token expired"}})") ==
        "error: unauthorized: token expired");
  CHECK(error_line(404, R"({"error":{"code":"not_found"}})") == "error: not_found: ");
  // Hostile messages can't break the line.
  CHECK(error_line(400, R"({"error":{"code":"invalid_json","message":"a\nb\u001b"}})") ==
        "error: invalid_json: a\\nb\\x1b");
}

TEST_CASE("error_line falls back to the status and the start of the body", "[unit][webhookctl]") {
  CHECK(error_line(502, "<html>Bad Gateway</html>\n") ==
        "error: http_502: <html>Bad Gateway</html>");
  CHECK(error_line(500, "") == "error: http_500: no error body");
  CHECK(error_line(500, R"({"error":{"code":5,"message":"x"}})") ==
        R"(error: http_500: {"error":{"code":5,"message":"x"}})");
  CHECK(error_line(503, std::string(500, 'x')) == "error: http_503: " + std::string(200, 'x'));
}
