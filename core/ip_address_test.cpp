#include "core/ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

using namespace webhookd;

namespace {

ip_address addr(const char* text) {
  auto parsed = ip_address::parse(text);
  INFO("address under test: " << text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::string lenient(const char* text) {
  auto parsed = parse_ipv4_lenient(text);
  return parsed ? parsed->to_string() : std::string{"<invalid>"};
}

}  // namespace

TEST_CASE("canonical addresses parse and print back", "[unit]") {
  CHECK(addr("127.0.0.1").is_v4());
  CHECK(addr("127.0.0.1").v4_value() == 0x7f000001u);
  CHECK(addr("127.0.0.1").to_string() == "127.0.0.1");
  CHECK(addr("::1").is_v6());
  CHECK(addr("2606:4700:0:0:0:0:0:1111").to_string() == "2606:4700::1111");
  CHECK(addr("::FFFF:7f00:1").to_string() == "::ffff:127.0.0.1");
  CHECK(addr("10.0.0.1") == ip_address::v4(0x0a000001));
  CHECK(addr("10.0.0.1") != addr("10.0.0.2"));
  // The canonical parser does not take the odd spellings, brackets or zones.
  for (const char* bad : {"", "2130706433", "127.1", "0x7f.0.0.1", "[::1]", "fe80::1%eth0",
                          "1.2.3.4.5", "256.1.1.1", "example.com", "1.2.3.4 "}) {
    INFO(bad);
    CHECK_FALSE(ip_address::parse(bad).has_value());
  }
}

TEST_CASE("IPv4 parses in every spelling inet_aton accepts", "[unit]") {
  CHECK(lenient("127.0.0.1") == "127.0.0.1");
  CHECK(lenient("2130706433") == "127.0.0.1");
  CHECK(lenient("0x7f000001") == "127.0.0.1");
  CHECK(lenient("0X7F000001") == "127.0.0.1");
  CHECK(lenient("017700000001") == "127.0.0.1");
  CHECK(lenient("127.1") == "127.0.0.1");
  CHECK(lenient("0x7f.1") == "127.0.0.1");
  CHECK(lenient("0177.0.0.1") == "127.0.0.1");
  CHECK(lenient("0177.1") == "127.0.0.1");
  CHECK(lenient("127.0.1") == "127.0.0.1");
  CHECK(lenient("0xa9.0xfe.0xa9.0xfe") == "169.254.169.254");
  CHECK(lenient("169.254.43518") == "169.254.169.254");
  CHECK(lenient("0") == "0.0.0.0");
  CHECK(lenient("0x") == "0.0.0.0");
  CHECK(lenient("00000000000000000000177.0.0.1") == "127.0.0.1");
  CHECK(lenient("0x00000000000000007f000001") == "127.0.0.1");
  CHECK(lenient("127.0.0.1.") == "127.0.0.1");
  CHECK(lenient("4294967295") == "255.255.255.255");
  CHECK(lenient("8.8.8.8") == "8.8.8.8");
}

TEST_CASE("lenient IPv4 agrees with inet_aton", "[unit]") {
  // The point of the lenient parser is that it reads a host exactly as the resolver would.
  for (const char* text :
       {"2130706433", "0x7f000001", "017700000001", "127.1", "0x7f.1", "0177.0.0.1", "10.0x10.0377",
        "1.2.3.4", "0", "192.168.1", "0300.0250.0.1", "3232235777"}) {
    INFO(text);
    in_addr expected{};
    REQUIRE(inet_aton(text, &expected) == 1);
    auto parsed = parse_ipv4_lenient(text);
    REQUIRE(parsed.has_value());
    CHECK(parsed->v4_value() == ntohl(expected.s_addr));
  }
}

TEST_CASE("out-of-range and malformed IPv4 spellings are rejected", "[unit]") {
  for (const char* bad : {"256.0.0.1",
                          "1.2.3.256",
                          "4294967296",
                          "0x100000000",
                          "1.16777216",
                          "1.2.65536",
                          "1.2.3.4.5",
                          "1..2.3",
                          ".1.2.3",
                          "08",
                          "0x7g",
                          "09.1",
                          "1.2.3.4..",
                          "",
                          ".",
                          "-1",
                          "+1",
                          "1 .2.3.4",
                          "0x1ffffffffffffffff",
                          "99999999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_ipv4_lenient(bad).has_value());
  }
}

TEST_CASE("a host whose last label is numeric is meant as IPv4", "[unit]") {
  for (const char* yes : {"127.0.0.1", "2130706433", "0x7f.1", "0x7F000001", "1.2.3.256",
                          "example.123", "127.0.0.1.", "0x", "09"}) {
    INFO(yes);
    CHECK(looks_like_ipv4(yes));
  }
  for (const char* no : {"example.com", "127.0.0.1x", "0x7g", "1.2.3.com", "", ".", "a1"}) {
    INFO(no);
    CHECK_FALSE(looks_like_ipv4(no));
  }
}

TEST_CASE("embedded IPv4 addresses are found in every transition scheme", "[unit]") {
  auto embedded = [](const char* text) {
    auto v4 = addr(text).embedded_v4();
    return v4 ? v4->to_string() : std::string{"<none>"};
  };
  CHECK(embedded("::ffff:127.0.0.1") == "127.0.0.1");
  CHECK(embedded("::ffff:0:10.1.2.3") == "10.1.2.3");
  CHECK(embedded("::127.0.0.1") == "127.0.0.1");
  CHECK(embedded("64:ff9b::a9fe:a9fe") == "169.254.169.254");
  CHECK(embedded("2002:c0a8:0101::1") == "192.168.1.1");
  CHECK(embedded("::") == "<none>");
  CHECK(embedded("::1") == "<none>");
  CHECK(embedded("2606:4700::1111") == "<none>");
  CHECK(embedded("64:ff9b:1::1") == "<none>");
  CHECK_FALSE(addr("127.0.0.1").embedded_v4().has_value());
}

TEST_CASE("addresses come from socket addresses", "[unit]") {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(0x7f000001);
  CHECK(ip_address::from_sockaddr(reinterpret_cast<sockaddr*>(&in)) == addr("127.0.0.1"));
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "2606:4700::1111", &in6.sin6_addr) == 1);
  CHECK(ip_address::from_sockaddr(reinterpret_cast<sockaddr*>(&in6)) == addr("2606:4700::1111"));
  sockaddr other{};
  other.sa_family = AF_UNIX;
  CHECK_FALSE(ip_address::from_sockaddr(&other).has_value());
}

TEST_CASE("CIDR blocks parse and contain exactly their range", "[unit]") {
  auto block = cidr::parse("10.0.0.0/8");
  REQUIRE(block.ok());
  CHECK(block->to_string() == "10.0.0.0/8");
  CHECK(block->contains(addr("10.0.0.0")));
  CHECK(block->contains(addr("10.255.255.255")));
  CHECK_FALSE(block->contains(addr("9.255.255.255")));
  CHECK_FALSE(block->contains(addr("11.0.0.0")));
  CHECK_FALSE(block->contains(addr("::ffff:10.0.0.1")));  // other family

  auto odd = cidr::parse("100.64.0.0/10");
  REQUIRE(odd.ok());
  CHECK(odd->contains(addr("100.127.255.255")));
  CHECK_FALSE(odd->contains(addr("100.128.0.0")));

  auto v6 = cidr::parse("fd00::/8");
  REQUIRE(v6.ok());
  CHECK(v6->contains(addr("fd12:3456::1")));
  CHECK_FALSE(v6->contains(addr("fc00::1")));
  CHECK_FALSE(v6->contains(addr("10.0.0.1")));

  auto host = cidr::parse("127.0.0.1");
  REQUIRE(host.ok());
  CHECK(host->prefix_length() == 32);
  CHECK(host->contains(addr("127.0.0.1")));
  CHECK_FALSE(host->contains(addr("127.0.0.2")));

  auto host6 = cidr::parse("::1");
  REQUIRE(host6.ok());
  CHECK(host6->prefix_length() == 128);

  auto all = cidr::parse("0.0.0.0/0");
  REQUIRE(all.ok());
  CHECK(all->contains(addr("255.255.255.255")));
  CHECK(cidr{addr("10.1.2.3"), 8}.to_string() == "10.0.0.0/8");
  CHECK(cidr{addr("2001:db8:ffff::1"), 33}.to_string() == "2001:db8:8000::/33");
}

TEST_CASE("bad CIDR blocks are refused with a reason", "[unit]") {
  auto host_bits = cidr::parse("10.0.0.1/8");
  REQUIRE_FALSE(host_bits.ok());
  CHECK(host_bits.err().message.find("did you mean 10.0.0.0/8") != std::string::npos);
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "10/8",
                          "example.com/8", "", "/8", "10.0.0.0/8/8", "10.0.0.0/-1"}) {
    INFO(bad);
    auto parsed = cidr::parse(bad);
    CHECK_FALSE(parsed.ok());
    if (!parsed.ok()) CHECK(parsed.err().code == net_errc::invalid_url);
  }
}

