#include "core/ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace webhookd {

namespace {

using bytes16 = std::array<uint8_t, 16>;

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

bool has_hex_prefix(std::string_view s) {
  return s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

std::vector<std::string_view> split_dots(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, dot - start));
    start = dot + 1;
  }
}

// One part of a lenient IPv4 address. Values above 32 bits saturate to 2^32 (out of range for
// every position), so arbitrarily long spellings can't wrap around.
std::optional<uint64_t> parse_ipv4_part(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t base = 10;
  if (has_hex_prefix(s)) {
    base = 16;
    s.remove_prefix(2);  // "0x" alone is 0, as inet_aton and the URL standard have it
  } else if (s.size() >= 2 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  constexpr uint64_t saturated = uint64_t{1} << 32;
  uint64_t value = 0;
  for (char c : s) {
    auto d = static_cast<uint64_t>(digit_value(c));
    if (d >= base) return std::nullopt;
    value = value * base + d;
    if (value > saturated) value = saturated;
  }
  return value;
}

bool prefix_matches(const bytes16& a, const bytes16& b, int prefix_length) {
  int full = prefix_length / 8;
  for (int i = 0; i < full; ++i)
    if (a[i] != b[i]) return false;
  int rest = prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

[[noreturn]] void invariant_broken(const char* what) {
  std::fprintf(stderr, "webhookd: broken invariant: %s\n", what);
  std::abort();
}

struct v4_range {
  uint32_t network;
  int prefix_length;
  const char* reason;
};

// Checked in order: a more specific range comes before the range that contains it.
constexpr v4_range blocked_v4[] = {
    {0x00000000, 8, "\"this\" network"},
    {0x0a000000, 8, "private network (RFC 1918)"},
    {0x64400000, 10, "carrier-grade NAT (RFC 6598)"},
    {0x7f000000, 8, "loopback"},
    {0xa9fea9fe, 32, "cloud metadata service (link-local)"},
    {0xa9fe0000, 16, "link-local"},
    {0xac100000, 12, "private network (RFC 1918)"},
    {0xc0000000, 24, "IETF protocol assignments"},
    {0xc0000200, 24, "documentation (TEST-NET-1)"},
    {0xc0586300, 24, "6to4 relay anycast (deprecated)"},
    {0xc0a80000, 16, "private network (RFC 1918)"},
    {0xc6120000, 15, "benchmarking (RFC 2544)"},
    {0xc6336400, 24, "documentation (TEST-NET-2)"},
    {0xcb007100, 24, "documentation (TEST-NET-3)"},
    {0xe0000000, 4, "multicast"},
    {0xffffffff, 32, "broadcast"},
    {0xf0000000, 4, "reserved (240.0.0.0/4)"},
};

struct v6_range {
  bytes16 network;
  int prefix_length;
  const char* reason;
};

constexpr v6_range blocked_v6[] = {
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "NAT64 local use (RFC 8215)"},
    {{0x01, 0x00}, 64, "discard only (RFC 6666)"},
    {{0x20, 0x01, 0x00, 0x00}, 32, "Teredo tunnel (RFC 4380)"},
    {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, "benchmarking (RFC 5180)"},
    {{0x20, 0x01, 0x00, 0x10}, 28, "ORCHID (deprecated)"},
    {{0x20, 0x01, 0x00, 0x20}, 28, "ORCHIDv2 (RFC 7343)"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation (RFC 3849)"},
    {{0x3f, 0xff}, 20, "documentation (RFC 9637)"},
    {{0xfc}, 7, "unique local address (ULA)"},
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "site-local (deprecated)"},
    {{0xff}, 8, "multicast"},
    {{0x00}, 8, "reserved (::/8)"},
};

struct embedding {
  ip_address v4;
  const char* scheme;
};

std::optional<embedding> find_embedded_v4(const bytes16& b) {
  auto all_zero = [&](int from, int to) {
    for (int i = from; i < to; ++i)
      if (b[i] != 0) return false;
    return true;
  };
  auto v4_at = [&](int i) {
    return ip_address::v4((uint32_t{b[i]} << 24) | (uint32_t{b[i + 1]} << 16) |
                          (uint32_t{b[i + 2]} << 8) | uint32_t{b[i + 3]});
  };
  if (all_zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return embedding{v4_at(12), "IPv4-mapped"};
  if (all_zero(0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
    return embedding{v4_at(12), "IPv4-translated"};
  if (all_zero(0, 12)) {
    if (all_zero(12, 15) && b[15] <= 1) return std::nullopt;  // :: and ::1 are their own things
    return embedding{v4_at(12), "IPv4-compatible"};
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && all_zero(4, 12))
    return embedding{v4_at(12), "NAT64"};
  if (b[0] == 0x20 && b[1] == 0x02) return embedding{v4_at(2), "6to4"};
  return std::nullopt;
}

std::optional<address_block> classify_v4(const ip_address& address) {
  for (const auto& r : blocked_v4) {
    cidr block{ip_address::v4(r.network), r.prefix_length};
    if (block.contains(address)) return address_block{block.to_string(), r.reason};
  }
  return std::nullopt;
}

}  // namespace

ip_address ip_address::v4(uint32_t value) {
  bytes16 b{};
  b[0] = static_cast<uint8_t>(value >> 24);
  b[1] = static_cast<uint8_t>(value >> 16);
  b[2] = static_cast<uint8_t>(value >> 8);
  b[3] = static_cast<uint8_t>(value);
  return ip_address{family::v4, b};
}

ip_address ip_address::v6(const std::array<uint8_t, 16>& bytes) {
  return ip_address{family::v6, bytes};
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; longer input can't be an address anyway.
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string copy{text};
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, copy.c_str(), buf) == 1) {
    return v4((uint32_t{buf[0]} << 24) | (uint32_t{buf[1]} << 16) | (uint32_t{buf[2]} << 8) |
              uint32_t{buf[3]});
  }
  if (inet_pton(AF_INET6, copy.c_str(), buf) == 1) {
    bytes16 b;
    std::memcpy(b.data(), buf, 16);
    return v6(b);
  }
  return std::nullopt;
}

std::optional<ip_address> ip_address::from_sockaddr(const sockaddr* addr) {
  if (addr == nullptr) return std::nullopt;
  if (addr->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof in);
    return v4(ntohl(in.sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, addr, sizeof in6);
    bytes16 b;
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    return v6(b);
  }
  return std::nullopt;
}

uint32_t ip_address::v4_value() const {
  if (!is_v4()) invariant_broken("ip_address::v4_value on an IPv6 address");
  return (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) |
         uint32_t{bytes_[3]};
}

std::optional<ip_address> ip_address::embedded_v4() const {
  if (is_v4()) return std::nullopt;
  auto found = find_embedded_v4(bytes_);
  if (!found) return std::nullopt;
  return found->v4;
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  const char* text = inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  if (text == nullptr) invariant_broken("inet_ntop failed on a valid address");
  return text;
}

bool looks_like_ipv4(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (has_hex_prefix(last)) {
    for (char c : last.substr(2))
      if (!is_hex_digit(c)) return false;
    return true;
  }
  for (char c : last)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<ip_address> parse_ipv4_lenient(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  auto parts = split_dots(text);
  if (parts.size() > 4) return std::nullopt;
  std::vector<uint64_t> values;
  for (auto part : parts) {
    auto value = parse_ipv4_part(part);
    if (!value) return std::nullopt;
    values.push_back(*value);
  }
  const size_t n = values.size();
  for (size_t i = 0; i + 1 < n; ++i)
    if (values[i] > 255) return std::nullopt;
  // The last part fills the bytes the earlier parts left: 32, 24, 16 or 8 bits.
  const uint64_t last_limit = uint64_t{1} << (8 * (5 - n));
  if (values.back() >= last_limit) return std::nullopt;
  uint64_t result = values.back();
  for (size_t i = 0; i + 1 < n; ++i) result |= values[i] << (24 - 8 * i);
  return ip_address::v4(static_cast<uint32_t>(result));
}

net_result<cidr> cidr::parse(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return net_error{net_errc::invalid_url,
                     "'" + std::string{text} + "' is not a CIDR block: " + why};
  };
  auto slash = text.find('/');
  auto address = ip_address::parse(text.substr(0, slash));
  if (!address) return invalid("expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8");
  const int max_length = address->is_v4() ? 32 : 128;
  int length = max_length;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return invalid("missing or bad prefix length");
    length = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return invalid("prefix length must be a decimal number");
      length = length * 10 + (c - '0');
    }
    if (length > max_length)
      return invalid("prefix length must be at most " + std::to_string(max_length));
  }
  cidr block{*address, length};
  if (block.network() != *address)
    return invalid("host bits are set; did you mean " + block.to_string() + "?");
  return block;
}

