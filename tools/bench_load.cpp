#include "bench_load.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace webhookd::bench {

namespace {

using steady = std::chrono::steady_clock;

double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// A request that ended: its slot, the answer's status (0 = no answer) and why not.
struct completion {
  std::size_t slot = 0;
  int status = 0;
  std::string error;  ///< when status is 0
};

/// Sends requests, one at a time per slot (a keep-alive connection), and reports them done.
class transport {
 public:
  virtual ~transport() = default;
  /// Starts `r` on `slot`, which has nothing in flight; `r` stays valid until the request ends.
  virtual void send(std::size_t slot, const prepared_request& r) = 0;
  /// Appends the requests that ended to `done`, waiting until `until` at most for one to end.
  virtual void wait(steady::time_point until, std::vector<completion>& done) = 0;
};

// --- libcurl multi ------------------------------------------------------------------------------

struct multi_deleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct easy_deleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct slist_deleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t discard_body(char*, size_t size, size_t count, void*) {
  return size * count;
}

class curl_transport final : public transport {
 public:
  curl_transport(const load_settings& settings, std::size_t slots) : settings_(settings) {
    static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!curl_ready) throw std::runtime_error("bench: curl_global_init failed");
    multi_.reset(curl_multi_init());
    if (!multi_) throw std::runtime_error("bench: curl_multi_init failed");
    curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(slots));
    curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(slots));
    slots_.resize(slots);
    for (auto& s : slots_) {
      s.easy.reset(curl_easy_init());
      if (!s.easy) throw std::runtime_error("bench: curl_easy_init failed");
    }
  }

  ~curl_transport() override {
    for (auto& s : slots_)
      if (s.busy) curl_multi_remove_handle(multi_.get(), s.easy.get());
  }

  void send(std::size_t index, const prepared_request& r) override {
    slot& s = slots_[index];
    s.url = settings_.base_url + r.path;
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for big bodies
    for (const auto& line : r.headers) list = curl_slist_append(list, line.c_str());
    s.headers.reset(list);
    CURL* e = s.easy.get();
    curl_easy_setopt(e, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.headers.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.request_timeout.count()));
    curl_easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<char*>(index));
    s.busy = true;
    curl_multi_add_handle(multi_.get(), e);
  }

  void wait(steady::time_point until, std::vector<completion>& done) override {
    collect(done);
    if (!done.empty()) return;
    // Rounded up to whole milliseconds: a late start is charged to the latency, never hidden.
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - steady::now());
    int wait_ms = static_cast<int>(std::clamp<int64_t>((left.count() + 999) / 1000, 0, 5));
    if (wait_ms > 0) curl_multi_poll(multi_.get(), nullptr, 0, wait_ms, nullptr);
    collect(done);
  }

 private:
  struct slot {
    std::unique_ptr<CURL, easy_deleter> easy;
    std::unique_ptr<curl_slist, slist_deleter> headers;
    std::string url;
    bool busy = false;
  };

  void collect(std::vector<completion>& done) {
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* e = msg->easy_handle;
      char* pointer = nullptr;
      curl_easy_getinfo(e, CURLINFO_PRIVATE, &pointer);
      completion c;
      c.slot = reinterpret_cast<std::size_t>(pointer);
      long status = 0;
      if (msg->data.result == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        c.status = static_cast<int>(status);
      } else {
        c.error = curl_easy_strerror(msg->data.result);
      }
      curl_multi_remove_handle(multi_.get(), e);
      slots_[c.slot].busy = false;
      done.push_back(std::move(c));
    }
  }

  const load_settings& settings_;
  std::unique_ptr<CURLM, multi_deleter> multi_;
  std::vector<slot> slots_;
};

// --- raw sockets on epoll -----------------------------------------------------------------------

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

/// The head of an HTTP/1.x answer.
struct answer_head {
  int status = 0;
  std::size_t head_bytes = 0;  ///< through the blank line
  std::size_t content_length = 0;
  bool close = false;   ///< Connection: close
  std::string problem;  ///< why the answer can't be read (then the connection is dropped)
};