namespace {

struct range_case {
  const char* first;  // first address of the range
  const char* last;   // last address of the range
  const char* range;  // expected CIDR text
  const char* below;  // just below the range (nullptr if that is itself blocked)
  const char* above;  // just above the range (nullptr if that is itself blocked)
};

}  // namespace

TEST_CASE("every blocked IPv4 range is blocked exactly, with a reason", "[unit]") {
  const std::vector<range_case> cases = {
      {"0.0.0.0", "0.255.255.255", "0.0.0.0/8", nullptr, "1.0.0.0"},
      {"10.0.0.0", "10.255.255.255", "10.0.0.0/8", "9.255.255.255", "11.0.0.0"},
      {"100.64.0.0", "100.127.255.255", "100.64.0.0/10", "100.63.255.255", "100.128.0.0"},
      {"127.0.0.0", "127.255.255.255", "127.0.0.0/8", "126.255.255.255", "128.0.0.0"},
      {"169.254.0.0", "169.254.255.255", "169.254.0.0/16", "169.253.255.255", "169.255.0.0"},
      {"169.254.169.254", "169.254.169.254", "169.254.169.254/32", nullptr, nullptr},
      {"172.16.0.0", "172.31.255.255", "172.16.0.0/12", "172.15.255.255", "172.32.0.0"},
      {"192.0.0.0", "192.0.0.255", "192.0.0.0/24", "191.255.255.255", "192.0.1.0"},
      {"192.0.2.0", "192.0.2.255", "192.0.2.0/24", "192.0.1.255", "192.0.3.0"},
      {"192.88.99.0", "192.88.99.255", "192.88.99.0/24", "192.88.98.255", "192.88.100.0"},
      {"192.168.0.0", "192.168.255.255", "192.168.0.0/16", "192.167.255.255", "192.169.0.0"},
      {"198.18.0.0", "198.19.255.255", "198.18.0.0/15", "198.17.255.255", "198.20.0.0"},
      {"198.51.100.0", "198.51.100.255", "198.51.100.0/24", "198.51.99.255", "198.51.101.0"},
      {"203.0.113.0", "203.0.113.255", "203.0.113.0/24", "203.0.112.255", "203.0.114.0"},
      {"224.0.0.0", "239.255.255.255", "224.0.0.0/4", "223.255.255.255", nullptr},
      {"240.0.0.0", "255.255.255.254", "240.0.0.0/4", nullptr, nullptr},
      {"255.255.255.255", "255.255.255.255", "255.255.255.255/32", nullptr, nullptr},
  };
  for (const auto& c : cases) {
    INFO("range " << c.range);
    for (const char* inside : {c.first, c.last}) {
      INFO("address " << inside);
      auto block = classify_address(addr(inside));
      REQUIRE(block.has_value());
      CHECK(block->range == c.range);
      CHECK_FALSE(block->reason.empty());
    }
    for (const char* outside : {c.below, c.above}) {
      if (outside == nullptr) continue;
      INFO("address " << outside);
      CHECK_FALSE(classify_address(addr(outside)).has_value());
    }
  }
  CHECK(classify_address(addr("127.0.0.1"))->reason == "loopback");
  CHECK(classify_address(addr("169.254.169.254"))->reason.find("metadata") != std::string::npos);
  CHECK(classify_address(addr("10.1.2.3"))->reason.find("RFC 1918") != std::string::npos);
  CHECK(classify_address(addr("224.0.0.1"))->reason == "multicast");
  CHECK(classify_address(addr("255.255.255.255"))->reason == "broadcast");
}