cidr::cidr(const ip_address& address, int prefix_length)
    : network_(address), prefix_length_(prefix_length) {
  const int max_length = address.is_v4() ? 32 : 128;
  if (prefix_length < 0 || prefix_length > max_length)
    invariant_broken("cidr prefix length out of range");
  bytes16 b = address.bytes();
  for (int bit = prefix_length; bit < max_length; ++bit)
    b[bit / 8] = static_cast<uint8_t>(b[bit / 8] & ~(0x80 >> (bit % 8)));
  if (address.is_v4()) {
    network_ = ip_address::v4((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
                              (uint32_t{b[2]} << 8) | uint32_t{b[3]});
  } else {
    network_ = ip_address::v6(b);
  }
}

bool cidr::contains(const ip_address& address) const {
  if (address.kind() != network_.kind()) return false;
  return prefix_matches(address.bytes(), network_.bytes(), prefix_length_);
}

std::string cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(prefix_length_);
}

std::optional<address_block> classify_address(const ip_address& address) {
  if (address.is_v4()) return classify_v4(address);
  const auto& b = address.bytes();
  bool zero_but_last = true;
  for (int i = 0; i < 15; ++i)
    if (b[i] != 0) zero_but_last = false;
  if (zero_but_last && b[15] == 0) return address_block{"::/128", "unspecified"};
  if (zero_but_last && b[15] == 1) return address_block{"::1/128", "loopback"};
  if (auto embedded = find_embedded_v4(b)) {
    auto block = classify_v4(embedded->v4);
    if (!block) return std::nullopt;
    block->reason =
        std::string{embedded->scheme} + " " + embedded->v4.to_string() + ": " + block->reason;
    return block;
  }
  for (const auto& r : blocked_v6) {
    if (prefix_matches(b, r.network, r.prefix_length))
      return address_block{cidr{ip_address::v6(r.network), r.prefix_length}.to_string(), r.reason};
  }
  if ((b[0] & 0xe0) != 0x20) return address_block{"", "not global unicast (outside 2000::/3)"};
  return std::nullopt;
}

}  // namespace webhookd
