#include "webhookctl_transport.hpp"

#include <curl/curl.h>

#include <cstddef>
#include <cstring>

namespace webhookctl {

namespace {

// Answers larger than this are cut off and reported as a transport error: no API answer is
// anywhere near it, so something else is talking.
constexpr std::size_t max_response_bytes = 64 * 1024 * 1024;

struct write_state {
  std::string* body = nullptr;
  bool overflow = false;
};

extern "C" std::size_t on_body_chunk(char* data, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<write_state*>(user);
  const std::size_t n = size * count;
  if (state->body->size() + n > max_response_bytes) {
    state->overflow = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  state->body->append(data, n);
  return n;
}

struct slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;

// Appends `line` to `list`; false when curl could not allocate.
bool append_header(slist_ptr& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) return false;
  list.release();
  list.reset(grown);
  return true;
}

}  // namespace

struct curl_transport::handle {
  CURL* easy = nullptr;
  ~handle() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

curl_transport::curl_transport(connection_settings settings)
    : settings_(std::move(settings)), handle_(std::make_unique<handle>()) {
  handle_->easy = curl_easy_init();
}

curl_transport::~curl_transport() = default;

transport_result curl_transport::send(const api_request& request) {
  CURL* easy = handle_->easy;
  if (easy == nullptr) return transport_error{"cannot initialise libcurl"};
  curl_easy_reset(easy);

  const std::string url = settings_.base_url + request.path;
  slist_ptr headers;
  bool headers_ok = append_header(headers, "Accept: application/json");
  if (request.body)
    headers_ok = headers_ok && append_header(headers, "Content-Type: application/json");
  if (!settings_.token.empty()) {
    headers_ok = headers_ok && append_header(headers, "Authorization: Bearer " + settings_.token);
  }
  headers_ok = headers_ok && append_header(headers, "Expect:");  // no 100-continue round trip
  if (!headers_ok) return transport_error{"out of memory building the request"};

  std::string body;
  write_state state{&body, false};
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, settings_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(settings_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body_chunk);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.body) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body->data());
  }

  const CURLcode code = curl_easy_perform(easy);
  if (code != CURLE_OK) {
    if (state.overflow) return transport_error{"answer larger than 64 MiB"};
    const char* reason = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return transport_error{reason};
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  return api_response{status, std::move(body)};
}

curl_global::curl_global() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}

curl_global::~curl_global() {
  if (ok_) curl_global_cleanup();
}

std::string percent_encode(std::string_view segment) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') ||
                            (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0x0F]);
    }
  }
  return out;
}

std::optional<std::string> normalize_base_url(std::string_view url) {
  std::string_view rest;
  for (const std::string_view scheme :
       {std::string_view("http://"), std::string_view("https://")}) {
    if (url.size() > scheme.size() && url.substr(0, scheme.size()) == scheme) {
      rest = url.substr(scheme.size());
    }
  }
  if (rest.empty() || rest.front() == '/') return std::nullopt;
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return std::nullopt;  // no spaces or control characters
  }
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

}  // namespace webhookctl
