// webhookd-sink: a fast HTTP receiver that records and checks webhook deliveries, for webhookd's
// end-to-end tests and benchmarks. Usage in docs/sink.md.

#include "sink_server.hpp"
#include "sink_verify.hpp"

#include <pthread.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

/// Splits "HOST:PORT" or "[V6]:PORT"; nullopt if malformed.
std::optional<std::pair<std::string, int>> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (port < 0 || port > 65535 || host.empty()) return std::nullopt;
  return std::make_pair(host, port);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"webhookd-sink: records and verifies webhook deliveries (see docs/sink.md)"};
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> secrets;
  webhookd::sink::server_settings settings;
  app.add_option("--listen", listen, "HOST:PORT to listen on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--secret", secrets,
                 "whsec_ secret checked on every path without its own (repeatable: rotation)");
  app.add_option("--threads", settings.threads,
                 "event-loop threads (each serves any number of connections)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--keep", settings.keep,
                 "recorded deliveries kept (oldest dropped; counts stay exact); 0 = none")
      ->capture_default_str();
  app.add_option("--timeout", settings.timeout_s,
                 "seconds a connection may stay idle, or a request stall, before it is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  CLI11_PARSE(app, argc, argv);

  const auto address = parse_listen(listen);
  if (!address) {
    std::cerr << "webhookd-sink: --listen must be HOST:PORT, got \"" << listen << "\"\n";
    return 2;
  }
  settings.host = address->first;
  settings.port = address->second;
  for (const auto& secret : secrets) {
    auto key = webhookd::sink::decode_secret(secret);
    if (!key) {
      std::cerr << "webhookd-sink: --secret must be whsec_<base64>\n";
      return 2;
    }
    settings.keys.push_back(std::move(*key));
  }

  // A client that gave up (hang, timeout) makes our writes fail: that must not kill the sink.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGINT/SIGTERM are taken by one thread with sigwait(): block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string shown_host =
      settings.host.find(':') != std::string::npos ? "[" + settings.host + "]" : settings.host;
  webhookd::sink::sink_server server(std::move(settings));
  const auto bound = server.bind();
  if (const auto* error = std::get_if<std::string>(&bound)) {
    std::cerr << "webhookd-sink: " << *error << "\n";
    return 1;
  }

  std::thread signal_thread([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    server.stop();  // answers held requests and closes idle keep-alive connections at once
  });

  std::cout << "listening on http://" << shown_host << ":" << std::get<int>(bound) << std::endl;
  const bool ok = server.serve_blocking();
  // Wake the signal thread if serving ended on its own.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (!ok) {
    std::cerr << "webhookd-sink: serving failed\n";
    return 1;
  }
  return 0;
}
