#include "core/ssrf_policy.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

using namespace webhookd;

namespace {

ssrf_policy make_policy(ssrf_settings settings = {}, host_resolver resolver = {}) {
  auto policy = ssrf_policy::create(settings, std::move(resolver));
  if (!policy) INFO("error: " << policy.err().message);
  REQUIRE(policy.ok());
  return *policy;
}

ssrf_policy http_policy(std::vector<std::string> allow = {}) {
  return make_policy(ssrf_settings{std::move(allow), true});
}

bool mentions(const net_error& err, const std::string& word) {
  return err.message.find(word) != std::string::npos;
}

// A resolver answering from a fixed table, standing in for DNS.
host_resolver table_resolver(std::map<std::string, std::vector<std::string>> table) {
  return [table =
              std::move(table)](const std::string& host) -> net_result<std::vector<ip_address>> {
    auto it = table.find(host);
    if (it == table.end())
      return net_error{net_errc::dns_failure, "callback_url host '" + host + "' does not resolve"};
    std::vector<ip_address> out;
    for (const auto& text : it->second) out.push_back(*ip_address::parse(text));
    return out;
  };
}

}  // namespace

TEST_CASE("every odd spelling of a private address is refused without DNS", "[unit]") {
  // A resolver that fails the test if called: IP literals must never reach DNS.
  auto policy = make_policy(ssrf_settings{{}, true}, [](const std::string& host) {
    FAIL("resolver called for " << host);
    return net_result<std::vector<ip_address>>{net_error{net_errc::dns_failure, ""}};
  });
  struct refused {
    const char* url;
    const char* address;
  };
  for (auto r : {refused{"http://2130706433/", "127.0.0.1"},
                 refused{"http://0x7f000001/", "127.0.0.1"},
                 refused{"http://0x7f.1/", "127.0.0.1"},
                 refused{"http://017700000001/", "127.0.0.1"},
                 refused{"http://127.1/", "127.0.0.1"},
                 refused{"http://0177.0.0.1/", "127.0.0.1"},
                 refused{"http://127.0.0.1./", "127.0.0.1"},
                 refused{"http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"},
                 refused{"http://[::ffff:7f00:1]/", "::ffff:127.0.0.1"},
                 refused{"http://[::127.0.0.1]/", "::127.0.0.1"},
                 refused{"http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1"},
                 refused{"http://[2002:7f00:1::]/", "2002:7f00:1::"},
                 refused{"http://[::1]/", "::1"},
                 refused{"http://[::]/", "::"},
                 refused{"http://0/", "0.0.0.0"},
                 refused{"http://169.254.169.254/latest/meta-data", "169.254.169.254"},
                 refused{"http://0xa9fea9fe/latest/meta-data", "169.254.169.254"},
                 refused{"http://10.1.2.3", "10.1.2.3"},
                 refused{"http://172.16.0.1/", "172.16.0.1"},
                 refused{"http://192.168.1.1:8080/", "192.168.1.1"},
                 refused{"http://100.64.0.1/", "100.64.0.1"},
                 refused{"http://224.0.0.1/", "224.0.0.1"},
                 refused{"http://255.255.255.255/", "255.255.255.255"},
                 refused{"http://[fd00::1]/", "fd00::1"},
                 refused{"http://[fe80::1]/", "fe80::1"},
                 refused{"http://[ff02::1]/", "ff02::1"},
                 refused{"http://[2001:db8::1]/", "2001:db8::1"}}) {
    INFO(r.url);
    auto checked = policy.check_url(r.url);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.err().code == net_errc::private_address);
    CHECK(mentions(checked.err(), r.address));
    CHECK(mentions(checked.err(), "not allowed"));
    // The registration path's resolve step refuses it too, still without DNS.
    auto parsed = parse_url(r.url);
    REQUIRE(parsed.ok());
    auto resolved = policy.resolve_and_check_blocking(*parsed);
    REQUIRE_FALSE(resolved.ok());
    CHECK(resolved.err().code == net_errc::private_address);
  }
}

TEST_CASE("the refusal names the address and why it is blocked", "[unit]") {
  auto policy = http_policy();
  auto metadata = policy.check_url("http://169.254.169.254/latest/meta-data");
  REQUIRE_FALSE(metadata.ok());
  CHECK(mentions(metadata.err(), "metadata"));
  auto mapped = policy.check_url("http://[::ffff:127.0.0.1]/");
  REQUIRE_FALSE(mapped.ok());
  CHECK(mentions(mapped.err(), "IPv4-mapped 127.0.0.1: loopback"));
}

