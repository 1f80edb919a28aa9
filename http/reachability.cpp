#include "http/reachability.hpp"

#include <curl/curl.h>

#include <memory>
#include <utility>

#include "core/ssrf_policy.hpp"

namespace webhookd::http {

namespace {

struct easy_deleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

reachability_prober::reachability_prober(std::chrono::milliseconds timeout, std::string user_agent)
    : timeout_(timeout), user_agent_(std::move(user_agent)) {
  // Reference counted and thread-safe in the libcurl we build against (7.88).
  global_ok_ = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

reachability_prober::~reachability_prober() {
  if (global_ok_) curl_global_cleanup();
}

reachability_result reachability_prober::head_blocking(
    const parsed_url& url, const std::vector<std::string>& vetted_addresses) const {
  reachability_result out;
  if (!global_ok_) {
    out.error = "libcurl could not be initialised";
    return out;
  }
  std::unique_ptr<CURL, easy_deleter> easy(curl_easy_init());
  if (!easy) {
    out.error = "libcurl could not create a handle";
    return out;
  }
  std::unique_ptr<curl_slist, slist_deleter> resolve;
  if (!url.host_address) {
    if (vetted_addresses.empty()) {
      out.error = "no vetted address to connect to";
      return out;
    }
    std::string pin = format_curl_resolve(url.host, url.port, vetted_addresses);
    resolve.reset(curl_slist_append(nullptr, pin.c_str()));
  }
  const std::string target = url.to_string();
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = easy.get();
  curl_easy_setopt(h, CURLOPT_URL, target.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // never via a proxy from the environment
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent_.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  if (resolve) curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get());

  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    out.error = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(rc);
    return out;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  out.ok = true;
  out.status_code = static_cast<int>(status);
  return out;
}

}  // namespace webhookd::http
