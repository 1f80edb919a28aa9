#pragma once

#include <signal.h>

#include <chrono>

namespace webhookd::app {

/// Turns SIGTERM and SIGINT into values the main thread waits for, instead of asynchronous
/// handlers. The constructor blocks both signals in the calling thread, so construct it before
/// any thread is started: threads inherit the mask and the signals stay pending for wait_for().
/// SIGPIPE is ignored (a peer closing a socket is an error value, not a process kill).
class shutdown_signals {
public:
  shutdown_signals();
  /// Restores the previous signal mask of the calling thread.
  ~shutdown_signals();

  shutdown_signals(const shutdown_signals&) = delete;
  shutdown_signals& operator=(const shutdown_signals&) = delete;

  /// Waits up to `timeout` for SIGTERM or SIGINT; returns the signal number, or 0 on timeout.
  int wait_for(std::chrono::milliseconds timeout);

private:
  sigset_t set_;
  sigset_t previous_;
};

/// "SIGTERM", "SIGINT", or "signal" for any other number.
const char* signal_name(int signal_number);

}  // namespace webhookd::app
