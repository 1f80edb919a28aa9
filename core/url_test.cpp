#include "core/url.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace webhookd;

namespace {

parsed_url parse_ok(const std::string& text) {
  auto parsed = parse_url(text);
  INFO("url: " << text);
  if (!parsed) INFO("error: " << parsed.err().message);
  REQUIRE(parsed.ok());
  return *parsed;
}

net_error parse_err(const std::string& text) {
  auto parsed = parse_url(text);
  INFO("url: " << text);
  REQUIRE_FALSE(parsed.ok());
  return parsed.err();
}

bool mentions(const net_error& err, const std::string& word) {
  return err.message.find(word) != std::string::npos;
}

}  // namespace

TEST_CASE("a plain https URL is split into its parts", "[unit]") {
  auto url = parse_ok("https://hooks.example.com/webhooks/in?team=7&x=%20y");
  CHECK(url.scheme == "https");
  CHECK(url.host == "hooks.example.com");
  CHECK(url.port == 443);
  CHECK(url.target == "/webhooks/in?team=7&x=%20y");
  CHECK_FALSE(url.host_address.has_value());
  CHECK(url.to_string() == "https://hooks.example.com/webhooks/in?team=7&x=%20y");
}

TEST_CASE("scheme and host are case-insensitive and normalised", "[unit]") {
  auto url = parse_ok("HTTPS://Hooks.EXAMPLE.com:8443/Path");
  CHECK(url.scheme == "https");
  CHECK(url.host == "hooks.example.com");
  CHECK(url.port == 8443);
  CHECK(url.target == "/Path");  // the path keeps its case
  CHECK(url.to_string() == "https://hooks.example.com:8443/Path");
}

TEST_CASE("ports default by scheme and are range-checked", "[unit]") {
  CHECK(parse_ok("http://example.com/").port == 80);
  CHECK(parse_ok("https://example.com").port == 443);
  CHECK(parse_ok("http://example.com:1/").port == 1);
  CHECK(parse_ok("http://example.com:65535/").port == 65535);
  CHECK(parse_ok("https://example.com:443/").to_string() == "https://example.com/");
  CHECK(parse_ok("http://example.com:443/").to_string() == "http://example.com:443/");
  for (const char* bad :
       {"http://example.com:0/", "http://example.com:65536/",
        "http://example.com:99999999999999999999/", "http://example.com:/",
        "http://example.com:8o/", "http://example.com:-1/", "http://example.com:80:81/"}) {
    CHECK(parse_err(bad).code == net_errc::invalid_url);
  }
}

TEST_CASE("the target is at least a slash and keeps the query", "[unit]") {
  CHECK(parse_ok("https://example.com").target == "/");
  CHECK(parse_ok("https://example.com?a=1").target == "/?a=1");
  CHECK(parse_ok("https://example.com/a/b/").target == "/a/b/");
  CHECK(parse_ok("https://example.com/a@b").target == "/a@b");  // '@' after the host is path
}

TEST_CASE("IP literal hosts are recognised in every spelling", "[unit]") {
  struct spelling {
    const char* url;
    const char* host;
  };
  for (auto s :
       {spelling{"http://2130706433/", "127.0.0.1"}, spelling{"http://0x7f000001/", "127.0.0.1"},
        spelling{"http://017700000001/", "127.0.0.1"}, spelling{"http://127.1/", "127.0.0.1"},
        spelling{"http://0x7f.1/", "127.0.0.1"}, spelling{"http://0177.0.0.1/", "127.0.0.1"},
        spelling{"http://0/", "0.0.0.0"}, spelling{"http://0X7F.0.0.1./", "127.0.0.1"},
        spelling{"http://169.254.169.254/latest/meta-data", "169.254.169.254"}}) {
    INFO(s.url);
    auto url = parse_ok(s.url);
    CHECK(url.host == s.host);
    REQUIRE(url.host_address.has_value());
    CHECK(url.host_address->to_string() == s.host);
  }
}

