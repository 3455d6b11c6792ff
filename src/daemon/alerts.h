// Alerts: telling someone when backups stop working, since nobody reads logs
// until it is too late.
//
// AlertSink delivers an Alert to what the user configured: a command
// (alerts.command), run with the event in its environment, and a webhook
// (alerts.webhook_url), which receives it as a JSON POST. FailureWatch and
// StaleWatch decide when the daemon raises one: on a failed backup run (not
// on every retry of the same outage) and when no backup has succeeded for a
// while (once per period, not every minute).
//
// Secrets: the message goes through the Redactor (log.h) before it leaves
// the process; the command's environment is the daemon's without its
// secrets (CAIRN_PASSWORD, BACKUP_ENCRYPTION_KEY,
// AZURE_STORAGE_CONNECTION_STRING) and without systemd's per-process
// variables (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*); the webhook URL, which
// usually holds a token, is never put in a message (only its host) and is
// registered with the Redactor.
//
// Thread-safety: AlertSink::Fire may be called from several threads.
// FailureWatch and StaleWatch are not thread-safe (one scheduler owns each).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time_util.h"

namespace cairn::daemon {

class Redactor;

enum class AlertEvent {
  kBackupFailed,         // a backup run failed
  kStale,                // no backup succeeded for alerts.stale_after_hours
  kRecovered,            // a backup succeeded after one of the above had fired
  kTest,                 // sent on request, to check the set-up
  kRestoreSampleFailed,  // the daily restore sample found versions that do not restore
};
// "backup_failed", "stale", "recovered", "test", "restore_sample_failed":
// CAIRN_ALERT_EVENT and the JSON's "event".
std::string_view AlertEventName(AlertEvent event);

struct Alert {
  AlertEvent event = AlertEvent::kTest;
  std::string message;                 // for people: what happened and what to do
  std::string device;                  // the device id whose backups this is about
  std::string repository;              // its location (a path or azure://container/prefix)
  TimeNs time = 0;                     // when it was raised
  std::optional<TimeNs> last_success;  // the newest successful backup, if any
};

struct AlertOptions {
  // An argv (config::Settings::alert_command); empty: no command. argv[0]
  // without a '/' is looked up in $PATH.
  std::vector<std::string> command;
  std::string webhook_url;  // http:// or https://; "": none
  // For the command (then it is killed, with its process group), and for
  // each webhook request.
  std::chrono::milliseconds timeout{30000};
  // Between the webhook's first and second (last) try.
  std::chrono::milliseconds retry_delay{2000};
  // Masks the message and the command's output; nullptr: only the built-in
  // shapes of log.h are masked (a private Redactor is used).
  std::shared_ptr<Redactor> redactor;
  std::string host;  // CAIRN_ALERT_HOST / "host"; "": gethostname()
};

class AlertSink {
 public:
  // InvalidArgument for a webhook URL that is not http(s), an empty argv[0],
  // or a timeout under 1 ms.
  static Result<std::unique_ptr<AlertSink>> Create(AlertOptions options);
  ~AlertSink();

  // Whether a command or a webhook is configured (else Fire does nothing).
  bool enabled() const;

  // Runs the command and posts to the webhook (both, even when the first
  // fails), and blocks until both are done: at most about
  // 3 x timeout + retry_delay. OK when every configured target took the
  // alert; else the first failure, naming the target and the reason (the
  // command's exit status and last output, the HTTP status, ...). The
  // webhook is tried a second time after a transport error, HTTP 429 or
  // 5xx. A stop request ends the wait at once (the command is killed) with
  // Cancelled.
  // REQUIRES: SIGCHLD is not ignored (the command is waited for), and no
  // thread changes the process environment meanwhile (it is copied).
  Status Fire(const Alert& alert, std::stop_token stop = {});

 private:
  explicit AlertSink(AlertOptions options);
  Status RunCommand(const Alert& alert, std::stop_token stop);
  Status PostWebhook(const std::string& body, std::stop_token stop);

  AlertOptions options_;
  std::string webhook_host_;  // for messages: the URL itself is a secret
};

// The JSON body posted to the webhook: {"event", "message", "device",
// "host", "repository", "time" (RFC 3339), "last_success" (RFC 3339 or
// null), "text" (one line for chat webhooks such as Slack's)}.
std::string AlertJson(const Alert& alert, std::string_view host);

// Decides when a failed backup run is worth an alert: the first failure
// after a success, then again every `repeat_after` while failures go on (a
// repository that is down fails every retry; one alert says it).
class FailureWatch {
 public:
  explicit FailureWatch(std::chrono::seconds repeat_after) : repeat_after_(repeat_after) {}
  // A run failed at `now`: whether to fire kBackupFailed.
  bool RecordFailure(TimeNs now);
  // A run succeeded: whether a failure alert had fired since the last
  // success (so kRecovered may be sent).
  bool RecordSuccess();

 private:
  std::chrono::seconds repeat_after_;
  std::optional<TimeNs> last_alert_;  // since the last success
};

// Decides when "no backup has succeeded for stale_after" fires: once when
// the newest success becomes that old, then once more per further full
// period while no success comes. A clock that jumps over several periods
// (a machine that slept for three days) fires once, not once per period.
// Before the first success ever, the time watching started counts as the
// reference, so a new installation is not stale at once.
class StaleWatch {
 public:
  // `stale_after` zero: never stale.
  StaleWatch(std::chrono::seconds stale_after, std::optional<TimeNs> last_success, TimeNs started);

  // A backup succeeded at `when` (older successes than the newest known are
  // ignored). Returns whether a stale alert had fired since the previous
  // success (so kRecovered may be sent).
  bool RecordSuccess(TimeNs when);
  // Whether to fire kStale at `now`; true at most once per period.
  bool Check(TimeNs now);
  // When Check will next return true, for the scheduler's wait; nullopt
  // when disabled.
  std::optional<TimeNs> NextDue() const;
  std::optional<TimeNs> last_success() const { return last_success_; }
  // "no backup has succeeded for 26 hours (the last one: 2026-11-25
  // 08:00:00)", or "... since watching started ..." when none ever did.
  std::string Message(TimeNs now) const;

 private:
  TimeNs Reference() const { return last_success_.value_or(started_); }

  int64_t period_ns_;
  std::optional<TimeNs> last_success_;
  TimeNs started_;
  int64_t periods_fired_ = 0;  // periods since Reference() already alerted
};

}  // namespace cairn::daemon
