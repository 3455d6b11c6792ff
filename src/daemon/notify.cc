#include "daemon/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>

#include "base/errno_status.h"
#include "base/time_util.h"

namespace cairn::daemon {
namespace {

std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

uint64_t MonotonicUsec() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

Notifier::Notifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  if (enabled_) socket_ = socket;
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or ours.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
  }
}

Status Notifier::Send(const std::string& state) const {
  if (!enabled_) return Status::OK();
  int r = sd_notify(0, state.c_str());
  if (r < 0) return ErrnoStatus(-r, "send a notification to systemd through", socket_);
  return Status::OK();
}

Status Notifier::Ready(std::string_view status) const {
  std::string state = "READY=1";
  if (!status.empty()) state += "\nSTATUS=" + OneLine(status);
  return Send(state);
}

Status Notifier::SetStatus(std::string_view status) const {
  return Send("STATUS=" + OneLine(status));
}

Status Notifier::Reloading() const {
  return Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(MonotonicUsec()));
}

Status Notifier::Stopping(std::string_view status) const {
  std::string state = "STOPPING=1";
  if (!status.empty()) state += "\nSTATUS=" + OneLine(status);
  return Send(state);
}

Status Notifier::Ping() const { return Send("WATCHDOG=1"); }

Status Notifier::ExtendTimeout(std::chrono::microseconds more) const {
  return Send("EXTEND_TIMEOUT_USEC=" + std::to_string(more.count()));
}

// ---------------------------------------------------------------------------

Watchdog::Watchdog(const Notifier& notifier, std::function<bool()> healthy)
    : notifier_(notifier), healthy_(std::move(healthy)) {
  if (notifier_.watchdog_interval()) {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }
}

Watchdog::~Watchdog() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void Watchdog::Run(std::stop_token stop) {
  auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      notifier_.watchdog_interval().value_or(std::chrono::seconds(1)));
  if (interval < std::chrono::milliseconds(1)) interval = std::chrono::milliseconds(1);
  do {
    // A failed send (the manager went away) is not this thread's to report:
    // the next one is tried all the same.
    if (!healthy_ || healthy_()) (void)notifier_.Ping();
  } while (SleepUnlessStopped(stop, interval));
}

}  // namespace cairn::daemon