/// Parses the head at the start of `in`; nullopt while it is incomplete.
std::optional<answer_head> parse_head(std::string_view in) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  answer_head head;
  head.head_bytes = end + 4;
  std::string_view rest = in.substr(0, end + 2);
  auto line_end = rest.find("\r\n");
  std::string_view status_line = rest.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1.") {
    head.problem = "not an HTTP/1.x answer";
    return head;
  }
  head.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  bool has_length = false;
  rest.remove_prefix(line_end + 2);
  while (!rest.empty()) {
    line_end = rest.find("\r\n");
    std::string_view line = rest.substr(0, line_end);
    rest.remove_prefix(line_end + 2);
    auto value_of = [&](std::string_view name) {
      std::string_view v = line.substr(name.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      return v;
    };
    if (iequals_prefix(line, "content-length:")) {
      head.content_length = static_cast<std::size_t>(
          std::strtoull(std::string(value_of("content-length:")).c_str(), nullptr, 10));
      has_length = true;
    } else if (iequals_prefix(line, "connection:")) {
      std::string_view v = value_of("connection:");
      head.close = v.size() >= 5 && iequals_prefix(v, "close");
    } else if (iequals_prefix(line, "transfer-encoding:")) {
      head.problem = "chunked answers are not supported by the raw client";
    }
  }
  if (!has_length && head.problem.empty() && head.status != 204 && head.status != 304)
    head.problem = "an answer without Content-Length";
  return head;
}