TEST_CASE("public addresses pass", "[unit]") {
  auto policy = http_policy();
  for (const char* url : {"http://8.8.8.8/", "https://8.8.8.8:8443/hook", "http://134744072/",
                          "http://[2606:4700::1111]/", "https://[2606:4700::1111]:443/x?y=1",
                          "http://[::ffff:8.8.8.8]/"}) {
    INFO(url);
    auto checked = policy.check_url(url);
    if (!checked) INFO(checked.err().message);
    CHECK(checked.ok());
  }
  auto parsed = parse_url("https://[2606:4700::1111]/");
  REQUIRE(parsed.ok());
  auto vetted = policy.resolve_and_check_blocking(*parsed);
  REQUIRE(vetted.ok());
  CHECK(*vetted == std::vector<std::string>{"2606:4700::1111"});
  CHECK(policy.check_address("8.8.8.8").ok());
  CHECK(policy.check_address("2606:4700::1111").ok());
}

TEST_CASE("https is required unless http is allowed", "[unit]") {
  auto strict = make_policy();
  CHECK_FALSE(strict.allows_http());
  auto refused = strict.check_url("http://example.com/hook");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.err().code == net_errc::scheme_not_allowed);
  CHECK(mentions(refused.err(), "https"));
  CHECK(strict.check_url("https://example.com/hook").ok());
  CHECK(strict.check_url("HTTPS://example.com/hook").ok());
  // A per-call permission (e.g. the tenant's) allows http too.
  CHECK(strict.check_url("http://example.com/hook", true).ok());

  auto lenient = http_policy();
  CHECK(lenient.allows_http());
  CHECK(lenient.check_url("http://example.com/hook").ok());
  CHECK(lenient.check_url("ftp://example.com/").err().code == net_errc::scheme_not_allowed);
}

TEST_CASE("malformed URLs are invalid_url", "[unit]") {
  auto policy = http_policy();
  for (const char* bad :
       {"https://user:pw@example.com/", "https://example.com@127.0.0.1/", "not a url", "https://",
        "https://1.2.3.256/", "https://[fe80::1%25eth0]/"}) {
    INFO(bad);
    auto checked = policy.check_url(bad);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.err().code == net_errc::invalid_url);
  }
}

TEST_CASE("the allowlist exempts exactly its range", "[unit]") {
  auto policy = http_policy({"127.0.0.0/8", "10.1.0.0/16", "fd00::/8", "169.254.169.254"});
  CHECK(policy.allowlist().size() == 4);
  CHECK(policy.check_url("http://127.0.0.1:8080/hook").ok());
  CHECK(policy.check_url("http://2130706433/").ok());
  CHECK(policy.check_url("http://[::ffff:127.0.0.1]/").ok());  // embeds an allowed address
  CHECK(policy.check_url("http://10.1.255.255/").ok());
  CHECK(policy.check_url("http://[fd12::1]/").ok());
  CHECK(policy.check_url("http://169.254.169.254/").ok());

  for (const char* still_refused :
       {"http://10.2.0.1/", "http://10.0.255.255/", "http://192.168.1.1/", "http://[::1]/",
        "http://[fc00::1]/", "http://169.254.169.253/", "http://[fe80::1]/"}) {
    INFO(still_refused);
    auto checked = policy.check_url(still_refused);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.err().code == net_errc::private_address);
  }
  CHECK(policy.check_address("10.1.2.3").ok());
  CHECK_FALSE(policy.check_address("10.2.2.3").ok());
}

TEST_CASE("an invalid allowlist entry is refused at creation", "[unit]") {
  for (const char* bad : {"10.0.0.1/8", "localhost", "10.0.0.0/33", ""}) {
    INFO(bad);
    auto policy = ssrf_policy::create(ssrf_settings{{"127.0.0.0/8", bad}, false});
    REQUIRE_FALSE(policy.ok());
    CHECK(policy.err().code == net_errc::invalid_url);
    CHECK(mentions(policy.err(), "allow_private_targets"));
  }
}

