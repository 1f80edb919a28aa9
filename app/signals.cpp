#include "app/signals.hpp"

#include <cerrno>
#include <ctime>

namespace webhookd::app {

shutdown_signals::shutdown_signals() {
  ::sigemptyset(&set_);
  ::sigaddset(&set_, SIGTERM);
  ::sigaddset(&set_, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  ::signal(SIGPIPE, SIG_IGN);
}

shutdown_signals::~shutdown_signals() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

int shutdown_signals::wait_for(std::chrono::milliseconds timeout) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(timeout - secs).count());
  for (;;) {
    int sig = ::sigtimedwait(&set_, nullptr, &ts);
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;
    // EINTR: another signal's handler ran; wait again.
  }
}

const char* signal_name(int signal_number) {
  switch (signal_number) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "signal";
  }
}

}  // namespace webhookd::app
