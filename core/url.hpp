#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip_address.hpp"
#include "core/net_result.hpp"

namespace webhookd {

/// The longest callback URL accepted, in bytes.
inline constexpr std::size_t max_url_length = 2048;

/// An absolute http(s) URL broken into the parts a delivery needs. Always normalised: the
/// scheme and a host name are lower case, an IPv4 host in any spelling is stored as its
/// dotted quad, an IPv6 host without brackets.
struct parsed_url {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< host name, dotted-quad IPv4 or IPv6 text (no brackets)
  uint16_t port = 0;   ///< explicit port, else 80 (http) or 443 (https)
  std::string target;  ///< path and optional "?query"; at least "/"
  /// Set when the host is an IP literal (in any spelling); then no DNS is involved.
  std::optional<ip_address> host_address;

  /// The normalised URL: scheme://host[:port]target, IPv6 in brackets, the port only when it
  /// is not the scheme's default. Give this to curl so the host matches a CURLOPT_RESOLVE pin.
  std::string to_string() const;
  /// The host as it appears in a URL or a Host header: IPv6 in brackets.
  std::string host_for_url() const;
};

/// Parses an absolute http or https URL. Refused (code invalid_url unless noted): other
/// schemes (scheme_not_allowed), a missing "//", userinfo ("user:pw@"), an empty host, a
/// fragment, spaces, control or non-ASCII bytes, backslashes, more than max_url_length bytes,
/// a port outside 1-65535, an IPv6 zone id, a host whose last label is numeric but which is not
/// a valid IPv4 address in any spelling (see looks_like_ipv4), a host name with characters
/// other than letters, digits, '-', '_' and '.'. Does not decide whether http is allowed.
net_result<parsed_url> parse_url(std::string_view text);

}  // namespace webhookd