TEST_CASE("localhost resolves to loopback and is refused", "[unit]") {
  auto policy = http_policy();
  auto checked = policy.check_url("http://localhost:8080/hook");
  REQUIRE(checked.ok());  // a name: nothing to decide before DNS
  auto resolved = policy.resolve_and_check_blocking(*checked);
  REQUIRE_FALSE(resolved.ok());
  CHECK(resolved.err().code == net_errc::private_address);
  CHECK(mentions(resolved.err(), "callback_url host 'localhost' resolves to"));
  CHECK(mentions(resolved.err(), "loopback"));

  auto allowed = http_policy({"127.0.0.0/8", "::1"});
  auto vetted = allowed.resolve_and_check_blocking(*checked);
  if (!vetted) INFO(vetted.err().message);
  REQUIRE(vetted.ok());
  REQUIRE_FALSE(vetted->empty());
  for (const auto& address : *vetted) CHECK(allowed.check_address(address).ok());
}

TEST_CASE("a name that does not resolve is a dns_failure", "[unit]") {
  auto policy = make_policy();
  auto checked = policy.check_url("https://no-such-host.invalid/hook");
  REQUIRE(checked.ok());
  auto resolved = policy.resolve_and_check_blocking(*checked);
  REQUIRE_FALSE(resolved.ok());
  CHECK(resolved.err().code == net_errc::dns_failure);
  CHECK(mentions(resolved.err(), "no-such-host.invalid"));
}

TEST_CASE("every resolved address is checked, not just the first", "[unit]") {
  auto policy = make_policy({}, table_resolver({
                                    {"public.example", {"93.184.216.34", "2606:2800::1"}},
                                    {"mixed.example", {"93.184.216.34", "10.0.0.5"}},
                                    {"mixed6.example", {"93.184.216.34", "fd00::5"}},
                                    {"dupes.example", {"93.184.216.34", "93.184.216.34"}},
                                    {"empty.example", {}},
                                }));
  auto check = [&](const char* host) {
    auto parsed = parse_url(std::string{"https://"} + host + "/");
    REQUIRE(parsed.ok());
    return policy.resolve_and_check_blocking(*parsed);
  };
  auto pub = check("public.example");
  REQUIRE(pub.ok());
  CHECK(*pub == std::vector<std::string>{"93.184.216.34", "2606:2800::1"});

  auto mixed = check("mixed.example");
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.err().code == net_errc::private_address);
  CHECK(mixed.err().message ==
        "callback_url host 'mixed.example' resolves to 10.0.0.5 (private network (RFC 1918), "
        "10.0.0.0/8), which is not allowed");

  auto mixed6 = check("mixed6.example");
  REQUIRE_FALSE(mixed6.ok());
  CHECK(mentions(mixed6.err(), "fd00::5"));

  auto dupes = check("dupes.example");
  REQUIRE(dupes.ok());
  CHECK(*dupes == std::vector<std::string>{"93.184.216.34"});

  auto empty = check("empty.example");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.err().code == net_errc::dns_failure);
}

TEST_CASE("the delivery path re-checks addresses", "[unit]") {
  auto policy = make_policy();
  auto refused = policy.check_address("127.0.0.1");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.err().code == net_errc::private_address);
  CHECK(refused.err().message == "address 127.0.0.1 (loopback, 127.0.0.0/8), which is not allowed");
  CHECK_FALSE(policy.check_address(*ip_address::parse("::ffff:10.0.0.1")).ok());
  CHECK(policy.check_address(*ip_address::parse("8.8.4.4")).ok());
  auto garbage = policy.check_address("2130706433");  // only canonical text here
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.err().code == net_errc::invalid_url);
}

TEST_CASE("CURLOPT_RESOLVE entries pin host and port to the vetted address", "[unit]") {
  CHECK(format_curl_resolve("hooks.example.com", 443, "93.184.216.34") ==
        "hooks.example.com:443:93.184.216.34");
  CHECK(format_curl_resolve("hooks.example.com", 8443, "2606:4700::1111") ==
        "hooks.example.com:8443:[2606:4700::1111]");
  CHECK(format_curl_resolve("h.example", 80, std::vector<std::string>{"1.2.3.4", "2606:4700::1"}) ==
        "h.example:80:1.2.3.4,[2606:4700::1]");

  auto url = parse_url("HTTPS://Hooks.Example.COM:8443/in");
  REQUIRE(url.ok());
  CHECK(format_curl_resolve(url->host, url->port, "93.184.216.34") ==
        "hooks.example.com:8443:93.184.216.34");
  CHECK(url->to_string() == "https://hooks.example.com:8443/in");
}
