// Configuration of the real binary: a bad setting is one line on stderr and exit code 2, and a
// setting's sources rank flag > environment > config file.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "tests/e2e/harness.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// Runs webhookd and expects exactly one stderr line "webhookd: ..." containing `fragment`,
// exit code 2, and no server left behind. Returns the line.
std::string expect_usage_error(const process_options& options, const std::string& fragment) {
  auto result = run_webhookd(options);
  INFO(result.description);
  CHECK(result.status.exited);
  CHECK(result.status.code == 2);
  REQUIRE(result.err_lines.size() == 1);
  CHECK_THAT(result.err_lines[0], StartsWith("webhookd: ") && Contains(fragment));
  return result.err_lines[0];
}

const std::map<std::string, std::string> with_secret = {{"WEBHOOKD_JWT_SECRET", "s3cret"}};

}  // namespace

TEST_CASE("bad configuration: one line on stderr, exit code 2", "[e2e][config]") {
  temp_dir dir;

  SECTION("unknown key in the config file") {
    std::string file = dir.write_file("webhookd.toml",
                                      "listen = \"127.0.0.1:0\"\nlisten_port = 8080\n");
    expect_usage_error({{"serve", "--config", file}, with_secret},
                       "unknown key 'listen_port' in config file " + file + " line 2");
  }
  SECTION("malformed config file") {
    std::string file = dir.write_file("webhookd.toml", "listen = 127.0.0.1:0\n");
    expect_usage_error({{"serve", "--config", file}, with_secret},
                       "config file " + file + " line 1: unquoted value");
  }
  SECTION("missing config file") {
    expect_usage_error({{"serve", "--config", dir.file("absent.toml")}, with_secret},
                       "cannot read config file " + dir.file("absent.toml"));
  }
  SECTION("port out of range") {
    expect_usage_error({{"serve", "--listen", "127.0.0.1:70000"}, with_secret},
                       "invalid --listen '127.0.0.1:70000': port must be 0-65535");
  }
  SECTION("listen address without a port") {
    expect_usage_error({{"serve", "--listen", "localhost"}, with_secret},
                       "invalid --listen 'localhost': expected HOST:PORT");
  }
  SECTION("missing JWT secret; nothing is created before validation") {
    process_options options{{"serve"}, {}};
    options.working_dir = dir.path().string();
    expect_usage_error(options, "missing JWT secret");
    CHECK_FALSE(std::filesystem::exists(dir.file("webhookd.db")));
  }
  SECTION("malformed CIDR") {
    expect_usage_error({{"serve"},
                        {{"WEBHOOKD_JWT_SECRET", "s3cret"},
                         {"WEBHOOKD_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8,10.0.0.0/40"}}},
                       "invalid WEBHOOKD_ALLOW_PRIVATE_TARGETS '127.0.0.0/8,10.0.0.0/40': "
                       "'10.0.0.0/40' is not a CIDR block: prefix length must be at most 32");
  }
  SECTION("unknown flag") {
    expect_usage_error({{"serve", "--listne", "127.0.0.1:0"}, with_secret}, "--listne");
  }
  SECTION("unknown command") {
    expect_usage_error({{"srve"}, {}}, "unknown command 'srve'");
  }
  SECTION("unreachable PostgreSQL") {
    expect_usage_error({{"serve", "--store", "postgresql://postgres@127.0.0.1:1/x"}, with_secret},
                       "cannot open store 'postgresql://postgres@127.0.0.1:1/x'");
  }
  SECTION("a PostgreSQL password never reaches stderr") {
    std::string line = expect_usage_error(
        {{"serve", "--store", "postgresql://postgres:hunter2@127.0.0.1:1/x"}, with_secret},
        "cannot open store 'postgresql://postgres:***@127.0.0.1:1/x'");
    CHECK(line.find("hunter2") == std::string::npos);
  }
  SECTION("unwritable SQLite path (a directory that is a regular file)") {
    std::string file = dir.write_file("not-a-dir", "x");
    expect_usage_error({{"serve", "--store", "sqlite:" + file + "/x.db"}, with_secret},
                       "cannot open store 'sqlite:" + file + "/x.db'");
  }
  SECTION("unwritable SQLite path under /proc") {
    expect_usage_error({{"migrate", "--store", "sqlite:/proc/nope/x.db"}, {}},
                       "cannot open store 'sqlite:/proc/nope/x.db'");
  }
  SECTION("unknown store scheme") {
    expect_usage_error({{"serve", "--store", "mysql://db/x"}, with_secret},
                       "invalid --store 'mysql://db/x'");
  }
}

TEST_CASE("precedence: flag beats environment beats config file", "[e2e][config]") {
  temp_dir dir;
  std::string file = dir.write_file("webhookd.toml", "listen = \"127.0.0.1:70001\"\n");

  SECTION("seen through the error line") {
    expect_usage_error({{"serve", "--config", file}, with_secret},
                       "invalid listen '127.0.0.1:70001' in config file " + file + " line 1");
    expect_usage_error(
        {{"serve", "--config", file},
         {{"WEBHOOKD_JWT_SECRET", "s"}, {"WEBHOOKD_LISTEN", "127.0.0.1:70002"}}},
        "invalid WEBHOOKD_LISTEN '127.0.0.1:70002'");
    expect_usage_error(
        {{"serve", "--config", file, "--listen", "127.0.0.1:70003"},
         {{"WEBHOOKD_JWT_SECRET", "s"}, {"WEBHOOKD_LISTEN", "127.0.0.1:70002"}}},
        "invalid --listen '127.0.0.1:70003'");
  }
  SECTION("seen through the port it listens on") {
    uint16_t from_file = free_loopback_port();
    uint16_t from_env = free_loopback_port();
    uint16_t from_flag = free_loopback_port();
    std::string good_file = dir.write_file(
        "ports.toml", "listen = \"127.0.0.1:" + std::to_string(from_file) + "\"\n");
    auto listen_env = [&](uint16_t port) {
      return std::map<std::string, std::string>{
          {"WEBHOOKD_LISTEN", "127.0.0.1:" + std::to_string(port)}};
    };

    serve_defaults file_decides;
    file_decides.any_free_port = false;
    {
      webhookd_server server({{"--config", good_file}}, file_decides);
      CHECK(server.port() == from_file);
      server.stop();
    }
    {
      webhookd_server server({{"--config", good_file}, listen_env(from_env)});
      CHECK(server.port() == from_env);
      server.stop();
    }
    {
      webhookd_server server(
          {{"--config", good_file, "--listen", "127.0.0.1:" + std::to_string(from_flag)},
           listen_env(from_env)});
      CHECK(server.port() == from_flag);
      auto health = server.client().Get("/healthz");
      REQUIRE(health);
      CHECK(health->status == 200);
      server.stop();
    }
  }
  SECTION("the config file can come from WEBHOOKD_CONFIG") {
    expect_usage_error({{"serve"}, {{"WEBHOOKD_JWT_SECRET", "s"}, {"WEBHOOKD_CONFIG", file}}},
                       "invalid listen '127.0.0.1:70001' in config file " + file);
  }
}