class raw_transport final : public transport {
 public:
  raw_transport(const load_settings& settings, std::size_t slots)
      : settings_(settings), conns_(slots) {
    resolve(settings.base_url);
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0)
      throw std::runtime_error(std::string("bench: epoll_create1: ") + std::strerror(errno));
    // Open every connection up front, as the warm-up expects, and wait for them.
    std::optional<std::string> problem;
    for (std::size_t i = 0; i < conns_.size() && !problem; ++i) problem = connect_slot(i);
    auto until = steady::now() + settings.request_timeout;
    while (!problem &&
           std::any_of(conns_.begin(), conns_.end(), [](const conn& c) { return c.connecting; })) {
      if (steady::now() >= until) problem = "no connection within the request timeout";
      epoll_event events[64];
      int n = wait_events(events, 64, until);
      for (int i = 0; i < n && !problem; ++i)
        problem = finish_connect(static_cast<std::size_t>(events[i].data.u64));
    }
    if (problem) {
      close_all();
      throw std::runtime_error("bench: cannot connect to " + settings.base_url + ": " + *problem);
    }
  }

  ~raw_transport() override { close_all(); }

  void send(std::size_t index, const prepared_request& r) override {
    conn& c = conns_[index];
    c.out.clear();
    c.out.append("POST ").append(r.path).append(" HTTP/1.1\r\nHost: ").append(host_header_);
    c.out.append("\r\nContent-Type: application/json\r\nContent-Length: ");
    c.out.append(std::to_string(r.body.size())).append("\r\n");
    for (const auto& line : r.headers) c.out.append(line).append("\r\n");
    c.out.append("\r\n").append(r.body);
    c.sent = 0;
    c.in.clear();
    c.busy = true;
    c.started = steady::now();
    if (c.fd < 0) {
      if (auto problem = connect_slot(index)) return fail_later(index, *problem);
    }
    if (!c.connecting) flush(index);  // else once connected
  }

  void wait(steady::time_point until, std::vector<completion>& done) override {
    take_failed(done);
    expire(done);
    if (!done.empty()) until = steady::now();
    epoll_event events[64];
    int n = wait_events(events, 64, until);
    for (int i = 0; i < n; ++i) {
      auto index = static_cast<std::size_t>(events[i].data.u64);
      if (conns_[index].connecting) {
        if (auto problem = finish_connect(index)) fail_later(index, *problem);
        continue;
      }
      if (events[i].events & EPOLLOUT) flush(index);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read(index, done);
    }
    take_failed(done);
  }

 private:
  struct conn {
    int fd = -1;
    std::string out;
    std::size_t sent = 0;
    std::string in;
    bool busy = false;
    bool want_out = false;
    bool connecting = false;  // a non-blocking connect not yet finished
    steady::time_point started;
  };

  void resolve(const std::string& base_url) {
    const std::string scheme = "http://";
    if (base_url.compare(0, scheme.size(), scheme) != 0)
      throw std::runtime_error("bench: the raw client takes http:// URLs, not " + base_url);
    std::string authority = base_url.substr(scheme.size());
    if (auto slash = authority.find('/'); slash != std::string::npos) authority.resize(slash);
    auto colon = authority.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("bench: no port in " + base_url);
    std::string host = authority.substr(0, colon);
    std::string port = authority.substr(colon + 1);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    host_header_ = authority;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
      throw std::runtime_error("bench: cannot resolve " + host + ": " + ::gai_strerror(rc));
    std::memcpy(&address_, found->ai_addr, found->ai_addrlen);
    address_len_ = found->ai_addrlen;
    family_ = found->ai_family;
    ::freeaddrinfo(found);
  }

  /// Starts connecting slot `index` (non-blocking: a connect that waits, e.g. for a SYN
  /// retransmit when the server's accept queue is full, must not stop the other connections);
  /// the reason on failure.
  std::optional<std::string> connect_slot(std::size_t index) {
    conn& c = conns_[index];
    int fd = ::socket(family_, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bool pending = false;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address_), address_len_) != 0) {
      if (errno != EINPROGRESS) {
        std::string problem = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return problem;
      }
      pending = true;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | (pending ? EPOLLOUT : 0u);
    ev.data.u64 = index;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    c.fd = fd;
    c.want_out = pending;
    c.connecting = pending;
    return std::nullopt;
  }

  /// Ends a pending connect of slot `index` once its socket reports; sends what waits for it.
  std::optional<std::string> finish_connect(std::size_t index) {
    conn& c = conns_[index];
    if (!c.connecting) return std::nullopt;
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) return std::string("connect: ") + std::strerror(error);
    c.connecting = false;
    if (c.busy) {
      flush(index);
    } else {
      set_want_out(index, false);
    }
    return std::nullopt;
  }

  void close_all() {
    for (std::size_t i = 0; i < conns_.size(); ++i) drop(i);
    if (epoll_ >= 0) ::close(epoll_);
    epoll_ = -1;
  }

  void drop(std::size_t index) {
    conn& c = conns_[index];
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.connecting = false;
    c.in.clear();
  }

  void take_failed(std::vector<completion>& done) {
    done.insert(done.end(), std::make_move_iterator(failed_.begin()),
                std::make_move_iterator(failed_.end()));
    failed_.clear();
  }

  void fail_later(std::size_t index, std::string error) {
    drop(index);
    conns_[index].busy = false;
    failed_.push_back(completion{index, 0, std::move(error)});
  }

  void set_want_out(std::size_t index, bool want) {
    conn& c = conns_[index];
    if (c.want_out == want || c.fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = index;
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = want;
  }

  void flush(std::size_t index) {
    conn& c = conns_[index];
    while (c.busy && c.sent < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_want_out(index, true);
        return;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return fail_later(index, std::string("send: ") + std::strerror(errno));
      }
    }
    set_want_out(index, false);
  }

  void read(std::size_t index, std::vector<completion>& done) {
    conn& c = conns_[index];
    if (c.fd < 0) return;
    char buffer[16384];
    std::optional<std::string> ended;  // the server closed (or broke) the connection
    for (;;) {
      ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.in.append(buffer, static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        ended = n == 0 ? std::string("the server closed the connection")
                       : std::string("recv: ") + std::strerror(errno);
        break;
      }
    }
    // An answer may come with the close right behind it: read it first.
    if (c.busy) {
      if (auto head = parse_head(c.in)) {
        if (!head->problem.empty()) return fail_later(index, head->problem);
        if (c.in.size() >= head->head_bytes + head->content_length) {
          c.busy = false;
          c.in.erase(0, head->head_bytes + head->content_length);
          done.push_back(completion{index, head->status, {}});
          if (head->close) ended = "";
        }
      }
    }
    if (!ended) return;
    if (c.busy) return fail_later(index, *ended);
    drop(index);
  }

  void expire(std::vector<completion>& done) {
    auto now = steady::now();
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      conn& c = conns_[i];
      if (!c.busy || now - c.started < settings_.request_timeout) continue;
      drop(i);
      c.busy = false;
      done.push_back(completion{i, 0, "no answer within the request timeout"});
    }
  }

  /// epoll_pwait2 where the kernel has it (a wake-up on time to the microsecond); otherwise
  /// epoll_wait with the wait rounded up to whole milliseconds (late, never early).
  int wait_events(epoll_event* events, int max, steady::time_point until) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(until - steady::now());
    if (left.count() < 0) left = std::chrono::nanoseconds(0);
    left = std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(5));
    if (has_pwait2_) {
      timespec ts{static_cast<time_t>(left.count() / 1'000'000'000),
                  static_cast<long>(left.count() % 1'000'000'000)};
      int n = ::epoll_pwait2(epoll_, events, max, &ts, nullptr);
      if (n >= 0 || errno == EINTR) return std::max(n, 0);
      if (errno != ENOSYS) return 0;
      has_pwait2_ = false;
    }
    int ms = static_cast<int>((left.count() + 999'999) / 1'000'000);
    return std::max(::epoll_wait(epoll_, events, max, ms), 0);
  }

  const load_settings& settings_;
  std::vector<conn> conns_;
  std::vector<completion> failed_;  // ended without an answer, reported by the next wait
  sockaddr_storage address_{};
  socklen_t address_len_ = 0;
  int family_ = AF_INET;
  std::string host_header_;
  int epoll_ = -1;
  bool has_pwait2_ = true;
};

std::unique_ptr<transport> make_transport(const load_settings& settings, std::size_t slots) {
  if (settings.client == load_client::curl)
    return std::make_unique<curl_transport>(settings, slots);
  return std::make_unique<raw_transport>(settings, slots);
}

/// What one slot is sending.
struct slot {
  prepared_request request;
  steady::time_point measured_from;
  bool measured = false;
};

}  // namespace

int64_t unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  return values[rank - 1];
}

load_result run_load(const load_settings& settings, const request_factory& make) {
  const auto connections = static_cast<std::size_t>(std::max(1, settings.connections));
  std::unique_ptr<transport> client = make_transport(settings, connections);
  std::vector<slot> slots(connections);
  std::vector<std::size_t> free_slots;
  for (std::size_t i = 0; i < slots.size(); ++i) free_slots.push_back(slots.size() - 1 - i);

  load_result result;
  const bool open = settings.rate > 0;
  const auto start = steady::now();
  const int64_t start_unix_us = unix_now_us();
  const auto measure_from = start + settings.warmup;
  const auto stop_issuing = measure_from + settings.duration;
  const auto give_up = stop_issuing + settings.drain_timeout;
  auto due_of = [&](int64_t seq) {
    return start + std::chrono::duration_cast<steady::duration>(
                       std::chrono::duration<double>(static_cast<double>(seq) / settings.rate));
  };
  int64_t next_seq = 0;
  int in_flight = 0;
  auto last_answer = measure_from;
  auto next_progress = start + std::chrono::milliseconds(500);
  std::vector<completion> done;

  auto issue = [&](steady::time_point due, steady::time_point now) {
    std::size_t index = free_slots.back();
    free_slots.pop_back();
    slot& s = slots[index];
    int64_t due_unix_us =
        start_unix_us + std::chrono::duration_cast<std::chrono::microseconds>(due - start).count();
    s.measured = due >= measure_from;
    s.request = make(next_seq++, due_unix_us, s.measured);
    s.measured_from = open ? due : now;
    if (open && s.measured) {
      result.late_start_ms_max = std::max(result.late_start_ms_max, ms_between(due, now));
    }
    ++in_flight;
    if (s.measured) ++result.sent;
    client->send(index, s.request);
  };

  for (;;) {
    auto now = steady::now();
    bool issuing = now < stop_issuing;
    if (issuing) {
      if (open) {
        while (!free_slots.empty()) {
          auto due = due_of(next_seq);
          if (due > now || due >= stop_issuing) break;
          issue(due, now);
        }
      } else {
        while (!free_slots.empty()) issue(now, now);
      }
    }
    if (!issuing && in_flight == 0) break;
    if (now >= give_up) {
      result.abandoned = in_flight;
      break;
    }

    // Wait for an answer, or until the next request is due.
    auto until = now + std::chrono::milliseconds(5);
    if (open && issuing && !free_slots.empty()) until = std::min(until, due_of(next_seq));
    done.clear();
    client->wait(until, done);
    for (auto& c : done) {
      slot& s = slots[c.slot];
      auto finished = steady::now();
      if (s.measured) {
        ++result.statuses[c.status];
        if (c.status >= 200 && c.status < 300) {
          ++result.ok;
          result.events_ok += s.request.events;
          result.latency_ms.push_back(ms_between(s.measured_from, finished));
          result.latency_at_s.push_back(ms_between(measure_from, s.measured_from) / 1000.0);
        } else {
          ++result.failed;
          if (result.first_error.empty())
            result.first_error = c.status == 0 ? c.error : "HTTP " + std::to_string(c.status);
        }
        last_answer = finished;
      } else if (c.status >= 200 && c.status < 300) {
        result.warmup_events_ok += s.request.events;
      }
      --in_flight;
      free_slots.push_back(c.slot);
    }

    now = steady::now();
    if (settings.on_progress && now >= next_progress) {
      next_progress = now + std::chrono::milliseconds(500);
      settings.on_progress(load_progress{std::chrono::duration<double>(now - start).count(),
                                         result.sent, result.ok + result.failed, result.ok,
                                         in_flight});
    }
  }
  result.elapsed_s = std::chrono::duration<double>(last_answer - measure_from).count();
  return result;
}

}  // namespace webhookd::bench