TEST_CASE("every blocked IPv6 range is blocked exactly, with a reason", "[unit]") {
  const std::vector<range_case> cases = {
      {"::", "::", "::/128", nullptr, nullptr},
      {"::1", "::1", "::1/128", nullptr, nullptr},
      {"fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7", nullptr, nullptr},
      {"fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10", nullptr, nullptr},
      {"fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::/10", nullptr, nullptr},
      {"ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8", nullptr, nullptr},
      {"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32", "2001:db7:ffff::1",
       "2001:db9::"},
      {"2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/32", nullptr, "2001:1::1"},
      {"3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20", "3ffe:ffff::1",
       "3fff:1000::"},
      {"64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::/48", nullptr, nullptr},
      {"100::", "100::ffff:ffff:ffff:ffff", "100::/64", nullptr, nullptr},
  };
  for (const auto& c : cases) {
    INFO("range " << c.range);
    for (const char* inside : {c.first, c.last}) {
      INFO("address " << inside);
      auto block = classify_address(addr(inside));
      REQUIRE(block.has_value());
      CHECK(block->range == c.range);
      CHECK_FALSE(block->reason.empty());
    }
    for (const char* outside : {c.below, c.above}) {
      if (outside == nullptr) continue;
      INFO("address " << outside);
      CHECK_FALSE(classify_address(addr(outside)).has_value());
    }
  }
  CHECK(classify_address(addr("::1"))->reason == "loopback");
  CHECK(classify_address(addr("fd00::1"))->reason.find("ULA") != std::string::npos);
  CHECK(classify_address(addr("fe80::1"))->reason == "link-local");
  // Outside 2000::/3 is never a public destination, even where no named range applies.
  auto outside = classify_address(addr("4000::1"));
  REQUIRE(outside.has_value());
  CHECK(outside->reason.find("global unicast") != std::string::npos);
  CHECK(classify_address(addr("1:2::3")).has_value());
}

TEST_CASE("IPv6 addresses embedding IPv4 are classified by the IPv4 address", "[unit]") {
  auto mapped = classify_address(addr("::ffff:127.0.0.1"));
  REQUIRE(mapped.has_value());
  CHECK(mapped->range == "127.0.0.0/8");
  CHECK(mapped->reason == "IPv4-mapped 127.0.0.1: loopback");
  for (const char* blocked :
       {"::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "::ffff:0:192.168.0.1",
        "::127.0.0.1", "::10.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::", "2002:a00:1::1", "2002:c0a8:101::"}) {
    INFO(blocked);
    CHECK(classify_address(addr(blocked)).has_value());
  }
  // The same schemes carrying a public IPv4 address are public.
  for (const char* pub : {"::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1", "::8.8.8.8"}) {
    INFO(pub);
    CHECK_FALSE(classify_address(addr(pub)).has_value());
  }
}

TEST_CASE("public addresses are not blocked", "[unit]") {
  for (const char* pub : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1",
                          "2606:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1"}) {
    INFO(pub);
    CHECK_FALSE(classify_address(addr(pub)).has_value());
  }
}
