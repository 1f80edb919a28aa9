#include "actors/curl_engine.hpp"

#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/ip_address.hpp"
#include "core/url.hpp"

namespace webhookd {

namespace {

using steady = std::chrono::steady_clock;

// Upper bound for one curl_multi_poll; curl shortens it to its own next timer, and
// curl_multi_wakeup interrupts it.
constexpr int max_poll_ms = 1000;

struct easy_deleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct multi_deleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
struct slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using easy_ptr = std::unique_ptr<CURL, easy_deleter>;
using multi_ptr = std::unique_ptr<CURLM, multi_deleter>;
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;

// libcurl's global state: reference counted, and thread-safe in the libcurl we build against
// (7.84 or later with CURL_VERSION_THREADSAFE).
class curl_global {
 public:
  curl_global() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("http_client: curl_global_init failed");
  }
  ~curl_global() { curl_global_cleanup(); }
  curl_global(const curl_global&) = delete;
  curl_global& operator=(const curl_global&) = delete;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

// Drops an incomplete UTF-8 sequence at the end of a truncated excerpt.
void trim_partial_utf8(std::string& text) {
  std::size_t n = text.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    auto byte = static_cast<unsigned char>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    std::size_t length = byte < 0x80             ? 1
                         : (byte & 0xE0) == 0xC0 ? 2
                         : (byte & 0xF0) == 0xE0 ? 3
                         : (byte & 0xF8) == 0xF0 ? 4
                                                 : 1;
    if (length > back) text.resize(n - back);
    return;
  }
}

// One transfer in the multi handle. Heap-allocated and never moved: curl holds pointers to it
// and into it (callback data, the body, the error buffer).
struct transfer {
  uint64_t id = 0;
  std::string host_key;  // the curl_engine queue it came from
  http_request request;
  const ssrf_policy* policy = nullptr;
  slist_ptr headers;
  easy_ptr easy;  // declared after `headers`: the handle goes before the list it uses
  std::string body_excerpt;
  uint64_t body_bytes = 0;
  std::string retry_after;
  std::string location;
  std::string blocked;  // why the SSRF policy refused a connect; empty if it never did
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  steady::time_point started;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  size_t n = size * count;
  t->body_bytes += n;
  if (t->body_excerpt.size() < http_body_excerpt_limit) {
    size_t take = std::min(n, http_body_excerpt_limit - t->body_excerpt.size());
    try {
      t->body_excerpt.append(data, take);
    } catch (...) {
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
  }
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  size_t n = size * count;
  std::string_view line{data, n};
  try {
    if (line.size() >= 5 && iequals(line.substr(0, 5), "HTTP/")) {
      // A new response starts (after an informational 1xx): forget the previous one's headers.
      t->retry_after.clear();
      t->location.clear();
      return n;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    auto name = trim(line.substr(0, colon));
    if (iequals(name, "retry-after"))
      t->retry_after = std::string{trim(line.substr(colon + 1))};
    else if (iequals(name, "location"))
      t->location = std::string{trim(line.substr(colon + 1))};
  } catch (...) {
    return 0;
  }
  return n;
}

// Every address curl is about to connect to passes the SSRF policy here, whatever DNS
// answered (DNS rebinding defence).
curl_socket_t on_open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<transfer*>(user);
  try {
    if (purpose != CURLSOCKTYPE_IPCXN) {
      t->blocked = "only outgoing IP connections are allowed";
      return CURL_SOCKET_BAD;
    }
    bool complete = (address->family == AF_INET && address->addrlen >= sizeof(sockaddr_in)) ||
                    (address->family == AF_INET6 && address->addrlen >= sizeof(sockaddr_in6));
    auto ip = complete ? ip_address::from_sockaddr(&address->addr) : std::nullopt;
    if (!ip) {
      t->blocked = "address family " + std::to_string(address->family) + " is not allowed";
      return CURL_SOCKET_BAD;
    }
    auto verdict = t->policy->check_address(*ip);
    if (!verdict) {
      t->blocked = verdict.err().message;
      return CURL_SOCKET_BAD;
    }
  } catch (...) {
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

bool is_tls_error(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

const char* error_kind_of(CURLcode code, bool blocked) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_CONNECT:
      return blocked ? "blocked_by_policy" : "connect_refused";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return "connection_reset";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "dns";
    default:
      return is_tls_error(code) ? "tls" : "other";
  }
}

// Rounded up: curl measures its timeouts on its own clock, which may run a hair behind ours.
int64_t elapsed_ms(steady::time_point since) {
  return std::chrono::ceil<std::chrono::milliseconds>(steady::now() - since).count();
}

}  // namespace

std::optional<std::string> prepare_http_request(http_request& request) {
  auto parsed = parse_url(request.url);
  if (!parsed) return "invalid url: " + parsed.err().message;
  request.url = parsed->to_string();
  if (request.connect_timeout_ms <= 0 || request.total_timeout_ms <= 0)
    return std::string{"timeouts must be positive"};
  constexpr std::string_view forbidden{"\r\n\0", 3};
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
      return "invalid header name '" + name + "'";
    if (value.find_first_of(forbidden) != std::string::npos)
      return "header '" + name + "' has a control character in its value";
  }
  request.priority = std::clamp(request.priority, 0, 2);
  return std::nullopt;
}

class curl_engine::core {
 public:
  core(const http_client_settings& settings, completion_handler on_done)
      : settings_(settings), on_done_(std::move(on_done)), multi_(curl_multi_init()) {
    if (!settings_.policy) throw std::invalid_argument("http_client: an ssrf_policy is required");
    if (settings_.max_in_flight == 0)
      throw std::invalid_argument("http_client: max_in_flight must be positive");
    if (!multi_) throw std::runtime_error("http_client: curl_multi_init failed");
    curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(settings_.max_host_connections));
    curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS,
                      static_cast<long>(settings_.max_idle_connections));
  }

  // Runs only after run() returned, or if it never started: no transfer is in the multi handle.
  ~core() = default;

  void submit(uint64_t id, http_request request) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      incoming_.push_back(queued_request{id, std::move(request), {}});
      queued_.fetch_add(1, std::memory_order_relaxed);
    }
    curl_multi_wakeup(multi_.get());
  }

  void request_stop() {
    stopping_.store(true, std::memory_order_release);
    curl_multi_wakeup(multi_.get());
  }

  uint64_t running() const { return running_.load(std::memory_order_relaxed); }
  uint64_t queued() const { return queued_.load(std::memory_order_relaxed); }

  // The curl thread's loop.
  void run() {
    while (!stopping()) {
      start_queued();
      int still_running = 0;
      curl_multi_perform(multi_.get(), &still_running);
      collect_finished();
      if (stopping()) break;
      // A finished transfer may have freed a slot for a queued request: start it first.
      if (transfers_.size() < settings_.max_in_flight && any_ready()) continue;
      curl_multi_poll(multi_.get(), nullptr, 0, max_poll_ms, nullptr);
    }
    for (auto& entry : transfers_) curl_multi_remove_handle(multi_.get(), entry.first);
    transfers_.clear();
    running_.store(0, std::memory_order_relaxed);
    hosts_.clear();
    for (auto& ring : ready_) ring.clear();
    std::lock_guard<std::mutex> guard{mutex_};
    incoming_.clear();
    queued_.store(0, std::memory_order_relaxed);
  }

 private:
  struct queued_request {
    uint64_t id;
    http_request request;
    std::string host_key;  // set when the curl thread takes the request in
  };

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // Requests of one host:port waiting to start, and how many of its transfers run. A host
  // takes part in the scheduling only while it has a connection slot free, so requests to a
  // dead or slow host wait here, outside the multi handle, and hold none of max_in_flight.
  struct host_queue {
    std::size_t running = 0;
    bool suspect = false;  // its recent transfers timed out: fewer connection slots
    std::array<std::deque<queued_request>, 3> waiting;  // high, standard, bulk
    std::array<bool, 3> in_ready{};                     // listed in ready_[priority]
  };

  // Where a request waits: its origin, "scheme://host[:port]" (curl keeps one connection pool
  // per host:port). prepare_http_request normalised the URL (parse_url(...).to_string(): the
  // default port left out, the target starting with '/'), so the origin is the text before the
  // target and one host:port always gives the same key, without parsing the URL again.
  static std::string host_key_of(const std::string& url) {
    auto authority = url.find("://");
    if (authority == std::string::npos) return url;
    return url.substr(0, url.find('/', authority + 3));
  }

  bool host_has_slot(const host_queue& host) const {
    std::size_t cap =
        host.suspect ? std::min(settings_.max_host_connections, settings_.suspect_host_connections)
                     : settings_.max_host_connections;
    return host.running < cap;
  }

  bool is_suspect(const std::string& key) const {
    auto it = timeouts_in_a_row_.find(key);
    return it != timeouts_in_a_row_.end() && it->second >= settings_.suspect_after_timeouts;
  }

  // Counts a host's timeouts in a row; any other ending clears its count.
  void note_outcome(const std::string& key, const http_response& response) {
    if (response.error_kind == "timeout")
      ++timeouts_in_a_row_[key];
    else
      timeouts_in_a_row_.erase(key);
    if (auto it = hosts_.find(key); it != hosts_.end()) it->second.suspect = is_suspect(key);
  }

  void mark_ready(host_queue& host, std::size_t priority) {
    if (host.in_ready[priority] || host.waiting[priority].empty() || !host_has_slot(host)) return;
    host.in_ready[priority] = true;
    ready_[priority].push_back(&host);
  }

  bool any_ready() const {
    return std::any_of(ready_.begin(), ready_.end(), [](const auto& r) { return !r.empty(); });
  }

  // Moves submitted requests to their hosts' queues, then starts requests while
  // max_in_flight allows: high before standard before bulk, and within one priority the hosts
  // with a free connection slot take turns (round robin), each host in its submit order.
  void start_queued() {
    std::vector<queued_request> arrived;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      arrived.swap(incoming_);
    }
    for (auto& next : arrived) {
      auto priority = static_cast<std::size_t>(std::clamp(next.request.priority, 0, 2));
      next.host_key = host_key_of(next.request.url);
      auto [entry, created] = hosts_.try_emplace(next.host_key);
      host_queue& host = entry->second;
      if (created) host.suspect = is_suspect(next.host_key);
      host.waiting[priority].push_back(std::move(next));
      mark_ready(host, priority);
    }
    while (transfers_.size() < settings_.max_in_flight) {
      auto picked = next_ready();
      if (!picked.first) break;
      host_queue& host = *picked.first;
      std::size_t priority = picked.second;
      queued_request next = std::move(host.waiting[priority].front());
      host.waiting[priority].pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
      ++host.running;
      host.in_ready[priority] = false;
      mark_ready(host, priority);  // back to the end of the ring if it has more and a free slot
      start(std::move(next));
    }
  }

  // The next host allowed to start a request and the priority to take, or {nullptr, 0}.
  // Entries of hosts that filled their slots since they were listed are dropped here.
  std::pair<host_queue*, std::size_t> next_ready() {
    for (std::size_t priority = 0; priority < ready_.size(); ++priority) {
      auto& ring = ready_[priority];
      while (!ring.empty()) {
        host_queue* host = ring.front();
        ring.pop_front();
        if (host_has_slot(*host) && !host->waiting[priority].empty()) return {host, priority};
        host->in_ready[priority] = false;
      }
    }
    return {nullptr, 0};
  }

  // A transfer of `host` ended (or never started): its slot goes back to the host's queues.
  void release_slot(const std::string& key) {
    auto it = hosts_.find(key);
    if (it == hosts_.end()) return;
    host_queue& host = it->second;
    if (host.running > 0) --host.running;
    bool idle = host.running == 0;
    for (std::size_t priority = 0; priority < host.waiting.size(); ++priority) {
      mark_ready(host, priority);
      idle = idle && host.waiting[priority].empty() && !host.in_ready[priority];
    }
    if (idle) hosts_.erase(it);
  }

  void fail_now(uint64_t id, const std::string& host_key, std::string error) {
    release_slot(host_key);
    http_response response;
    response.error_kind = "other";
    response.error = std::move(error);
    on_done_(id, std::move(response));
  }

  void start(queued_request next) {
    auto t = std::make_unique<transfer>();
    t->id = next.id;
    t->host_key = std::move(next.host_key);
    t->request = std::move(next.request);
    t->policy = settings_.policy.get();
    if (!spare_easy_.empty()) {
      t->easy = std::move(spare_easy_.back());
      spare_easy_.pop_back();
    } else {
      t->easy.reset(curl_easy_init());
    }
    if (!t->easy) return fail_now(t->id, t->host_key, "curl_easy_init failed");
    if (auto problem = configure(*t)) return fail_now(t->id, t->host_key, *problem);
    CURL* easy = t->easy.get();
    t->started = steady::now();
    auto [it, inserted] = transfers_.emplace(easy, std::move(t));
    (void)inserted;
    if (auto code = curl_multi_add_handle(multi_.get(), easy); code != CURLM_OK) {
      uint64_t id = it->second->id;
      std::string host_key = std::move(it->second->host_key);
      transfers_.erase(it);
      fail_now(id, host_key, std::string{"curl_multi_add_handle: "} + curl_multi_strerror(code));
      return;
    }
    running_.store(transfers_.size(), std::memory_order_relaxed);
  }

  // Sets every option of a transfer; the reason on failure.
  std::optional<std::string> configure(transfer& t) {
    auto append = [&](const std::string& line) {
      // Returns the head of the list: new only for the first entry.
      curl_slist* head = curl_slist_append(t.headers.get(), line.c_str());
      if (!head) return false;
      if (head != t.headers.get()) t.headers.reset(head);
      return true;
    };
    bool has_content_type = false;
    for (const auto& [name, value] : t.request.headers) {
      has_content_type = has_content_type || iequals(name, "content-type");
      // "name;" is curl's way to send a header with an empty value ("name:" would remove it).
      if (!append(value.empty() ? name + ";" : name + ": " + value))
        return std::string{"out of memory building headers"};
    }
    if (!has_content_type && !append("Content-Type: application/json"))
      return std::string{"out of memory building headers"};
    if (!append("Expect:")) return std::string{"out of memory building headers"};

    CURL* e = t.easy.get();
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(e, option, value);
    };
    set(CURLOPT_PRIVATE, static_cast<void*>(&t));
    set(CURLOPT_ERRORBUFFER, t.error_buffer.data());
    set(CURLOPT_URL, t.request.url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_PROXY, "");  // never an environment proxy: the policy vets the real target
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDS, t.request.body.data());
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.request.body.size()));
    set(CURLOPT_HTTPHEADER, t.headers.get());
    set(CURLOPT_USERAGENT, settings_.user_agent.c_str());
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t.request.connect_timeout_ms));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(t.request.total_timeout_ms));
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_TCP_NODELAY, 1L);
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
    set(CURLOPT_OPENSOCKETFUNCTION, &on_open_socket);
    set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(&t));
    if (rc != CURLE_OK) return std::string{"curl_easy_setopt: "} + curl_easy_strerror(rc);
    return std::nullopt;
  }

  void collect_finished() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_.get(), &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      CURLcode code = message->data.result;  // `message` dies with remove_handle below
      finish(easy, code);
    }
    running_.store(transfers_.size(), std::memory_order_relaxed);
  }

  void finish(CURL* easy, CURLcode code) {
    curl_multi_remove_handle(multi_.get(), easy);
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) return;
    std::unique_ptr<transfer> t = std::move(it->second);
    transfers_.erase(it);
    running_.store(transfers_.size(), std::memory_order_relaxed);  // before the result is out
    http_response response = make_response(*t, code);
    note_outcome(t->host_key, response);
    release_slot(t->host_key);
    uint64_t id = t->id;
    recycle(std::move(t->easy));
    t.reset();
    on_done_(id, std::move(response));
  }

  // Keeps a finished transfer's handle for the next one: a new handle costs its buffers'
  // allocations (tens of KiB) on every transfer. curl_easy_reset clears every option, and so
  // every pointer into the finished transfer, and keeps the buffers.
  void recycle(easy_ptr easy) {
    if (!easy || spare_easy_.size() >= max_spare_easy) return;
    curl_easy_reset(easy.get());
    spare_easy_.push_back(std::move(easy));
  }

  static http_response make_response(transfer& t, CURLcode code) {
    http_response response;
    response.duration_ms = elapsed_ms(t.started);
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
      response.status_code = static_cast<int>(status);
      response.body_excerpt = std::move(t.body_excerpt);
      if (t.body_bytes > response.body_excerpt.size()) trim_partial_utf8(response.body_excerpt);
      response.retry_after = std::move(t.retry_after);
      response.location = std::move(t.location);
      return response;
    }
    response.error_kind = error_kind_of(code, !t.blocked.empty());
    if (response.error_kind == "blocked_by_policy") {
      response.error = "SSRF policy refused the connection: " + t.blocked;
    } else {
      response.error = curl_easy_strerror(code);
      if (t.error_buffer[0] != '\0') response.error += std::string{": "} + t.error_buffer.data();
    }
    return response;
  }

  curl_global global_;  // first in, last out
  http_client_settings settings_;
  completion_handler on_done_;
  multi_ptr multi_;
  std::mutex mutex_;
  std::vector<queued_request> incoming_;  // guarded by mutex_: submitted, not yet taken in
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> running_{0};
  std::atomic<uint64_t> queued_{0};
  // Curl thread only. Declared after multi_: gone before the multi handle is cleaned up.
  std::unordered_map<CURL*, std::unique_ptr<transfer>> transfers_;
  // Curl thread only: finished transfers' handles, reset, for the next transfers.
  static constexpr std::size_t max_spare_easy = 256;
  std::vector<easy_ptr> spare_easy_;
  // Curl thread only: the requests waiting to start, by host, and per priority the hosts that
  // may start one now (pointers into hosts_, whose nodes never move; a host leaves hosts_ only
  // when it is listed nowhere).
  std::unordered_map<std::string, host_queue> hosts_;
  // Curl thread only: timeouts in a row per host key, for hosts whose last transfer timed out.
  std::unordered_map<std::string, std::size_t> timeouts_in_a_row_;
  std::array<std::deque<host_queue*>, 3> ready_;
};

curl_engine::curl_engine(const http_client_settings& settings, completion_handler on_done)
    : core_(std::make_shared<core>(settings, std::move(on_done))) {
  // The thread holds the core too: if stop() runs on the curl thread itself (the completion
  // handler dropped the last reference to the facade), the thread finishes without a join.
  thread_ = std::thread([shared = core_] {
    pthread_setname_np(pthread_self(), "http_client");  // shows in top -H and gdb
    shared->run();
  });
}

curl_engine::~curl_engine() {
  stop();
}

void curl_engine::submit(uint64_t id, http_request request) {
  core_->submit(id, std::move(request));
}

void curl_engine::stop() {
  core_->request_stop();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id())
    thread_.detach();
  else
    thread_.join();
}

uint64_t curl_engine::running() const {
  return core_->running();
}

uint64_t curl_engine::queued() const {
  return core_->queued();
}

}  // namespace webhookd
