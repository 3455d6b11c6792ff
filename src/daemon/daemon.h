// Daemon: `cairn run`, continuous protection. It watches folders, turns
// what changed into versions within seconds, and runs the periodic jobs,
// calling the engine through one Session (engine/session.h) like every
// front end.
//
// Life of a run (docs/design.md, "The daemon"):
//   1. Create: the session from the settings, the folders to protect, the
//      state folder; refuses a second daemon for the same repository and
//      device (RunLock) and opens the persisted queue (PersistentQueue).
//   2. Run: opens the repository (a wrong password, a missing repository
//      or bad settings stop it here, with the engine's error), adds the
//      watches, then backs up what the persisted queue still holds from
//      the last run, then a catch-up pass over every folder (unchanged files
//      are skipped by their metadata), so that nothing that happened while
//      no daemon watched is missed.
//   3. The loop: watcher events are written to the persisted queue, then
//      debounced (watch::ChangeQueue: quiet for backup.stability_seconds, at
//      the latest backup.max_delay_seconds after the first change); what
//      settled is ONE Session::Backup call (a batch), after which its paths
//      leave the persisted queue. A batch that fails (the repository is
//      unreachable, locked by a prune, the disk is full) keeps its paths and
//      is retried with growing delays; the daemon never exits nor drops a
//      change for it. The scheduler's jobs run from the same loop: a full
//      pass every backup_interval_minutes, cleanup every 24 h, compaction
//      every 6 h.
//   4. A stop (SIGTERM, SIGINT) cancels the running job at its next safe
//      point (what it finished is kept, its lock released) and returns; what
//      was not backed up stays in the persisted queue for the next run.
//      A reload (SIGHUP) re-reads the settings file; a bad one is refused
//      with the reason and the running settings stay.
//
// What front ends and the lead's modules attach (Hooks): log lines, every
// run's report (status, alerts), readiness, liveness and stopping (systemd
// notify), and a Snapshot() for the status socket.
//
// Thread-safety: Run on one thread; RequestReload, Snapshot from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/time_util.h"
#include "daemon/log_level.h"
#include "daemon/scheduler.h"
#include "engine/session.h"
#include "watch/change_queue.h"
#include "watch/watch_mode.h"
#include "watch/watcher.h"

