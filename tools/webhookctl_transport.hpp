#pragma once

// How webhookctl talks to webhookd: one HTTP request at a time, JSON in and out. The transport
// interface lets the command layer run against libcurl (the binary) or a recording double (unit
// tests) alike.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace webhookctl {

/// One call to the API: `path` starts with '/' and already carries its query string.
struct api_request {
  std::string method;               ///< "GET", "POST", "PATCH", "DELETE"
  std::string path;                 ///< e.g. "/api/v1/webhooks?limit=10"
  std::optional<std::string> body;  ///< JSON text; sent with content-type application/json
};

/// The server's answer, whatever its status.
struct api_response {
  long status = 0;
  std::string body;
};

/// The request never got an answer (refused, DNS failure, timeout, TLS error, ...).
struct transport_error {
  std::string message;  ///< one line
};

/// An answer or the reason there was none.
using transport_result = std::variant<api_response, transport_error>;

/// Sends API requests to one server with one set of credentials.
class transport {
 public:
  virtual ~transport() = default;
  /// Sends `request` and waits for the whole answer (bounded by the transport's timeout).
  virtual transport_result send(const api_request& request) = 0;
};

/// Where and how to connect.
struct connection_settings {
  std::string base_url;  ///< "http://host:port" without a trailing slash (see normalize_base_url)
  std::string token;     ///< bearer token; empty = no Authorization header
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds timeout{
      60'000};  ///< whole request (create waits for a reachability check)
  std::string user_agent = "webhookctl";
};

/// A transport over one libcurl easy handle (kept between requests, so pages reuse the
/// connection). Redirects are not followed. Precondition: curl_global_init has run (see
/// curl_global).
class curl_transport : public transport {
 public:
  explicit curl_transport(connection_settings settings);
  ~curl_transport() override;
  curl_transport(const curl_transport&) = delete;
  curl_transport& operator=(const curl_transport&) = delete;

  transport_result send(const api_request& request) override;

 private:
  struct handle;
  connection_settings settings_;
  std::unique_ptr<handle> handle_;
};

/// RAII for curl_global_init/curl_global_cleanup; create one in main before any transport.
class curl_global {
 public:
  curl_global();
  ~curl_global();
  curl_global(const curl_global&) = delete;
  curl_global& operator=(const curl_global&) = delete;
  /// False when curl_global_init failed.
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

/// Percent-encodes everything but RFC 3986 unreserved characters, so `segment` can be one path
/// segment or one query value.
std::string percent_encode(std::string_view segment);

/// Checks and tidies a server URL: it must start with http:// or https:// and have a host;
/// trailing slashes are dropped. nullopt when it is unusable.
std::optional<std::string> normalize_base_url(std::string_view url);

}  // namespace webhookctl
