#include "app/config.hpp"
#include "actors/store_writer.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace webhookd::app;

// A throwaway config file, removed at scope exit.
class temp_config_file {
 public:
  explicit temp_config_file(const std::string& text) {
    char name[] = "/tmp/webhookd-config-test-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~temp_config_file() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct fake_env {
  std::map<std::string, std::string> vars;
  env_lookup lookup() const {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

std::variant<config, early_exit> parse(std::vector<std::string> args, const fake_env& env = {}) {
  return parse_config(config_inputs{std::move(args), env.lookup(), "test-host"});
}

config parse_ok(std::vector<std::string> args, const fake_env& env = {}) {
  auto result = parse(std::move(args), env);
  if (auto* exit = std::get_if<early_exit>(&result)) FAIL("unexpected exit: " << exit->text);
  return std::get<config>(result);
}

// The usage error line; fails the test when parsing succeeded.
std::string parse_error(std::vector<std::string> args, const fake_env& env = {}) {
  auto result = parse(std::move(args), env);
  REQUIRE(std::holds_alternative<early_exit>(result));
  const auto& exit = std::get<early_exit>(result);
  CHECK(exit.code == exit_usage);
  CHECK(exit.text.find('\n') == std::string::npos);
  return exit.text;
}

const std::vector<std::string> serve = {"serve", "--jwt-secret", "s3cret"};

std::vector<std::string> serve_with(std::vector<std::string> extra) {
  std::vector<std::string> args = serve;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("serve defaults follow the design's settings table", "[unit][config]") {
  config cfg = parse_ok(serve);
  CHECK(cfg.cmd == command::serve);
  CHECK(cfg.http.host == "127.0.0.1");
  CHECK(cfg.http.port == 8080);
  CHECK(cfg.http.threads == 64);
  CHECK(cfg.engine.attempt_backlog == webhookd::store_writer_settings{}.max_outstanding);
  CHECK(cfg.store.url == "sqlite:./webhookd.db");
  CHECK(cfg.auth.jwt_secret == "s3cret");
  CHECK(cfg.targets.allow_private_targets.empty());
  CHECK_FALSE(cfg.targets.allow_http);
  CHECK(cfg.cluster.node_id == "test-host");
  CHECK_FALSE(cfg.cluster.enabled);
  CHECK(cfg.log.format == log_format::text);
  CHECK(cfg.log.level == spdlog::level::info);
  CHECK(cfg.config_file.empty());
}

TEST_CASE("every setting is read from its flag", "[unit][config]") {
  config cfg = parse_ok(
      serve_with({"--listen", "[::1]:0", "--store", "postgresql://u:pw@db:5432/hooks",
                  "--allow-private-targets", "10.0.0.0/8, ::1/128", "--allow-http", "--node-id",
                  "node-a", "--cluster-listen", "0.0.0.0:4100", "--log-format", "json",
                  "--log-level", "debug", "--http-threads", "8", "--attempt-backlog", "100000"}));
  CHECK(cfg.http.host == "::1");
  CHECK(cfg.http.port == 0);
  CHECK(cfg.store.url == "postgresql://u:pw@db:5432/hooks");
  CHECK(cfg.targets.allow_private_targets == std::vector<std::string>{"10.0.0.0/8", "::1/128"});
  CHECK(cfg.targets.allow_http);
  CHECK(cfg.cluster.node_id == "node-a");
  CHECK(cfg.cluster.enabled);
  CHECK(cfg.cluster.listen_host == "0.0.0.0");
  CHECK(cfg.cluster.listen_port == 4100);
  CHECK(cfg.log.format == log_format::json);
  CHECK(cfg.log.level == spdlog::level::debug);
  CHECK(cfg.http.threads == 8);
  CHECK(cfg.engine.attempt_backlog == 100000);
}

TEST_CASE("every setting is read from its environment variable", "[unit][config]") {
  fake_env env{{{"WEBHOOKD_LISTEN", "0.0.0.0:9000"},
                {"WEBHOOKD_STORE", "sqlite:/tmp/x.db"},
                {"WEBHOOKD_JWT_SECRET", "from-env"},
                {"WEBHOOKD_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8,::1/128"},
                {"WEBHOOKD_ALLOW_HTTP", "true"},
                {"WEBHOOKD_NODE_ID", "n1"},
                {"WEBHOOKD_LOG_FORMAT", "json"},
                {"WEBHOOKD_LOG_LEVEL", "warn"},
                {"WEBHOOKD_HTTP_THREADS", "3"},
                {"WEBHOOKD_ATTEMPT_BACKLOG", "64"}}};
  config cfg = parse_ok({"serve"}, env);
  CHECK(cfg.http.host == "0.0.0.0");
  CHECK(cfg.http.port == 9000);
  CHECK(cfg.store.url == "sqlite:/tmp/x.db");
  CHECK(cfg.auth.jwt_secret == "from-env");
  CHECK(cfg.targets.allow_private_targets.size() == 2);
  CHECK(cfg.targets.allow_http);
  CHECK(cfg.cluster.node_id == "n1");
  CHECK(cfg.log.format == log_format::json);
  CHECK(cfg.log.level == spdlog::level::warn);
  CHECK(cfg.http.threads == 3);
  CHECK(cfg.engine.attempt_backlog == 64);
}

TEST_CASE("config file keys are the flag names; arrays and underscores-free keys",
          "[unit][config]") {
  temp_config_file file(R"(# development config
listen = "127.0.0.1:7000"
store = 'sqlite:/var/lib/webhookd/data.db'
jwt-secret = "has#hash and \"quotes\""   # a comment after the value
allow-private-targets = [
  "10.0.0.0/8",   # office
  "fd00::/8",
]
allow-http = true
http-threads = 12
)");
  config cfg = parse_ok({"serve", "--config", file.path()});
  CHECK(cfg.config_file == file.path());
  CHECK(cfg.http.port == 7000);
  CHECK(cfg.store.url == "sqlite:/var/lib/webhookd/data.db");
  CHECK(cfg.auth.jwt_secret == "has#hash and \"quotes\"");
  CHECK(cfg.targets.allow_private_targets == std::vector<std::string>{"10.0.0.0/8", "fd00::/8"});
  CHECK(cfg.targets.allow_http);
  CHECK(cfg.http.threads == 12);
}

TEST_CASE("WEBHOOKD_CONFIG names the config file when --config is absent", "[unit][config]") {
  temp_config_file file("listen = \"127.0.0.1:7100\"\njwt-secret = \"x\"\n");
  fake_env env{{{"WEBHOOKD_CONFIG", file.path()}}};
  CHECK(parse_ok({"serve"}, env).http.port == 7100);
}

TEST_CASE("precedence: flag beats environment beats file beats default", "[unit][config]") {
  temp_config_file file("listen = \"127.0.0.1:1001\"\nlog-level = \"error\"\n");
  fake_env env{{{"WEBHOOKD_LISTEN", "127.0.0.1:1002"}}};
  auto args = serve_with({"--config", file.path()});

  CHECK(parse_ok(args).http.port == 1001);
  CHECK(parse_ok(args, env).http.port == 1002);
  args.insert(args.end(), {"--listen", "127.0.0.1:1003"});
  CHECK(parse_ok(args, env).http.port == 1003);
  // A setting set only in the file still comes from the file.
  CHECK(parse_ok(args, env).log.level == spdlog::level::err);
  // The last of a repeated flag wins.
  args.insert(args.end(), {"--listen", "127.0.0.1:1004"});
  CHECK(parse_ok(args, env).http.port == 1004);
}

TEST_CASE("errors name the setting, its source and the problem", "[unit][config]") {
  SECTION("bad port from a flag") {
    CHECK(parse_error(serve_with({"--listen", "127.0.0.1:70000"})) ==
          "invalid --listen '127.0.0.1:70000': port must be 0-65535");
  }
  SECTION("bad port from the environment") {
    fake_env env{{{"WEBHOOKD_LISTEN", "x:99999"}}};
    CHECK(parse_error(serve, env) == "invalid WEBHOOKD_LISTEN 'x:99999': port must be 0-65535");
  }
  SECTION("bad port from the file") {
    temp_config_file file("\n\nlisten = \"localhost:65536\"\n");
    CHECK(parse_error(serve_with({"--config", file.path()})) ==
          "invalid listen 'localhost:65536' in config file " + file.path() +
              " line 3: port must be 0-65535");
  }
  SECTION("listen addresses") {
    CHECK_THAT(parse_error(serve_with({"--listen", "8080"})),
               Catch::Contains("expected HOST:PORT"));
    CHECK_THAT(parse_error(serve_with({"--listen", ":8080"})), Catch::Contains("host is empty"));
    CHECK_THAT(parse_error(serve_with({"--listen", "::1:8080"})),
               Catch::Contains("needs brackets"));
    CHECK_THAT(parse_error(serve_with({"--listen", "[::zz]:1"})),
               Catch::Contains("not a valid IPv6 address"));
    CHECK_THAT(parse_error(serve_with({"--listen", "300.1.1.1:80"})),
               Catch::Contains("not a valid IPv4 address"));
    CHECK_THAT(parse_error(serve_with({"--listen", "bad_host:80"})),
               Catch::Contains("not a valid host name"));
    CHECK_THAT(parse_error(serve_with({"--listen", "127.0.0.1:http"})),
               Catch::Contains("port must be a number"));
  }
  SECTION("missing JWT secret") {
    CHECK_THAT(parse_error({"serve"}), Catch::StartsWith("missing JWT secret"));
  }
  SECTION("an empty JWT secret is not echoed") {
    fake_env env{{{"WEBHOOKD_JWT_SECRET", ""}}};
    CHECK(parse_error({"serve"}, env) == "invalid WEBHOOKD_JWT_SECRET: must not be empty");
  }
  SECTION("malformed CIDRs") {
    CHECK(parse_error(serve_with({"--allow-private-targets", "10.0.0.0/8,10.0.0.0/33"})) ==
          "invalid --allow-private-targets '10.0.0.0/8,10.0.0.0/33': '10.0.0.0/33' is not a CIDR "
          "block: prefix length must be at most 32");
    CHECK_THAT(parse_error(serve_with({"--allow-private-targets", "10.0.0/8"})),
               Catch::Contains("'10.0.0/8' is not a CIDR block: expected ADDRESS/PREFIX"));
    CHECK_THAT(parse_error(serve_with({"--allow-private-targets", "10.0.0.1/8"})),
               Catch::Contains("host bits are set; did you mean 10.0.0.0/8?"));
    CHECK_THAT(parse_error(serve_with({"--allow-private-targets", "::1/129"})),
               Catch::Contains("prefix length must be at most 128"));
  }
  SECTION("a bare address is a one-address block") {
    auto cfg = parse_ok(serve_with({"--allow-private-targets", "10.0.0.1, ::1"}));
    CHECK(cfg.targets.allow_private_targets == std::vector<std::string>{"10.0.0.1", "::1"});
  }
  SECTION("other values") {
    CHECK_THAT(parse_error(serve_with({"--store", "mysql://x"})),
               Catch::Contains("must be sqlite:PATH or postgresql://"));
    CHECK_THAT(parse_error(serve_with({"--store", "sqlite:"})),
               Catch::Contains("needs a file path"));
    CHECK_THAT(parse_error(serve_with({"--log-format", "xml"})),
               Catch::Contains("must be text or json"));
    CHECK_THAT(parse_error(serve_with({"--log-level", "loud"})), Catch::Contains("must be trace"));
    CHECK_THAT(parse_error(serve_with({"--http-threads", "0"})), Catch::Contains("1-1024"));
    for (const char* backlog : {"63", "1000001", "lots", "-5"}) {
      CHECK_THAT(parse_error(serve_with({"--attempt-backlog", backlog})),
                 Catch::Contains("must be a number from 64 to 1000000"));
    }
    CHECK_THAT(parse_error(serve_with({"--allow-http", "maybe"})),
               Catch::Contains("must be true or false"));
    CHECK_THAT(parse_error(serve_with({"--node-id", "a b"})), Catch::Contains("may contain only"));
    CHECK_THAT(parse_error(serve_with({"--cluster-listen", "127.0.0.1:4100"})),
               Catch::Contains("clustering needs a postgresql:// store"));
  }
  SECTION("a store URL's password is not echoed") {
    std::string line = parse_error(serve_with({"--store", "mysql://u:hunter2@h/db"}));
    CHECK(line.find("hunter2") == std::string::npos);
    CHECK_THAT(line, Catch::Contains("mysql://u:***@h/db"));
  }
}

TEST_CASE("unknown flags, commands and file keys are usage errors", "[unit][config]") {
  CHECK_THAT(parse_error(serve_with({"--bogus"})), Catch::Contains("--bogus"));
  CHECK_THAT(parse_error(serve_with({"--bogus"})), Catch::Contains("webhookd serve --help"));
  CHECK_THAT(parse_error({"frobnicate"}), Catch::StartsWith("unknown command 'frobnicate'"));
  CHECK_THAT(parse_error({}), Catch::StartsWith("missing command"));
  CHECK_THAT(parse_error({"migrate", "--listen", "127.0.0.1:1"}), Catch::Contains("--listen"));

  temp_config_file unknown("listen = \"127.0.0.1:0\"\nlisten-port = 80\n");
  CHECK(parse_error(serve_with({"--config", unknown.path()})) ==
        "unknown key 'listen-port' in config file " + unknown.path() + " line 2");

  temp_config_file section("[serve]\nlisten = \"127.0.0.1:0\"\n");
  CHECK_THAT(parse_error(serve_with({"--config", section.path()})),
             Catch::Contains("line 1: tables ([section]) are not supported"));

  CHECK_THAT(parse_error(serve_with({"--config", "/nonexistent/webhookd.toml"})),
             Catch::StartsWith("cannot read config file /nonexistent/webhookd.toml"));
}

TEST_CASE("migrate reads only the store and log settings", "[unit][config]") {
  // No JWT secret needed; serve-only settings in the environment or file are not checked.
  temp_config_file file("listen = \"not-checked\"\nstore = \"sqlite:/tmp/m.db\"\n");
  fake_env env{{{"WEBHOOKD_LISTEN", "garbage"}}};
  config cfg = parse_ok({"migrate", "--config", file.path()}, env);
  CHECK(cfg.cmd == command::migrate);
  CHECK(cfg.store.url == "sqlite:/tmp/m.db");
}

TEST_CASE("help and version end early with exit code 0", "[unit][config]") {
  auto version = parse({"--version"});
  REQUIRE(std::holds_alternative<early_exit>(version));
  CHECK(std::get<early_exit>(version).code == 0);
  CHECK_THAT(std::get<early_exit>(version).text, Catch::StartsWith("webhookd "));

  auto help = parse({"serve", "--help"});
  REQUIRE(std::holds_alternative<early_exit>(help));
  CHECK(std::get<early_exit>(help).code == 0);
  CHECK_THAT(std::get<early_exit>(help).text, Catch::Contains("WEBHOOKD_JWT_SECRET"));

  CHECK(parse_ok({"version"}).cmd == command::version);
}

TEST_CASE("store URLs are redacted for logs", "[unit][config]") {
  CHECK(redact_store_url("postgresql://user:secret@host:5432/db") ==
        "postgresql://user:***@host:5432/db");
  CHECK(redact_store_url("postgresql://user@host/db?password=secret&sslmode=require") ==
        "postgresql://user@host/db?password=***&sslmode=require");
  CHECK(redact_store_url("postgresql://host/db") == "postgresql://host/db");
  CHECK(redact_store_url("sqlite:./webhookd.db") == "sqlite:./webhookd.db");
}
