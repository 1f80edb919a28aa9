// The webhookd binary's lifecycle: serve on SQLite and PostgreSQL, health routes, clean
// shutdown on signals, version and migrate.

#include <catch2/catch.hpp>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/harness.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

nlohmann::json json_body(const httplib::Result& res) { return nlohmann::json::parse(res->body); }

// The health routes answer as the operations contract says.
void check_health_routes(webhookd_server& server) {
  INFO(server.proc().describe());
  auto client = server.client();

  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->get_header_value("Content-Type") == "application/json");
  CHECK(json_body(health) == nlohmann::json{{"status", "ok"}});

  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(json_body(ready) == nlohmann::json{{"status", "ready"}});

  auto missing = client.Get("/no/such/route");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json_body(missing)["error"]["code"] == "not_found");
}

// Stops the server with `signal` and checks the exit is clean and the process is gone.
void check_clean_stop(webhookd_server& server, int signal) {
  pid_t pid = server.proc().pid();
  exit_status status = server.stop(signal);
  INFO(server.proc().describe());
  CHECK(status.exited);
  CHECK(status.code == 0);
  CHECK(::kill(pid, 0) == -1);
  CHECK(errno == ESRCH);
  CHECK(server.proc().stderr_text().empty());
  CHECK_THAT(server.proc().stdout_text(), Contains("shutting down"));
}

}  // namespace

TEST_CASE("serve on SQLite answers /healthz and /readyz and exits 0 on SIGTERM",
          "[e2e][sqlite]") {
  temp_dir dir;
  std::string db = dir.file("hooks.db");
  webhookd_server server({{"--store", "sqlite:" + db}});
  CHECK(server.host() == "127.0.0.1");
  CHECK(server.port() != 0);
  check_health_routes(server);
  CHECK(std::filesystem::exists(db));
  check_clean_stop(server, SIGTERM);
}

TEST_CASE("serve exits 0 on SIGINT too", "[e2e][sqlite]") {
  webhookd_server server({});
  check_clean_stop(server, SIGINT);
}

TEST_CASE("serve's default store is ./webhookd.db in the working directory", "[e2e][sqlite]") {
  temp_dir dir;
  process_options options;
  options.working_dir = dir.path().string();
  webhookd_server server(options);
  CHECK(std::filesystem::exists(dir.file("webhookd.db")));
  check_health_routes(server);
  check_clean_stop(server, SIGTERM);
}

TEST_CASE("--log-format json writes one JSON object per stdout line", "[e2e][sqlite]") {
  webhookd_server server({{"--log-format", "json"}});
  check_clean_stop(server, SIGTERM);
  auto lines = server.proc().stdout_lines();
  REQUIRE_FALSE(lines.empty());
  bool saw_listening = false;
  for (const auto& line : lines) {
    INFO(line);
    auto record = nlohmann::json::parse(line);  // throws (fails the test) if not JSON
    CHECK(record.contains("ts"));
    CHECK(record.contains("level"));
    std::string msg = record.at("msg");
    if (msg == "listening on " + server.base_url()) saw_listening = true;
  }
  CHECK(saw_listening);
}

TEST_CASE("a taken port is one line on stderr and exit code 2", "[e2e][sqlite]") {
  webhookd_server first({});
  std::string taken = "127.0.0.1:" + std::to_string(first.port());
  auto result = run_webhookd({{"serve", "--listen", taken}, {{"WEBHOOKD_JWT_SECRET", "x"}}});
  INFO(result.description);
  CHECK(result.status.exited);
  CHECK(result.status.code == 2);
  REQUIRE(result.err_lines.size() == 1);
  CHECK_THAT(result.err_lines[0], StartsWith("webhookd: cannot listen on " + taken));
  // The first server still owns its port.
  auto health = first.client().Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("version prints the version", "[e2e]") {
  auto result = run_webhookd({{"version"}});
  INFO(result.description);
  CHECK(result.status.exited);
  CHECK(result.status.code == 0);
  CHECK(result.out == std::string("webhookd ") + WEBHOOKD_VERSION + "\n");
  CHECK(result.err.empty());
}

TEST_CASE("migrate on SQLite creates the schema and prints its version", "[e2e][sqlite]") {
  temp_dir dir;
  std::string store = "sqlite:" + dir.file("migrated.db");
  auto first = run_webhookd({{"migrate", "--store", store}});
  INFO(first.description);
  CHECK(first.status.code == 0);
  CHECK_THAT(first.out, StartsWith("schema version "));
  int version = std::stoi(first.out.substr(std::string("schema version ").size()));
  CHECK(version >= 1);
  CHECK(std::filesystem::exists(dir.file("migrated.db")));

  auto again = run_webhookd({{"migrate"}, {{"WEBHOOKD_STORE", store}}});
  INFO(again.description);
  CHECK(again.status.code == 0);
  CHECK(again.out == first.out);
}

TEST_CASE("serve on PostgreSQL answers /healthz and /readyz and exits 0 on SIGTERM",
          "[e2e][pg]") {
  pg_database db;
  webhookd_server server({{}, {{"WEBHOOKD_STORE", db.url()}}});
  CHECK_THAT(server.proc().stdout_text(), Contains("store postgresql ready"));
  check_health_routes(server);
  check_clean_stop(server, SIGTERM);
}

TEST_CASE("migrate on PostgreSQL prints the schema version, twice the same", "[e2e][pg]") {
  pg_database db;
  auto first = run_webhookd({{"migrate", "--store", db.url()}});
  INFO(first.description);
  CHECK(first.status.code == 0);
  CHECK_THAT(first.out, StartsWith("schema version "));
  auto again = run_webhookd({{"migrate", "--store", db.url()}});
  INFO(again.description);
  CHECK(again.status.code == 0);
  CHECK(again.out == first.out);
}

TEST_CASE("/readyz turns 503 when the PostgreSQL store goes away; SIGTERM still exits 0",
          "[e2e][pg]") {
  pg_database db;
  webhookd_server server({{"--store", db.url()}});
  auto client = server.client();
  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);

  db.drop();
  // The pool notices on its next round trip; allow a few for connections it already holds.
  httplib::Result last = client.Get("/readyz");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (last && last->status == 200 && std::chrono::steady_clock::now() < deadline) {
    last = client.Get("/readyz");
  }
  INFO(server.proc().describe());
  REQUIRE(last);
  CHECK(last->status == 503);
  auto body = json_body(last);
  CHECK(body["error"]["code"] == "not_ready");
  CHECK_THAT(body["error"]["message"].get<std::string>(), StartsWith("store unreachable"));

  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);  // the process is still up
  exit_status status = server.stop(SIGTERM);
  CHECK(status.exited);
  CHECK(status.code == 0);
}