TEST_CASE("bracketed IPv6 hosts are parsed; zone ids are refused", "[unit]") {
  auto loopback = parse_ok("http://[::1]:8080/hook");
  CHECK(loopback.host == "::1");
  CHECK(loopback.port == 8080);
  REQUIRE(loopback.host_address.has_value());
  CHECK(loopback.host_address->is_v6());
  CHECK(loopback.to_string() == "http://[::1]:8080/hook");
  CHECK(loopback.host_for_url() == "[::1]");

  auto mapped = parse_ok("http://[::FFFF:127.0.0.1]/");
  CHECK(mapped.host == "::ffff:127.0.0.1");

  CHECK(parse_ok("https://[2606:4700:0::1111]").host == "2606:4700::1111");

  CHECK(mentions(parse_err("http://[fe80::1%25eth0]/"), "zone"));
  CHECK(parse_err("http://[fe80::1%eth0]/").code == net_errc::invalid_url);
  CHECK(parse_err("http://[::1/").code == net_errc::invalid_url);
  CHECK(parse_err("http://[]/").code == net_errc::invalid_url);
  CHECK(parse_err("http://[127.0.0.1]/").code == net_errc::invalid_url);
  CHECK(parse_err("http://[::1]x/").code == net_errc::invalid_url);
  CHECK(parse_err("http://[v1.fe]/").code == net_errc::invalid_url);
  CHECK(mentions(parse_err("http://::1/"), "brackets"));
}

TEST_CASE("hosts that look like IPv4 but are not valid are refused", "[unit]") {
  for (const char* bad :
       {"http://256.0.0.1/", "http://1.2.3.256/", "http://4294967296/", "http://0x100000000/",
        "http://1.2.3.4.5/", "http://example.123/", "http://08/", "http://1..2/"}) {
    auto err = parse_err(bad);
    CHECK(err.code == net_errc::invalid_url);
    CHECK(mentions(err, "IPv4"));
  }
}

TEST_CASE("credentials in the URL are refused", "[unit]") {
  for (const char* bad :
       {"https://user:pw@example.com/", "https://user@example.com/", "https://@example.com/",
        "https://example.com@127.0.0.1/", "http://a@b@example.com/"}) {
    auto err = parse_err(bad);
    CHECK(err.code == net_errc::invalid_url);
    CHECK(mentions(err, "credentials"));
  }
}

TEST_CASE("only absolute http and https URLs are accepted", "[unit]") {
  for (const char* other : {"ftp://example.com/", "file:///etc/passwd", "gopher://x/",
                            "javascript:alert(1)", "ws://example.com/"}) {
    INFO(other);
    CHECK(parse_err(other).code == net_errc::scheme_not_allowed);
  }
  for (const char* bad : {"", "example.com/hook", "/hook", "//example.com/", "https:/example.com/",
                          "https:example.com", "1http://example.com/", "://example.com"}) {
    INFO(bad);
    CHECK(parse_err(bad).code == net_errc::invalid_url);
  }
}

TEST_CASE("empty hosts, bad characters and fragments are refused", "[unit]") {
  for (const char* bad :
       {"https:///hook", "https://:443/", "https://?x", "https://exa mple.com/",
        "https://example.com/a b", "https://example.com/\t", "https://example.com/\x7f",
        "https://example.com/\xc3\xa9", "https://ex\nample.com/", "https://example.com/#frag",
        "https://example.com\\@127.0.0.1/", "https://exa%6dple.com/", "https://example.com/%zz",
        "https://example.com/%4", "https://exa!mple.com/", "https://example..com/",
        "https://.example.com/", "https://example.com../"}) {
    INFO(bad);
    CHECK(parse_err(bad).code == net_errc::invalid_url);
  }
  CHECK(mentions(parse_err("https://example.com/#frag"), "fragment"));
  CHECK(mentions(parse_err("https:///hook"), "no host"));
}

TEST_CASE("host names follow the label rules", "[unit]") {
  CHECK(parse_ok("https://a-b_c.example.com/").host == "a-b_c.example.com");
  CHECK(parse_ok("https://example.com./").host == "example.com.");
  CHECK(parse_ok("https://localhost/").host == "localhost");
  CHECK(parse_ok("https://1.2.3.com/").host == "1.2.3.com");
  CHECK(parse_ok("https://" + std::string(63, 'a') + ".com/").host.size() == 67);
  CHECK(mentions(parse_err("https://" + std::string(64, 'a') + ".com/"), "63"));
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcd.";
  long_name += "com";  // 253 characters
  CHECK(parse_ok("https://" + long_name + "/").host == long_name);
  CHECK(parse_err("https://a" + long_name + "/").code == net_errc::invalid_url);
}

TEST_CASE("URLs longer than 2048 bytes are refused", "[unit]") {
  std::string base = "https://example.com/";
  std::string at_limit = base + std::string(max_url_length - base.size(), 'a');
  CHECK(parse_ok(at_limit).target.size() == max_url_length - base.size() + 1);
  auto err = parse_err(at_limit + "a");
  CHECK(err.code == net_errc::invalid_url);
  CHECK(mentions(err, "2048"));
}
