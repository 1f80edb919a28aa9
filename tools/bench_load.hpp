#pragma once

// The benchmark's load generator: HTTP POSTs over keep-alive connections, all on the calling
// thread. Two clients: raw sockets on epoll (the default: HTTP/1.1 with Content-Length, the
// cheapest client, so the generator takes as little as it can of the CPU it shares with the
// system under test), and one libcurl multi handle (what webhookd's own deliveries use, for the
// outbound ceiling).
//
// Two models:
// - open (rate > 0): request i is due at start + i / rate whatever happened before it; a request
//   that cannot start on time (every connection busy) starts late, and its latency still counts
//   from the time it was due. So queueing in the client is charged to the system under test and
//   coordinated omission cannot hide it.
// - closed (rate == 0): every connection sends its next request as soon as the previous answer
//   came (the maximum rate); latency counts from the actual send.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace webhookd::bench {

/// One request the generator sends.
struct prepared_request {
  std::string path;  ///< "/api/v1/events"
  std::string body;
  std::vector<std::string> headers;  ///< "Name: value" lines besides Content-Type
  int events = 1;                    ///< events it carries (for events/s)
};

/// Builds request number `seq`; `due_unix_us` is when it is (or was) due, in unix microseconds;
/// `measured` is false during the warm-up.
using request_factory =
    std::function<prepared_request(int64_t seq, int64_t due_unix_us, bool measured)>;

/// What the progress callback sees, about every 500 ms.
struct load_progress {
  double elapsed_s = 0;
  int64_t sent = 0;
  int64_t completed = 0;
  int64_t ok = 0;  ///< 2xx answers
  int in_flight = 0;
};

/// Which client sends the requests.
enum class load_client {
  raw,   ///< raw sockets on epoll; answers must carry Content-Length (not chunked)
  curl,  ///< libcurl multi, as webhookd's HTTP client
};

struct load_settings {
  std::string base_url;  ///< "http://HOST:PORT" (raw: HOST is an IPv4 or IPv6 address or a name)
  load_client client = load_client::raw;
  int connections = 32;  ///< most requests in flight at once (one keep-alive connection each)
  double rate = 0;       ///< requests per second; 0 = closed model
  /// Load before the measurement starts (connections opened, caches warm); its requests are
  /// sent like the others but left out of every figure.
  std::chrono::milliseconds warmup{500};
  std::chrono::milliseconds duration{5'000};        ///< how long measured requests are started
  std::chrono::milliseconds drain_timeout{30'000};  ///< how long to wait for the last answers
  std::chrono::milliseconds request_timeout{30'000};
  std::function<void(const load_progress&)> on_progress;  ///< may be empty
};

struct load_result {
  int64_t sent = 0;
  int64_t ok = 0;                    ///< 2xx
  int64_t failed = 0;                ///< non-2xx answers and transport errors
  int64_t abandoned = 0;             ///< still in flight at the drain timeout
  int64_t events_ok = 0;             ///< events carried by 2xx answers
  int64_t warmup_events_ok = 0;      ///< events carried by 2xx answers to warm-up requests
  std::map<int, int64_t> statuses;   ///< answer status -> count (0 = transport error)
  std::string first_error;           ///< a transport error or non-2xx status, for messages
  std::vector<double> latency_ms;    ///< per 2xx answer (open model: from the due time)
  std::vector<double> latency_at_s;  ///< per 2xx answer: its start (due) time, s after warm-up
  double elapsed_s = 0;              ///< end of the warm-up to the last measured answer
  double late_start_ms_max = 0;      ///< open model: the longest a request waited to start
};

/// Runs one load phase; blocks until it ends. Throws std::runtime_error if the client can't
/// start (libcurl, epoll, the base URL's address, or no connection).
load_result run_load(const load_settings& settings, const request_factory& make);

/// The p-th percentile (0..100) of `values` (sorted in place), nearest-rank; 0 when empty.
double percentile(std::vector<double>& values, double p);

/// Unix time in microseconds.
int64_t unix_now_us();

}  // namespace webhookd::bench
