#include "core/url.hpp"

namespace webhookd {

namespace {

net_error invalid(std::string message) {
  return net_error{net_errc::invalid_url, "callback_url " + std::move(message)};
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (char& c : out) c = to_lower(c);
  return out;
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

uint16_t default_port(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

std::optional<net_error> check_characters(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c <= 0x20 || c >= 0x7f)
      return invalid("contains a space, control character or non-ASCII byte at position " +
                     std::to_string(i) + "; percent-encode it");
    if (c == '\\') return invalid("contains a backslash");
    if (c == '#') return invalid("must not have a fragment ('#...')");
    if (c == '%' && (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])))
      return invalid("has a '%' not followed by two hex digits at position " + std::to_string(i));
  }
  return std::nullopt;
}

net_result<uint16_t> parse_port(std::string_view digits) {
  if (digits.empty()) return invalid("has an empty port");
  unsigned long value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return invalid("has a non-numeric port '" + std::string{digits} + "'");
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) return invalid("port must be between 1 and 65535");
  }
  if (value == 0) return invalid("port must be between 1 and 65535");
  return static_cast<uint16_t>(value);
}

// A host name: labels of letters, digits, '-' and '_', one trailing dot allowed.
std::optional<net_error> check_host_name(const std::string& host) {
  std::string_view name = host;
  if (name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return invalid("host '" + host + "' is not a valid name");
  size_t label_length = 0;
  for (char c : name) {
    if (c == '.') {
      if (label_length == 0) return invalid("host '" + host + "' has an empty label");
      label_length = 0;
      continue;
    }
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
      return invalid("host '" + host + "' contains '" + std::string(1, c) +
                     "'; only letters, digits, '-', '_' and '.' are allowed");
    if (++label_length > 63) return invalid("host '" + host + "' has a label over 63 characters");
  }
  if (label_length == 0) return invalid("host '" + host + "' has an empty label");
  return std::nullopt;
}

}  // namespace

std::string parsed_url::host_for_url() const {
  if (host_address && host_address->is_v6()) return "[" + host + "]";
  return host;
}

std::string parsed_url::to_string() const {
  std::string out = scheme + "://" + host_for_url();
  if (port != default_port(scheme)) out += ":" + std::to_string(port);
  return out + target;
}

net_result<parsed_url> parse_url(std::string_view text) {
  if (text.empty()) return invalid("is empty");
  if (text.size() > max_url_length)
    return invalid("is longer than " + std::to_string(max_url_length) + " bytes");
  if (auto bad = check_characters(text)) return *bad;

  parsed_url url;
  auto colon = text.find(':');
  bool scheme_ok = colon != std::string_view::npos && colon > 0 && is_alpha(text[0]);
  for (size_t i = 0; scheme_ok && i < colon; ++i) {
    char c = text[i];
    scheme_ok = is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok) return invalid("must be an absolute URL such as https://example.com/hook");
  url.scheme = lower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https")
    return net_error{net_errc::scheme_not_allowed,
                     "callback_url scheme '" + url.scheme + "' is not supported; use https"};
  auto rest = text.substr(colon + 1);
  if (rest.substr(0, 2) != "//")
    return invalid("must be of the form " + url.scheme + "://host/path");
  rest.remove_prefix(2);

  auto authority_end = rest.find_first_of("/?");
  auto authority = rest.substr(0, authority_end);
  if (authority_end == std::string_view::npos) {
    url.target = "/";
  } else if (rest[authority_end] == '?') {
    url.target = "/" + std::string{rest.substr(authority_end)};
  } else {
    url.target = std::string{rest.substr(authority_end)};
  }
  if (authority.find('@') != std::string_view::npos)
    return invalid("must not contain credentials ('user:password@')");

  std::string_view host_text;
  std::optional<std::string_view> port_text;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("has an unterminated '[' in the host");
    host_text = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return invalid("has unexpected text after ']'");
      port_text = after.substr(1);
    }
    if (host_text.find('%') != std::string_view::npos)
      return invalid("host must not carry an IPv6 zone id ('%...')");
    auto address = ip_address::parse(host_text);
    if (!address || !address->is_v6())
      return invalid("host '[" + std::string{host_text} + "]' is not a valid IPv6 address");
    url.host = address->to_string();
    url.host_address = address;
  } else {
    auto port_colon = authority.find(':');
    host_text = authority.substr(0, port_colon);
    if (port_colon != std::string_view::npos) {
      port_text = authority.substr(port_colon + 1);
      if (port_text->find(':') != std::string_view::npos)
        return invalid("has more than one ':' in the host; put an IPv6 address in brackets");
    }
    if (host_text.empty()) return invalid("has no host");
    url.host = lower(host_text);
    if (host_text.find('%') != std::string_view::npos)
      return invalid("host '" + url.host + "' must not be percent-encoded");
    if (looks_like_ipv4(url.host)) {
      auto address = parse_ipv4_lenient(url.host);
      if (!address)
        return invalid("host '" + url.host + "' looks like an IPv4 address but is not a valid one");
      url.host = address->to_string();
      url.host_address = address;
    } else if (auto bad = check_host_name(url.host)) {
      return *bad;
    }
  }

  if (port_text) {
    auto port = parse_port(*port_text);
    if (!port) return port.err();
    url.port = *port;
  } else {
    url.port = default_port(url.scheme);
  }
  return url;
}

}  // namespace webhookd
