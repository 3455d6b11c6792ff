// The systemd notification protocol (sd_notify, through libsystemd) for a
// Type=notify service: READY=1 once the daemon serves, STATUS=... for
// `systemctl status`, RELOADING=1 around a settings reload, STOPPING=1 on the
// way out, and WATCHDOG=1 keep-alives when the unit sets WatchdogSec=.
//
// Everything is a no-op returning OK when NOTIFY_SOCKET is unset (cairn run
// in a terminal, in Docker, or under another supervisor), so callers never
// branch on it.
//
// REQUIRES: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are not changed
// while a Notifier exists (they are read when it is made and by each send).
// Thread-safety: Notifier's methods may be called from any thread; Watchdog
// is made and destroyed by one thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"

namespace cairn::daemon {

class Notifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
  Notifier();

  // Whether a service manager listens (NOTIFY_SOCKET is set).
  bool enabled() const { return enabled_; }
  // Half of WATCHDOG_USEC when the manager expects keep-alives from this
  // process (WATCHDOG_PID unset or ours); nullopt otherwise. systemd's
  // advice: ping at half the timeout.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

  // READY=1, with STATUS= when `status` is not empty. Send it once the
  // daemon serves (watches added, status socket listening), not before.
  Status Ready(std::string_view status = {}) const;
  // STATUS=<one line>: newlines become spaces.
  Status SetStatus(std::string_view status) const;
  // RELOADING=1 with MONOTONIC_USEC; send Ready() when the reload is done
  // (or refused).
  Status Reloading() const;
  // STOPPING=1, with STATUS= when given.
  Status Stopping(std::string_view status = {}) const;
  // WATCHDOG=1. Harmless when no watchdog is configured.
  Status Ping() const;
  // EXTEND_TIMEOUT_USEC: asks for `more` time for a slow start or stop (a
  // catch-up pass, the last checkpoint of a big backup).
  Status ExtendTimeout(std::chrono::microseconds more) const;

 private:
  Status Send(const std::string& state) const;

  bool enabled_ = false;
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_interval_;
};

// Sends WATCHDOG=1 every notifier.watchdog_interval() from a thread of its
// own, as long as `healthy()` says the daemon is alive (e.g. its main loop
// turned recently, or a running job reported progress recently). When it is
// not, pings stop and systemd kills and restarts the service after
// WatchdogSec: a hung daemon is worse than a restarted one. Makes no thread
// when the manager expects no keep-alives. `healthy` is called from that
// thread and must be thread-safe and quick.
// REQUIRES: `notifier` outlives the Watchdog.
class Watchdog {
 public:
  Watchdog(const Notifier& notifier, std::function<bool()> healthy);
  ~Watchdog();  // stops the thread (at once, not after a period)
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  bool running() const { return thread_.joinable(); }

 private:
  void Run(std::stop_token stop);

  const Notifier& notifier_;
  std::function<bool()> healthy_;
  std::jthread thread_;
};

}  // namespace cairn::daemon
