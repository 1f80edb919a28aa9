#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/url.hpp"

namespace webhookd::http {

/// The outcome of a reachability check: whether an HTTP answer came back (any status), its
/// status, or the transport error.
struct reachability_result {
  bool ok = false;
  int status_code = 0;  ///< 0 when no answer came
  std::string error;    ///< empty when an answer came
};

/// Sends HTTP HEAD requests to freshly registered callback URLs (libcurl easy interface).
/// Redirects are not followed, proxies from the environment are ignored, and the connection is
/// pinned to the addresses the SSRF policy vetted (CURLOPT_RESOLVE), so the check cannot be
/// steered elsewhere by a second DNS answer. Thread-safe: every call uses its own handle.
class reachability_prober {
 public:
  /// `timeout` bounds one whole check (connect, TLS, answer).
  explicit reachability_prober(std::chrono::milliseconds timeout = std::chrono::seconds(3),
                               std::string user_agent = "webhookd");
  ~reachability_prober();
  reachability_prober(const reachability_prober&) = delete;
  reachability_prober& operator=(const reachability_prober&) = delete;

  /// HEAD `url` connecting only to `vetted_addresses` (from ssrf_policy::
  /// resolve_and_check_blocking; ignored for an IP-literal host). Blocks up to the timeout.
  reachability_result head_blocking(const parsed_url& url,
                                    const std::vector<std::string>& vetted_addresses) const;

 private:
  std::chrono::milliseconds timeout_;
  std::string user_agent_;
  bool global_ok_ = false;
};

}  // namespace webhookd::http
