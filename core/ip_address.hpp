#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/net_result.hpp"

struct sockaddr;

namespace webhookd {

/// An IPv4 or IPv6 address (no port, no IPv6 zone). A value type.
class ip_address {
 public:
  enum class family : uint8_t { v4, v6 };

  /// The IPv4 address with this value in host byte order (127.0.0.1 is 0x7f000001).
  static ip_address v4(uint32_t value);
  /// The IPv6 address with these 16 bytes in network order.
  static ip_address v6(const std::array<uint8_t, 16>& bytes);

  /// Parses the canonical text of an address: a dotted-decimal IPv4 quad ("127.0.0.1") or an
  /// IPv6 address as inet_pton accepts it ("::1", "::ffff:127.0.0.1"); no brackets, no zone id.
  /// For the odd IPv4 spellings a URL may carry, see parse_ipv4_lenient.
  static std::optional<ip_address> parse(std::string_view text);

  /// The address of an AF_INET or AF_INET6 socket address; nullopt for any other family.
  /// Precondition: `addr` points to a complete sockaddr_in / sockaddr_in6 for its family.
  static std::optional<ip_address> from_sockaddr(const sockaddr* addr);

  family kind() const { return family_; }
  bool is_v4() const { return family_ == family::v4; }
  bool is_v6() const { return family_ == family::v6; }

  /// Precondition: is_v4().
  uint32_t v4_value() const;
  /// The address bytes in network order: 4 for IPv4, 16 for IPv6 (the rest are zero).
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  /// 4 or 16.
  int byte_size() const { return is_v4() ? 4 : 16; }

  /// The IPv4 address carried inside an IPv6 address by a transition scheme, or nullopt:
  /// IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, IPv4-compatible ::/96 (except
  /// :: and ::1), NAT64 64:ff9b::/96 and 6to4 2002::/16. Always nullopt for IPv4.
  std::optional<ip_address> embedded_v4() const;

  /// Canonical text: dotted quad for IPv4, RFC 5952 form for IPv6 (no brackets).
  std::string to_string() const;

  friend bool operator==(const ip_address& a, const ip_address& b) {
    return a.family_ == b.family_ && a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const ip_address& a, const ip_address& b) { return !(a == b); }

 private:
  ip_address(family f, const std::array<uint8_t, 16>& bytes) : family_(f), bytes_(bytes) {}

  family family_;
  std::array<uint8_t, 16> bytes_;
};

/// Whether a URL host is meant as an IPv4 address, by the rule of the WHATWG URL standard: its
/// last dot-separated label (ignoring one trailing dot) is all decimal digits or "0x" + hex
/// digits. Such a host must then parse as IPv4 or the URL is invalid, so that no spelling of an
/// address can reach a resolver as a "name". Example: "0x7f.1" yes, "example.com" no.
bool looks_like_ipv4(std::string_view host);

/// Parses an IPv4 address in every spelling inet_aton(3), curl and browsers accept: 1 to 4
/// dot-separated parts, each decimal, octal (leading 0) or hex (0x); the last part fills the
/// remaining bytes ("127.1", "2130706433", "0x7f000001", "017700000001", "0177.0.0.1"); one
/// trailing dot is allowed. nullopt for anything else, including out-of-range parts.
std::optional<ip_address> parse_ipv4_lenient(std::string_view text);

/// A block of addresses: a network address and a prefix length.
class cidr {
 public:
  /// Parses "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). The address part is
  /// canonical text (ip_address::parse); the network must have no host bits set.
  static net_result<cidr> parse(std::string_view text);

  /// The block of `prefix_length` leading bits of `address`; host bits are cleared.
  /// Precondition: 0 <= prefix_length <= 32 (IPv4) or 128 (IPv6).
  cidr(const ip_address& address, int prefix_length);

  /// Whether `address` lies in this block. Addresses of the other family are never contained.
  bool contains(const ip_address& address) const;

  const ip_address& network() const { return network_; }
  int prefix_length() const { return prefix_length_; }
  /// "network/prefix", e.g. "10.0.0.0/8".
  std::string to_string() const;

 private:
  ip_address network_;
  int prefix_length_;
};

/// Why an address is not a public internet destination.
struct address_block {
  std::string range;   ///< the blocked range, e.g. "127.0.0.0/8"
  std::string reason;  ///< what the range is, e.g. "loopback" or "IPv4-mapped 127.0.0.1: loopback"
};

/// Classifies `address` against the special-purpose ranges that a webhook must never reach
/// (loopback, RFC 1918, link-local and cloud metadata, CGNAT, multicast, reserved, documentation,
/// IPv6 ULA/link-local/site-local, ...). An IPv6 address embedding an IPv4 one (see
/// ip_address::embedded_v4) is classified by that IPv4 address. An IPv6 address outside global
/// unicast 2000::/3 is blocked. nullopt means public.
std::optional<address_block> classify_address(const ip_address& address);

}  // namespace webhookd
