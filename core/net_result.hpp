#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace webhookd {

/// Why a URL, an address or a name was refused by the URL parser or the SSRF policy.
enum class net_errc {
  invalid_url,         ///< not a well-formed absolute http(s) URL, or a bad CIDR/address
  scheme_not_allowed,  ///< a scheme other than https (or http when http is allowed)
  private_address,     ///< the target is, or resolves to, a non-public address
  dns_failure,         ///< the host name does not resolve
};

/// Short stable name of an error code ("invalid_url", ...), usable as an API error code.
inline const char* to_string(net_errc code) {
  switch (code) {
    case net_errc::invalid_url:
      return "invalid_url";
    case net_errc::scheme_not_allowed:
      return "scheme_not_allowed";
    case net_errc::private_address:
      return "private_address";
    case net_errc::dns_failure:
      return "dns_failure";
  }
  return "invalid_url";
}

/// A refusal: a code callers branch on and a message for humans.
struct net_error {
  net_errc code = net_errc::invalid_url;
  std::string message;
};

/// Either a value or a net_error. Must be looked at.
template <class T>
class [[nodiscard]] net_result {
 public:
  net_result(T value) : data_(std::move(value)) {}
  net_result(net_error err) : data_(std::move(err)) {}

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// Precondition: ok().
  T& value() { return std::get<0>(data_); }
  const T& value() const { return std::get<0>(data_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Precondition: !ok().
  const net_error& err() const { return std::get<1>(data_); }

 private:
  std::variant<T, net_error> data_;
};

/// A check that returns nothing on success. Must be looked at.
class [[nodiscard]] net_status {
 public:
  net_status() = default;
  net_status(net_error err) : err_(std::move(err)) {}

  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }

  /// Precondition: !ok().
  const net_error& err() const { return *err_; }

 private:
  std::optional<net_error> err_;
};

}  // namespace webhookd
