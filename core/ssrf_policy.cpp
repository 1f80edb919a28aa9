#include "core/ssrf_policy.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <utility>

namespace webhookd {

namespace {

struct addrinfo_deleter {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};

std::string bracketed(std::string_view address) {
  if (address.find(':') != std::string_view::npos) return "[" + std::string{address} + "]";
  return std::string{address};
}

}  // namespace

net_result<std::vector<ip_address>> resolve_host_blocking(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &raw);
  std::unique_ptr<addrinfo, addrinfo_deleter> list{raw};
  if (rc != 0) {
    std::string why = rc == EAI_SYSTEM ? "system error" : gai_strerror(rc);
    return net_error{net_errc::dns_failure,
                     "callback_url host '" + host + "' does not resolve (" + why + ")"};
  }
  std::vector<ip_address> addresses;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    auto address = ip_address::from_sockaddr(ai->ai_addr);
    if (!address) continue;
    if (std::find(addresses.begin(), addresses.end(), *address) == addresses.end())
      addresses.push_back(*address);
  }
  if (addresses.empty())
    return net_error{net_errc::dns_failure,
                     "callback_url host '" + host + "' has no IPv4 or IPv6 address"};
  return addresses;
}

net_result<ssrf_policy> ssrf_policy::create(const ssrf_settings& settings, host_resolver resolver) {
  if (!resolver) resolver = resolve_host_blocking;
  std::vector<cidr> allowlist;
  for (const auto& entry : settings.allow_private_targets) {
    auto block = cidr::parse(entry);
    if (!block)
      return net_error{net_errc::invalid_url, "allow_private_targets: " + block.err().message};
    allowlist.push_back(*block);
  }
  return ssrf_policy{std::move(allowlist), settings.allow_http, std::move(resolver)};
}

bool ssrf_policy::allowlisted(const ip_address& address) const {
  auto embedded = address.embedded_v4();
  return std::any_of(allowlist_.begin(), allowlist_.end(), [&](const cidr& block) {
    return block.contains(address) || (embedded && block.contains(*embedded));
  });
}

std::optional<net_error> ssrf_policy::refuse(const ip_address& address,
                                             const std::string& subject) const {
  auto block = classify_address(address);
  if (!block || allowlisted(address)) return std::nullopt;
  std::string what = block->reason;
  if (!block->range.empty()) what += ", " + block->range;
  return net_error{net_errc::private_address,
                   subject + " " + address.to_string() + " (" + what + "), which is not allowed"};
}

net_result<parsed_url> ssrf_policy::check_url(std::string_view url, bool allow_http) const {
  auto parsed = parse_url(url);
  if (!parsed) return parsed;
  if (parsed->scheme != "https" && !allow_http && !allow_http_)
    return net_error{net_errc::scheme_not_allowed,
                     "callback_url must use https; http is not allowed on this server"};
  if (parsed->host_address) {
    if (auto refused = refuse(*parsed->host_address, "callback_url host is")) return *refused;
  }
  return parsed;
}

net_result<std::vector<std::string>> ssrf_policy::resolve_and_check_blocking(
    const parsed_url& url) const {
  if (url.host_address) {
    if (auto refused = refuse(*url.host_address, "callback_url host is")) return *refused;
    return std::vector<std::string>{url.host_address->to_string()};
  }

  auto resolved = resolver_(url.host);
  if (!resolved) return resolved.err();
  if (resolved->empty())
    return net_error{net_errc::dns_failure,
                     "callback_url host '" + url.host + "' has no IPv4 or IPv6 address"};

  const std::string subject = "callback_url host '" + url.host + "' resolves to";
  std::vector<std::string> vetted;
  for (const auto& address : *resolved) {
    if (auto refused = refuse(address, subject)) return *refused;
    auto text = address.to_string();
    if (std::find(vetted.begin(), vetted.end(), text) == vetted.end()) vetted.push_back(text);
  }
  return vetted;
}

net_status ssrf_policy::check_address(const ip_address& address) const {
  if (auto refused = refuse(address, "address")) return *refused;
  return {};
}

net_status ssrf_policy::check_address(std::string_view address) const {
  auto parsed = ip_address::parse(address);
  if (!parsed)
    return net_error{net_errc::invalid_url, "'" + std::string{address} + "' is not an IP address"};
  return check_address(*parsed);
}

std::string format_curl_resolve(std::string_view host, uint16_t port, std::string_view address) {
  return std::string{host} + ":" + std::to_string(port) + ":" + bracketed(address);
}

std::string format_curl_resolve(std::string_view host, uint16_t port,
                                const std::vector<std::string>& addresses) {
  std::string out = std::string{host} + ":" + std::to_string(port) + ":";
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) out += ",";
    out += bracketed(addresses[i]);
  }
  return out;
}

}  // namespace webhookd