namespace cairn::daemon {

class PersistentQueue;
class RunLock;

// What one engine run of the daemon did.
struct RunReport {
  // "batch" (what settled, or what the last run left queued), "catch-up"
  // (the full pass at start), "full pass" (scheduled, or after a reload).
  std::string kind;
  size_t paths = 0;           // paths asked for (folders count as one)
  uint64_t files = 0;         // files new or changed (read and stored)
  uint64_t unchanged = 0;     // files skipped by their metadata
  uint64_t deleted = 0;       // deletion records written
  uint64_t skipped = 0;       // files left out (too large, unknown type)
  uint64_t excluded = 0;      // entries left out by the exclude rules (a folder: one)
  uint64_t bytes_read = 0;    // of the changed files
  uint64_t bytes_stored = 0;  // new bytes in the repository (compressed, encrypted)
  double seconds = 0;
  // The paths asked for (benchmarks match them to the changes they cover).
  std::vector<std::string> batch_paths;
  std::vector<std::string> errors;  // files that could not be read (the run went on)
  // OK, or why the run failed (then its paths stay queued and it is retried
  // after `retry_in`).
  Status status;
  std::chrono::milliseconds retry_in{0};
  TimeNs finished = 0;  // wall clock
};

// One line for the log: "batch: 3 paths, 2 files (1.2 MiB read, 640 KiB
// stored), 1 deleted, 0 unreadable, 0.21 s" or "batch failed: <reason>;
// 3 paths kept, retry in 10 s".
std::string FormatRunReport(const RunReport& r);

// The daemon's state for `cairn status` (the status socket's answer).
struct DaemonSnapshot {
  bool watching = false;
  // From Create until Run has opened the repository and set up the watches
  // (seconds on a large tree): `folders` already names what will be watched.
  bool starting = true;
  std::string watch_mode;            // "auto", "inotify", "poll" (as configured)
  std::vector<std::string> folders;  // the roots watched
  watch::WatcherStats watcher;
  uint64_t queued = 0;  // paths waiting (persisted queue)
  std::string running;  // the job running now ("" when idle)
  std::optional<RunReport> last_run;
  TimeNs last_success = 0;         // 0: none since the daemon started
  std::optional<TimeNs> retry_at;  // a failed batch waits until then
  std::vector<Scheduler::JobState> jobs;
  // Unresolved errors, newest last, at most 20, each "2026-11-30 10:01:02  text".
  std::deque<std::string> recent_errors;
  std::deque<std::string> notices;  // the watcher's, newest last, at most 20
  // Since the daemon started: files left out because they were too large or
  // not a file, folder or link (RunReport::skipped), summed over its runs.
  uint64_t skipped_total = 0;
  // ... and entries left out by the exclude rules (RunReport::excluded).
  uint64_t excluded_total = 0;
  // Paused (cairn pause): nothing is backed up, changes are still queued.
  bool paused = false;
  std::optional<TimeNs> paused_until;  // nullopt while paused: until resumed
  // Conditions that need the user's attention now (a repository's disk
  // above 90% full), each one sentence.
  std::vector<std::string> warnings;
  // The local repository's file system, when it could be read.
  std::optional<uint64_t> disk_total_bytes, disk_free_bytes;
};

// The free space of the file system holding a local repository.
struct DiskSpace {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;  // available to an unprivileged writer (f_bavail)
};

// statvfs of `path`: the errno Status naming it when it cannot be read.
Result<DiskSpace> ReadDiskSpace(const std::string& path);

// A warning when the disk holding the repository at `path` is more than
// `threshold` (0..1) full: "the disk holding the repository /r is 93% full
// (1.2 GiB free); ...". "" when it is not (or `space` is empty).
std::string DiskSpaceWarning(const std::string& path, const DiskSpace& space,
                             double threshold = 0.9);

struct Hooks {
  // A line for the log (no secret is ever passed here). Empty: nothing.
  std::function<void(LogLevel, const std::string&)> log;
  // After every engine run, successful or not (alerts on a failure, the
  // status's last success).
  std::function<void(const RunReport&)> on_run;
  // Once the watches are in place (before the catch-up pass, which may take
  // long): systemd's READY=1.
  std::function<void()> ready;
  // Called at least every `DaemonOptions::max_wait` while the daemon's loop
  // turns, and with every progress event of a running backup (about every
  // 250 ms): systemd's WATCHDOG=1. Rate-limit there if needed.
  std::function<void()> alive;
  // A reload was asked for (RELOADING=1) and how it ended (OK, or the
  // reason the new settings were refused): READY=1 again.
  std::function<void()> reloading;
  std::function<void(const Status&)> reloaded;
  // The daemon is stopping (STOPPING=1).
  std::function<void()> stopping;
  // A maintenance job found damage: the daily restore sample could not
  // restore some versions (an alert: the repository needs attention).
  std::function<void(const std::string& message)> restore_sample_failed;
};

// Creates the engine session from the settings file as it is now: called
// at start and again on each reload (so a changed file is read anew).
using SessionFactory = std::function<Result<std::unique_ptr<engine::Session>>()>;

struct DaemonOptions {
  SessionFactory make_session;  // required
  // The folders to protect (absolute); empty: backup.watched_directories,
  // else Session::DefaultBackupPaths().
  std::vector<std::string> folders;
  // "" = StateDir(getenv, the session's home).
  std::string state_dir;
  // Like std::getenv; empty: the process's environment.
  std::function<const char*(const char*)> getenv;
  // Folders never watched nor backed up besides those the daemon knows
  // (repository, catalog cache, state folder): the log folder.
  std::vector<std::string> excluded_prefixes;
  const WallClock* clock = nullptr;  // null: SystemWallClock()
  uint64_t seed = 0;                 // jitter; 0: from the clock and pid
  // A failed run is retried after retry_min, doubling up to retry_max.
  std::chrono::milliseconds retry_min{std::chrono::seconds(5)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
  // The longest the loop sleeps before looking at the clock again: bounds
  // how late a job runs after a resume from suspend (timeouts do not count
  // the time asleep).
  std::chrono::milliseconds max_wait{std::chrono::seconds(30)};
  // The time between scans of polled folders; 0: backup.poll_interval_seconds
  // (tests shorten it below a second).
  std::chrono::milliseconds poll_interval{0};
  // Watcher settings the settings file does not hold (tests shorten them).
  std::chrono::milliseconds rescan_interval{std::chrono::minutes(5)};
  // How the free space of a local repository's disk is read (after every
  // run); empty: ReadDiskSpace. Tests pass a fake full disk.
  std::function<Result<DiskSpace>(const std::string&)> disk_space;
  // Makes the watcher for a mode (backup.watch_mode, or kPoll when another
  // mode's watcher cannot be made); empty: watch::CreateWatcher. Tests wrap
  // the real watcher here (lost events, a tiny watch limit).
  std::function<Result<std::unique_ptr<watch::Watcher>>(watch::WatchMode, watch::WatchOptions)>
      make_watcher;
  Hooks hooks;
};

// The scheduled jobs' names (persisted, shown by status).
inline constexpr const char* kFullPassJob = "full-pass";
inline constexpr const char* kCleanupJob = "cleanup";
inline constexpr const char* kCompactionJob = "compaction";

class Daemon {
 public:
  // Creates the session, finds the folders and takes this repository and
  // device's run lock (Locked, naming the other daemon's pid, when one
  // runs) and persisted queue. InvalidArgument for bad settings or nothing
  // to watch.
  static Result<std::unique_ptr<Daemon>> Create(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until `stop` is requested, then returns OK (what was not backed up
  // stays queued). An error when it cannot start (wrong password, no
  // repository, a watcher that cannot be created) or the watcher broke.
  Status Run(std::stop_token stop);

  // Re-reads the settings at the loop's next turn (within moments, or after
  // the running job). Any thread; async-signal-unsafe (call it from a
  // signal-handling thread, not a handler).
  void RequestReload();

  DaemonSnapshot Snapshot() const EXCLUDES(snap_mu_);

  // Pauses protection (cairn pause), for `how_long` or, with nullopt, until
  // Resume: a running job stops at its next safe point (what it finished is
  // kept), nothing more is backed up nor scheduled; changes keep being
  // recorded in the persisted queue, and are backed up after the pause. A
  // pause lasts while the daemon runs (a restart resumes). Any thread.
  void Pause(std::optional<std::chrono::seconds> how_long) EXCLUDES(pause_mu_, snap_mu_);
  void Resume() EXCLUDES(pause_mu_, snap_mu_);

  const std::string& state_dir() const { return state_dir_; }
  // The settings in force. On Run's thread only (hooks run there): a reload
  // replaces them.
  const config::Settings& settings() const { return session_->settings(); }
  const std::vector<std::string>& folders() const { return roots_; }
  // The session in force, for other front ends in the same process (the web
  // server under `cairn run`): a reload replaces it, and whoever holds the
  // old one keeps it alive until done. Any thread.
  std::shared_ptr<engine::Session> SharedSession() const EXCLUDES(session_mu_);

 private:
  explicit Daemon(DaemonOptions options);

  // --- set-up ---
  Status ResolveFolders();
  std::vector<std::string> OwnPrefixes() const;
  Status StartWatcher();
  void ConfigureScheduler();
  void RefillChangeQueue();

  // --- the loop ---
  Status Turn(std::stop_token stop);
  void Reload();
  void RunDueJobs(std::stop_token stop);
  // One Session::Backup of `paths` (all under the roots, none under
  // another); the report is logged and handed to on_run.
  RunReport BackupRun(const std::string& kind, std::vector<std::string> paths,
                      std::stop_token stop);
  // Backs up what settled (and what failed before) once the retry time has
  // come. Removes the paths from the persisted queue when it worked.
  void RunBatch(std::stop_token stop);
  void FullPass(const std::string& kind, std::stop_token stop);
  void Compact(std::stop_token stop);
  void Cleanup(std::stop_token stop);
  std::chrono::milliseconds NextRetry();

  // --- helpers ---
  bool Excluded(std::string_view path, bool is_dir) const;
  void Log(LogLevel level, const std::string& text);
  // Errors shown by status: those of runs go when a run succeeds, those of
  // settings when a reload succeeds; the rest age out (20 kept).
  enum class ErrorKind { kRun, kSettings, kOther };
  void NoteError(const std::string& text, ErrorKind kind = ErrorKind::kOther) EXCLUDES(snap_mu_);
  void ResolveErrors(ErrorKind kind) EXCLUDES(snap_mu_);
  void PublishErrorsLocked() REQUIRES(snap_mu_);
  void SetRunning(const std::string& what);
  void PublishQueueSize();
  // True while paused; ends a pause whose time is over (and says so).
  bool Paused() EXCLUDES(pause_mu_);
  void CheckDiskSpace();
  // The daily cleanup's last step: Session::RestoreSample of
  // maintenance.restore_sample_files versions; a failure is logged and
  // shown in the status.
  void RestoreSample(std::stop_token stop, engine::EventSink& sink);

  DaemonOptions options_;
  const WallClock& clock_;
  // On Run's thread only (which alone replaces it, and so reads it
  // unlocked); published for other threads through SharedSession.
  std::shared_ptr<engine::Session> session_;
  void PublishSession() EXCLUDES(session_mu_);
  mutable Mutex session_mu_;
  std::shared_ptr<engine::Session> published_session_ GUARDED_BY(session_mu_);
  std::vector<std::string> roots_;
  std::vector<std::string> missing_roots_;  // configured but absent; added when they appear
  std::string state_dir_;
  std::string location_, device_;
  std::unique_ptr<RunLock> run_lock_;
  std::unique_ptr<PersistentQueue> queue_;
  // Held to replace watcher_ (on Run's thread, which alone writes it and so
  // reads it unlocked) and by RequestReload to Wake it from another thread.
  Mutex wake_mu_;
  std::unique_ptr<watch::Watcher> watcher_;
  std::string watch_mode_;
  std::vector<std::string> watched_excludes_;  // the exclude patterns the watcher filters by
  std::unique_ptr<watch::ChangeQueue> debounce_;
  std::unique_ptr<Scheduler> scheduler_;

  // The batch waiting to run (settled paths, and those of failed runs):
  // path -> is_dir.
  std::map<std::string, bool> batch_;
  int failures_ = 0;
  std::optional<TimeNs> retry_at_;
  // A full pass to run: "catch-up", "full pass"; "" when none.
  std::string full_pass_wanted_;

  std::atomic<bool> reload_requested_{false};

  // The pause, and the stop source of the jobs of the loop's current turn
  // (Pause stops them); both set by Pause/Resume from any thread.
  Mutex pause_mu_;
  bool paused_ GUARDED_BY(pause_mu_) = false;
  std::optional<TimeNs> paused_until_ GUARDED_BY(pause_mu_);
  std::stop_source* job_stop_ GUARDED_BY(pause_mu_) = nullptr;
  std::string disk_warning_;  // the one in force ("" none)

  mutable Mutex snap_mu_;
  DaemonSnapshot snap_ GUARDED_BY(snap_mu_);
  struct NotedError {
    ErrorKind kind;
    std::string text;  // with its local time first
  };
  std::deque<NotedError> errors_ GUARDED_BY(snap_mu_);
};

}  // namespace cairn::daemon
