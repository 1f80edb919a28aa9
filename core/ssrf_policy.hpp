#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ip_address.hpp"
#include "core/net_result.hpp"
#include "core/url.hpp"

namespace webhookd {

/// What the SSRF policy is configured with (--allow-private-targets, --allow-http).
struct ssrf_settings {
  /// CIDR blocks ("127.0.0.0/8", "fd00::/8", or bare addresses) exempt from the private-address
  /// rule. An IPv6 address embedding an IPv4 one is exempt when either is covered.
  std::vector<std::string> allow_private_targets;
  /// Accept http:// URLs; https only otherwise.
  bool allow_http = false;
};

/// Resolves a host name to every IPv4 and IPv6 address it has (deduplicated, resolver order),
/// or dns_failure. Blocks the calling thread.
using host_resolver = std::function<net_result<std::vector<ip_address>>(const std::string& host)>;

/// The system resolver: getaddrinfo(3) without AI_ADDRCONFIG, so every address the name has is
/// returned whatever this machine can reach. Blocks the calling thread.
net_result<std::vector<ip_address>> resolve_host_blocking(const std::string& host);

/// Decides whether a callback URL may be registered and whether an address may be connected
/// to: every address must be public unless the allowlist covers it. Used at registration
/// (check_url, then resolve_and_check_blocking) and again by the delivery path before each
/// connection (resolve_and_check_blocking or check_address), which then pins the connection to
/// a vetted address with CURLOPT_RESOLVE (format_curl_resolve). Immutable; safe to share
/// between threads.
class ssrf_policy {
 public:
  /// A policy from settings; invalid_url with a message naming the bad entry if a CIDR in
  /// allow_private_targets does not parse. `resolver` looks up host names (tests inject one).
  static net_result<ssrf_policy> create(const ssrf_settings& settings,
                                        host_resolver resolver = resolve_host_blocking);

  /// Parses `url` (parse_url) and applies everything decidable without DNS: the scheme must be
  /// https unless http is allowed by the settings or by `allow_http` (e.g. a tenant's own
  /// setting); an IP-literal host, in any spelling, must pass check_address. A host name
  /// passes here; resolve_and_check_blocking vets what it resolves to.
  net_result<parsed_url> check_url(std::string_view url, bool allow_http = false) const;

  /// Resolves `url.host` with the resolver, by default getaddrinfo (blocks the calling thread:
  /// never call it inside an event-based actor) and checks EVERY address it returns: one non-public
  /// address that the allowlist does not cover refuses the whole name (private_address), so DNS
  /// answers mixing public and private addresses can't be used to reach the private one. On success
  /// returns the vetted addresses (canonical text, deduplicated, resolver order) to connect to; for
  /// an IP-literal host, that address alone after check_address and without DNS. A name that does
  /// not resolve gives dns_failure.
  net_result<std::vector<std::string>> resolve_and_check_blocking(const parsed_url& url) const;

  /// Whether a connection to `address` is allowed: public, or covered by the allowlist.
  net_status check_address(const ip_address& address) const;
  /// The same for the text of an address (canonical IPv4 or IPv6, as from getaddrinfo or a
  /// previous resolve_and_check_blocking); invalid_url if it is not an address.
  net_status check_address(std::string_view address) const;

  /// Whether http:// URLs are accepted by the server-wide setting.
  bool allows_http() const { return allow_http_; }
  /// The allowlist the policy was made with.
  const std::vector<cidr>& allowlist() const { return allowlist_; }

 private:
  ssrf_policy(std::vector<cidr> allowlist, bool allow_http, host_resolver resolver)
      : allowlist_(std::move(allowlist)), allow_http_(allow_http), resolver_(std::move(resolver)) {}

  bool allowlisted(const ip_address& address) const;
  // The error for a non-public address, or nullopt when the address may be used. `subject` is
  // how the message introduces the address, e.g. "callback_url host 'x' resolves to".
  std::optional<net_error> refuse(const ip_address& address, const std::string& subject) const;

  std::vector<cidr> allowlist_;
  bool allow_http_;
  host_resolver resolver_;
};

/// The CURLOPT_RESOLVE entry pinning `host`:`port` to `address`: "host:port:address", with an
/// IPv6 address in brackets ("example.com:443:[2606:4700::1111]"). Pass url.host and url.port
/// of the parsed_url whose to_string() is the CURLOPT_URL, so curl matches the entry.
std::string format_curl_resolve(std::string_view host, uint16_t port, std::string_view address);

/// The same with several addresses for curl to try in order: "host:port:addr1,addr2".
/// Precondition: `addresses` is not empty.
std::string format_curl_resolve(std::string_view host, uint16_t port,
                                const std::vector<std::string>& addresses);

}  // namespace webhookd
