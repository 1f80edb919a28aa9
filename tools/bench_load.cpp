#include "bench_load.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace webhookd::bench {

namespace {

using steady = std::chrono::steady_clock;

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

// One connection's worth of state: an easy handle and the request it is sending.
struct slot {
  std::unique_ptr<CURL, easy_deleter> easy;
  std::unique_ptr<curl_slist, slist_deleter> headers;
  prepared_request request;
  std::string url;
  steady::time_point measured_from;
  bool busy = false;
  bool measured = false;
};

double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

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
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!curl_ready) throw std::runtime_error("bench: curl_global_init failed");
  std::unique_ptr<CURLM, multi_deleter> multi(curl_multi_init());
  if (!multi) throw std::runtime_error("bench: curl_multi_init failed");
  const int connections = std::max(1, settings.connections);
  curl_multi_setopt(multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(connections));
  curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(connections));

  std::vector<slot> slots(static_cast<std::size_t>(connections));
  std::vector<std::size_t> free_slots;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].easy.reset(curl_easy_init());
    if (!slots[i].easy) throw std::runtime_error("bench: curl_easy_init failed");
    free_slots.push_back(slots.size() - 1 - i);
  }

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

  auto issue = [&](steady::time_point due, steady::time_point now) {
    std::size_t index = free_slots.back();
    free_slots.pop_back();
    slot& s = slots[index];
    int64_t due_unix_us =
        start_unix_us + std::chrono::duration_cast<std::chrono::microseconds>(due - start).count();
    s.measured = due >= measure_from;
    s.request = make(next_seq++, due_unix_us, s.measured);
    s.url = settings.base_url + s.request.path;
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for big bodies
    for (const auto& line : s.request.headers) list = curl_slist_append(list, line.c_str());
    s.headers.reset(list);
    CURL* e = s.easy.get();
    curl_easy_setopt(e, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s.request.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(s.request.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.headers.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(settings.request_timeout.count()));
    curl_easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<char*>(&s));
    s.measured_from = open ? due : now;
    if (open && s.measured) {
      result.late_start_ms_max = std::max(result.late_start_ms_max, ms_between(due, now));
    }
    s.busy = true;
    curl_multi_add_handle(multi.get(), e);
    ++in_flight;
    if (s.measured) ++result.sent;
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

    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* e = msg->easy_handle;
      char* pointer = nullptr;
      curl_easy_getinfo(e, CURLINFO_PRIVATE, &pointer);
      slot& s = *reinterpret_cast<slot*>(pointer);
      auto done = steady::now();
      long status = 0;
      if (msg->data.result == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
      if (s.measured) {
        ++result.statuses[static_cast<int>(status)];
        if (status >= 200 && status < 300) {
          ++result.ok;
          result.events_ok += s.request.events;
          result.latency_ms.push_back(ms_between(s.measured_from, done));
          result.latency_at_s.push_back(ms_between(measure_from, s.measured_from) / 1000.0);
        } else {
          ++result.failed;
          if (result.first_error.empty()) {
            result.first_error = status == 0 ? curl_easy_strerror(msg->data.result)
                                             : "HTTP " + std::to_string(status);
          }
        }
      }
      if (!s.measured && status >= 200 && status < 300) result.warmup_events_ok += s.request.events;
      if (s.measured) last_answer = done;
      curl_multi_remove_handle(multi.get(), e);
      s.busy = false;
      --in_flight;
      free_slots.push_back(static_cast<std::size_t>(&s - slots.data()));
    }

    now = steady::now();
    if (settings.on_progress && now >= next_progress) {
      next_progress = now + std::chrono::milliseconds(500);
      settings.on_progress(load_progress{std::chrono::duration<double>(now - start).count(),
                                         result.sent, result.ok + result.failed, result.ok,
                                         in_flight});
    }
    // Sleep in curl until an answer arrives or the next request is due (rounded up to whole
    // milliseconds: a late start is charged to the latency, never hidden).
    int wait_ms = 5;
    if (open && issuing && !free_slots.empty()) {
      auto until_due =
          std::chrono::duration_cast<std::chrono::microseconds>(due_of(next_seq) - now).count();
      wait_ms =
          until_due <= 0 ? 0 : static_cast<int>(std::min<int64_t>((until_due + 999) / 1000, 5));
    } else if (!open && issuing && !free_slots.empty()) {
      wait_ms = 0;
    }
    if (wait_ms > 0) curl_multi_poll(multi.get(), nullptr, 0, wait_ms, nullptr);
  }
  for (auto& s : slots) {
    if (s.busy) curl_multi_remove_handle(multi.get(), s.easy.get());
  }
  result.elapsed_s = std::chrono::duration<double>(last_answer - measure_from).count();
  return result;
}

}  // namespace webhookd::bench
