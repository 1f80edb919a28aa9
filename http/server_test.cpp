#include "http/server.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "http/response.hpp"

namespace {

using webhookd::http::http_settings;
using webhookd::http::readiness;
using webhookd::http::server;

http_settings any_port_settings() {
  http_settings settings;
  settings.host = "127.0.0.1";
  settings.port = 0;
  settings.threads = 4;
  settings.max_payload_bytes = 1024;
  return settings;
}

httplib::Client client_for(const server& srv) {
  httplib::Client client("127.0.0.1", srv.port());
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(5));
  return client;
}

nlohmann::json body_of(const httplib::Result& res) { return nlohmann::json::parse(res->body); }

}  // namespace

TEST_CASE("server binds port 0 to a free port and answers /healthz", "[unit][http]") {
  server srv(any_port_settings(), [] { return readiness{true, {}, {}}; }, nullptr);
  auto started = srv.start();
  REQUIRE(started.ok);
  CHECK(started.port != 0);
  CHECK(srv.port() == started.port);

  auto client = client_for(srv);
  auto res = client.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  CHECK(body_of(res) == nlohmann::json{{"status", "ok"}});
  CHECK_FALSE(srv.failed());
}

TEST_CASE("/readyz follows the readiness callback", "[unit][http]") {
  std::atomic<bool> ready{false};
  server srv(
      any_port_settings(),
      [&] { return readiness{ready.load(), "store unreachable", {"store"}}; }, nullptr);
  REQUIRE(srv.start().ok);
  auto client = client_for(srv);

  auto res = client.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  auto body = body_of(res);
  CHECK(body["error"]["code"] == "not_ready");
  CHECK(body["error"]["message"] == "store unreachable");
  CHECK(body["not_answering"] == nlohmann::json::array({"store"}));

  ready = true;
  res = client.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(body_of(res) == nlohmann::json{{"status", "ready"}});
}

TEST_CASE("routes added before start are served, errors use the JSON shape", "[unit][http]") {
  server srv(any_port_settings(), [] { return readiness{true, {}, {}}; }, nullptr);
  srv.routes().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    webhookd::http::write_json(res, 201, {{"echo", req.body}});
  });
  srv.routes().Get("/boom", [](const httplib::Request&, httplib::Response&) {
    throw std::runtime_error("handler bug");
  });
  srv.routes().Get("/teapot", [](const httplib::Request&, httplib::Response& res) {
    webhookd::http::write_error(res, 418, "teapot", "short and stout");
  });
  REQUIRE(srv.start().ok);
  auto client = client_for(srv);

  SECTION("a registered route") {
    auto res = client.Post("/echo", "hi", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 201);
    CHECK(body_of(res)["echo"] == "hi");
  }
  SECTION("an unknown route is a JSON 404") {
    auto res = client.Get("/nope");
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK(body_of(res)["error"]["code"] == "not_found");
    CHECK(body_of(res)["error"]["message"] == "no route for GET /nope");
  }
  SECTION("a body over the limit is a JSON 413") {
    auto res = client.Post("/echo", std::string(2048, 'x'), "text/plain");
    REQUIRE(res);
    CHECK(res->status == 413);
    CHECK(body_of(res)["error"]["code"] == "payload_too_large");
  }
  SECTION("a throwing handler is a JSON 500 and the server keeps serving") {
    auto res = client.Get("/boom");
    REQUIRE(res);
    CHECK(res->status == 500);
    CHECK(body_of(res)["error"]["code"] == "internal");
    auto again = client.Get("/healthz");
    REQUIRE(again);
    CHECK(again->status == 200);
  }
  SECTION("a handler's own error body is kept") {
    auto res = client.Get("/teapot");
    REQUIRE(res);
    CHECK(res->status == 418);
    CHECK(body_of(res)["error"]["code"] == "teapot");
    CHECK(body_of(res)["error"]["message"] == "short and stout");
  }
}

TEST_CASE("a port in use is a start error, not a shared port", "[unit][http]") {
  server first(any_port_settings(), [] { return readiness{true, {}, {}}; }, nullptr);
  REQUIRE(first.start().ok);

  http_settings taken = any_port_settings();
  taken.port = first.port();
  server second(taken, [] { return readiness{true, {}, {}}; }, nullptr);
  auto started = second.start();
  CHECK_FALSE(started.ok);
  CHECK_THAT(started.error, Catch::Contains("cannot listen on 127.0.0.1:" +
                                            std::to_string(first.port())));
  CHECK_THAT(started.error, Catch::Contains("in use"));
  second.stop();  // harmless after a failed start
}

TEST_CASE("stop closes the listener and is idempotent", "[unit][http]") {
  server srv(any_port_settings(), [] { return readiness{true, {}, {}}; }, nullptr);
  REQUIRE(srv.start().ok);
  auto client = client_for(srv);
  REQUIRE(client.Get("/healthz"));

  srv.stop();
  srv.stop();
  CHECK_FALSE(srv.failed());
  httplib::Client after("127.0.0.1", srv.port());
  after.set_connection_timeout(std::chrono::seconds(2));
  CHECK_FALSE(after.Get("/healthz"));
}
