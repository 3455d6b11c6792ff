#include "daemon/daemon.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "base/errno_status.h"
#include "daemon/queue.h"
#include "daemon/run_lock.h"
#include "daemon/state_dir.h"
#include "watch/create_watcher.h"
#include "watch/inotify_watcher.h"
#include "watch/path_filter.h"
#include "watch/watch_mode.h"

namespace cairn::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t kKeptMessages = 20;

std::string Bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  else
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

std::string Seconds(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

milliseconds Until(TimeNs from, TimeNs to) {
  if (to <= from) return milliseconds(0);
  return std::chrono::duration_cast<milliseconds>(std::chrono::nanoseconds(to - from));
}

// The path with symlinks resolved when it exists (what Session::Backup
// records for a symlinked folder, so events and passes name the same
// paths), else as given.
std::string Resolved(const std::string& path) {
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    std::string out = real;
    std::free(real);
    return out;
  }
  return path;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// True when `path` is one of `roots` or under one.
bool UnderAny(const std::string& path, const std::vector<std::string>& roots) {
  return std::any_of(roots.begin(), roots.end(),
                     [&](const std::string& r) { return watch::IsSameOrUnder(path, r); });
}

// Receives a running job's events: progress keeps the watchdog fed, issues
// and notices go to the log.
class JobSink final : public engine::EventSink {
 public:
  JobSink(const Hooks& hooks, std::function<void(LogLevel, const std::string&)> log)
      : hooks_(hooks), log_(std::move(log)) {}
  void OnProgress(const engine::Progress&) override {
    if (hooks_.alive) hooks_.alive();
  }
  void OnIssue(const engine::PathIssue& issue) override {
    log_(issue.severity == engine::PathIssue::Severity::kError ? LogLevel::kError
                                                               : LogLevel::kWarning,
         issue.message);
  }
  void OnNotice(const std::string& text) override { log_(LogLevel::kInfo, text); }

 private:
  const Hooks& hooks_;
  std::function<void(LogLevel, const std::string&)> log_;
};

}  // namespace

Result<DiskSpace> ReadDiskSpace(const std::string& path) {
  struct statvfs v;
  if (::statvfs(path.c_str(), &v) != 0) return ErrnoStatus(errno, "read the free space of", path);
  DiskSpace d;
  d.total_bytes = static_cast<uint64_t>(v.f_blocks) * v.f_frsize;
  d.free_bytes = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  return d;
}

std::string DiskSpaceWarning(const std::string& path, const DiskSpace& space, double threshold) {
  if (space.total_bytes == 0 || space.free_bytes > space.total_bytes) return "";
  const double used =
      1.0 - static_cast<double>(space.free_bytes) / static_cast<double>(space.total_bytes);
  if (used <= threshold) return "";
  return "the disk holding the repository " + path + " is " +
         std::to_string(static_cast<int>(used * 100)) + "% full (" + Bytes(space.free_bytes) +
         " free); backups stop when it is full: free some space or move the repository to a "
         "bigger disk";
}

std::string FormatRunReport(const RunReport& r) {
  const std::string paths = std::to_string(r.paths) + (r.paths == 1 ? " path" : " paths");
  if (!r.status.ok()) {
    std::string line = r.kind + " failed: " + r.status.message();
    if (r.status.code() == StatusCode::kCancelled) return line + "; " + paths + " kept queued";
    return line + "; " + paths + " kept queued, retry in " + Seconds(r.retry_in);
  }
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.2f s", r.seconds);
  std::string line = r.kind + ": " + paths + ", " + std::to_string(r.files) +
                     (r.files == 1 ? " file" : " files") + " (" + Bytes(r.bytes_read) + " read, " +
                     Bytes(r.bytes_stored) + " stored), " + std::to_string(r.deleted) + " deleted";
  if (r.unchanged > 0) line += ", " + std::to_string(r.unchanged) + " unchanged";
  if (r.skipped > 0) line += ", " + std::to_string(r.skipped) + " skipped";
  if (r.excluded > 0) line += ", " + std::to_string(r.excluded) + " excluded";
  if (!r.errors.empty()) line += ", " + std::to_string(r.errors.size()) + " unreadable";
  return line + ", " + secs;
}

// ---- set-up ---------------------------------------------------------------

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemWallClock()) {}

Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::Create(DaemonOptions options) {
  if (!options.make_session) return Status::InvalidArgument("daemon: no session factory");
  std::unique_ptr<Daemon> d(new Daemon(std::move(options)));
  CAIRN_ASSIGN_OR_RETURN(d->session_, d->options_.make_session());
  d->PublishSession();
  const engine::ResolvedConfig& cfg = d->session_->config();
  d->location_ = cfg.location;
  d->device_ = cfg.device;
  CAIRN_RETURN_IF_ERROR(d->ResolveFolders());
  {
    MutexLock lock(d->snap_mu_);
    d->snap_.folders = d->roots_;  // while starting: what will be watched
  }
  d->state_dir_ = d->options_.state_dir;
  if (d->state_dir_.empty())
    d->state_dir_ =
        StateDir(d->options_.getenv ? d->options_.getenv : engine::ProcessEnvironment(), cfg.home);
  CAIRN_RETURN_IF_ERROR(MakeStateDir(d->state_dir_));
  const std::string stem = d->state_dir_ + "/" + StateFileStem(d->location_, d->device_);
  CAIRN_ASSIGN_OR_RETURN(
      d->run_lock_, RunLock::Acquire(stem + ".lock", d->location_ + " as device " + d->device_));
  auto queue = PersistentQueue::Open(stem + ".queue.db");
  if (!queue.ok() && queue.error().code() == StatusCode::kCorruption) {
    // The queue is a convenience over the catch-up pass, which finds every
    // change anyway: a damaged one is put aside, not a reason not to run.
    const std::string aside = stem + ".queue.db.damaged";
    std::error_code ec;
    std::filesystem::rename(stem + ".queue.db", aside, ec);
    std::filesystem::remove(stem + ".queue.db-wal", ec);
    std::filesystem::remove(stem + ".queue.db-shm", ec);
    d->Log(LogLevel::kWarning, queue.error().message() + "; moved to " + aside +
                                   " and started afresh (the catch-up pass finds every change)");
    queue = PersistentQueue::Open(stem + ".queue.db");
  }
  if (!queue.ok()) return queue.error();
  d->queue_ = std::move(*queue);
  uint64_t seed = d->options_.seed;
  if (seed == 0) seed = static_cast<uint64_t>(NowNs()) ^ (static_cast<uint64_t>(::getpid()) << 32);
  d->scheduler_ = std::make_unique<Scheduler>(d->clock_, seed);
  return d;
}

Status Daemon::ResolveFolders() {
  std::vector<std::string> wanted = options_.folders;
  if (wanted.empty()) wanted = session_->settings().watched_directories;
  if (wanted.empty()) wanted = session_->DefaultBackupPaths();
  if (wanted.empty())
    return Status::InvalidArgument(
        "nothing to watch: pass folders (`cairn run ~/Documents`) or set "
        "backup.watched_directories in the settings file");
  std::vector<std::string> roots, missing;
  for (const std::string& w : wanted) {
    CAIRN_ASSIGN_OR_RETURN(std::string normal, watch::NormalizePath(w));
    const std::string real = Resolved(normal);
    if (std::find(roots.begin(), roots.end(), real) != roots.end()) continue;
    roots.push_back(real);
    if (!IsDir(real)) missing.push_back(real);
  }
  roots_ = std::move(roots);
  missing_roots_ = std::move(missing);
  return Status::OK();
}

// The daemon's own folders: never watched, never backed up.
std::vector<std::string> Daemon::OwnPrefixes() const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& p) {
    if (p.empty() || p[0] != '/') return;
    for (const std::string& v : {p, Resolved(p)})
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  for (const std::string& p : session_->OwnFolders()) add(p);
  add(state_dir_);
  for (const std::string& p : options_.excluded_prefixes) add(p);
  return out;
}

bool Daemon::Excluded(std::string_view path, bool is_dir) const {
  return session_->Excluded(path, is_dir);
}

Status Daemon::StartWatcher() {
  const config::Settings& s = session_->settings();
  CAIRN_ASSIGN_OR_RETURN(watch::WatchMode mode, watch::ParseWatchMode(s.watch_mode));
  watch::WatchOptions wo;
  wo.excluded_prefixes = OwnPrefixes();
  // Called on this thread, inside Wait: the session it reads is the one in
  // force (a reload swaps it between waits).
  wo.exclude = [this](std::string_view path, bool is_dir) { return Excluded(path, is_dir); };
  wo.poll_interval = options_.poll_interval.count() > 0 ? options_.poll_interval
                                                        : seconds(s.poll_interval_seconds);
  wo.rescan_interval = options_.rescan_interval;
  auto create = options_.make_watcher ? options_.make_watcher : watch::CreateWatcher;
  auto w = create(mode, wo);
  if (!w.ok() && mode != watch::WatchMode::kPoll) {
    Log(LogLevel::kWarning, w.error().message() + "; comparing the folders every " +
                                watch::FormatInterval(wo.poll_interval) + " instead");
    w = create(watch::WatchMode::kPoll, wo);
  }
  if (!w.ok()) return w.error();
  {
    MutexLock lock(wake_mu_);
    watcher_ = std::move(*w);
  }
  watch_mode_ = s.watch_mode;
  watched_excludes_ = s.exclude_patterns;
  std::vector<std::string> missing;
  for (const std::string& root : roots_) {
    if (mode == watch::WatchMode::kAuto) {
      if (auto choice = watch::ChooseWatchMode(mode, root); choice.ok())
        Log(LogLevel::kInfo, choice->reason);
    }
    // A folder the rules leave out is not protected: say why, once.
    std::string own;
    for (const std::string& p : OwnPrefixes())
      if (watch::IsSameOrUnder(root, p)) own = p;
    if (!own.empty() || Excluded(root, true)) {
      const std::string why =
          root + " is not protected: " +
          (!own.empty() ? "it is inside " + own +
                              ", one of cairn's own folders or files (the repository, its "
                              "cache, the state folder, the log file or the status socket)"
                        : "the exclude rules leave it out (backup.exclude_patterns, a "
                          ".cairnignore or a CACHEDIR.TAG in a folder above it)");
      Log(LogLevel::kError, why);
      NoteError(why);
      continue;
    }
    Status st = watcher_->AddRoot(root);
    if (st.ok()) continue;
    if (st.IsNotFound() || st.code() == StatusCode::kIOError) {
      missing.push_back(root);
      Log(LogLevel::kWarning, root + " is not there (" + st.message() +
                                  "); it is watched and backed up once it appears");
    } else {
      Log(LogLevel::kError, "cannot watch " + root + ": " + st.message());
    }
  }
  missing_roots_ = std::move(missing);
  MutexLock lock(snap_mu_);
  snap_.watching = true;
  snap_.starting = false;
  snap_.watch_mode = watch_mode_;
  snap_.folders = roots_;
  snap_.watcher = watcher_->Stats();
  return Status::OK();
}

void Daemon::ConfigureScheduler() {
  const config::Settings& s = session_->settings();
  const seconds interval = std::chrono::minutes(s.backup_interval_minutes);
  auto job = [&](const char* name, seconds every, seconds jitter) {
    std::optional<TimeNs> last;
    if (auto r = queue_->JobLastRun(name); r.ok()) last = *r;
    scheduler_->SetJob({name, every, jitter}, last);
    if (!last) (void)queue_->SetJobLastRun(name, clock_.Now());
  };
  // Jitter: a tenth of the interval, at most 10 minutes, so machines that
  // started together spread out without a pass coming much later than asked.
  job(kFullPassJob, interval, std::min<seconds>(interval / 10, std::chrono::minutes(10)));
  job(kCleanupJob, std::chrono::hours(24), std::chrono::minutes(30));
  job(kCompactionJob, std::chrono::hours(6), std::chrono::minutes(15));
}

void Daemon::RefillChangeQueue() {
  const config::Settings& s = session_->settings();
  debounce_ = std::make_unique<watch::ChangeQueue>(
      watch::SteadyTimeSource(), seconds(s.stability_seconds), seconds(s.max_delay_seconds));
  auto all = queue_->All();
  if (!all.ok()) {
    Log(LogLevel::kError, all.error().message());
    return;
  }
  for (const PersistentQueue::Entry& e : *all)
    if (!batch_.count(e.path)) debounce_->Add(watch::WatchEvent{e.kind, e.path, "", e.is_dir});
}

// ---- the loop ---------------------------------------------------------------

Status Daemon::Run(std::stop_token stop) {
  // Errors that no retry mends stop the daemon here, before it watches
  // anything; an unreachable store does not (the runs retry).
  Status open = session_->Open();
  if (!open.ok()) {
    switch (open.code()) {
      case StatusCode::kWrongPassword:
      case StatusCode::kNoRepository:
      case StatusCode::kInvalidArgument:
      case StatusCode::kUnsupported:
      case StatusCode::kCorruption:
      case StatusCode::kPermissionDenied:
        return open;
      default:
        Log(LogLevel::kWarning, "the repository cannot be opened now (" + open.message() +
                                    "); changes are queued and backed up once it can");
    }
  }
  CAIRN_RETURN_IF_ERROR(StartWatcher());
  std::string folders;
  for (const std::string& r : roots_) folders += (folders.empty() ? "" : ", ") + r;
  Log(LogLevel::kInfo, "watching " + folders + " (" + watch_mode_ + "; repository " + location_ +
                           ", device " + device_ + ")");
  ConfigureScheduler();
  CheckDiskSpace();
  if (open.ok()) {
    // The last successful backup of this device, as the catalog knows it
    // (status and the staleness alert start from it).
    if (auto runs = session_->Runs(50); runs.ok()) {
      for (const engine::RunSummary& r : *runs) {
        if (!r.complete || r.device != device_) continue;
        MutexLock lock(snap_mu_);
        snap_.last_success = r.end;
        break;
      }
    }
  }
  debounce_ = std::make_unique<watch::ChangeQueue>(watch::SteadyTimeSource(),
                                                   seconds(session_->settings().stability_seconds),
                                                   seconds(session_->settings().max_delay_seconds));
  // What the last run left is backed up first (a short batch), then the
  // catch-up pass compares every folder: the watches are already in place,
  // so a change after this point is an event, one before it is found by
  // the pass.
  if (auto left = queue_->All(); left.ok()) {
    for (const PersistentQueue::Entry& e : *left) batch_[e.path] = e.is_dir;
    if (!left->empty())
      Log(LogLevel::kInfo,
          std::to_string(left->size()) + " changes left queued by the last run: backing them up");
  } else {
    Log(LogLevel::kError, left.error().message());
  }
  full_pass_wanted_ = "catch-up";
  PublishQueueSize();
  if (options_.hooks.ready) options_.hooks.ready();

  Status result;
  while (!stop.stop_requested()) {
    result = Turn(stop);
    if (!result.ok()) break;
  }
  if (options_.hooks.stopping) options_.hooks.stopping();
  PublishQueueSize();
  {
    MutexLock lock(snap_mu_);
    snap_.watching = false;
  }
  if (!result.ok()) return result;
  auto left = queue_->Size();
  Log(LogLevel::kInfo,
      "stopped" + (left.ok() && *left > 0 ? "; " + std::to_string(*left) +
                                                (*left == 1 ? " change stays" : " changes stay") +
                                                " queued for the next run"
                                          : std::string()));
  return Status::OK();
}

Status Daemon::Turn(std::stop_token stop) {
  if (options_.hooks.alive) options_.hooks.alive();
  if (reload_requested_.exchange(false)) Reload();

  // This turn's jobs stop for a stop of the daemon and for a pause.
  std::stop_source jobs;
  std::stop_callback forward(stop, [&jobs] { jobs.request_stop(); });
  const bool paused = Paused();
  if (!paused) {
    {
      MutexLock lock(pause_mu_);
      job_stop_ = &jobs;
    }
    const std::stop_token job = jobs.get_token();
    RunDueJobs(job);
    if (!job.stop_requested()) {
      // Files written together whose events came a moment apart go into
      // one run: a quarter of the stability time, at most 250 ms early.
      const milliseconds gather = std::min<milliseconds>(
          milliseconds(250), seconds(session_->settings().stability_seconds) / 4);
      for (watch::Change& c : debounce_->TakeDue(gather)) batch_[c.path] = c.is_dir;
      const bool may_run = !retry_at_ || clock_.Now() >= *retry_at_;
      if (may_run && !batch_.empty()) RunBatch(job);
    }
    if (!job.stop_requested() && !full_pass_wanted_.empty() &&
        (!retry_at_ || clock_.Now() >= *retry_at_))
      FullPass(full_pass_wanted_, job);
    MutexLock lock(pause_mu_);
    job_stop_ = nullptr;
  }
  if (stop.stop_requested()) return Status::OK();

  // Sleep until the next thing to do, a watcher event, a reload or a stop.
  milliseconds timeout = options_.max_wait;
  const TimeNs now = clock_.Now();
  if (paused || Paused()) {
    // Only events are taken (and recorded) until the pause ends.
    MutexLock lock(pause_mu_);
    if (paused_until_) timeout = std::min(timeout, Until(now, *paused_until_));
  } else {
    if (auto next = debounce_->NextDue()) {
      const auto d =
          std::chrono::duration_cast<milliseconds>(*next - watch::SteadyTimeSource().Now());
      timeout = std::min(timeout, std::max(d, milliseconds(0)));
    }
    if (auto next = scheduler_->NextDue()) timeout = std::min(timeout, Until(now, *next));
    if (retry_at_) {
      timeout = std::min(timeout, Until(now, *retry_at_));
    } else if (!batch_.empty() || !full_pass_wanted_.empty()) {
      timeout = milliseconds(0);
    }
  }
  auto batch = watcher_->Wait(timeout, stop);
  if (!batch.ok()) {
    // The mechanism broke (rare: the inotify descriptor failed). One new
    // watcher and a full pass (events may have been lost); a second failure
    // ends the daemon, for its service manager to restart it.
    Log(LogLevel::kError, "the watcher failed: " + batch.error().message() + "; starting anew");
    CAIRN_RETURN_IF_ERROR(StartWatcher());
    full_pass_wanted_ = "full pass";
    return Status::OK();
  }
  for (const watch::WatchNotice& n : batch->notices) {
    Log(n.level == watch::WatchNotice::Level::kWarning ? LogLevel::kWarning : LogLevel::kInfo,
        n.text);
    MutexLock lock(snap_mu_);
    snap_.notices.push_back(n.text);
    if (snap_.notices.size() > kKeptMessages) snap_.notices.pop_front();
  }
  if (!batch->events.empty()) {
    // Written down before anything else is done with them: from here a
    // crash loses none of them.
    if (Status st = queue_->Record(batch->events, clock_.Now()); !st.ok())
      NoteError("cannot write the queue: " + st.message() + " (the changes are kept in memory)");
    debounce_->Add(batch->events);
    PublishQueueSize();
  }
  MutexLock lock(snap_mu_);
  snap_.watcher = watcher_->Stats();
  return Status::OK();
}

void Daemon::RunDueJobs(std::stop_token stop) {
  for (const std::string& name : scheduler_->Due()) {
    if (stop.stop_requested()) return;
    if (name == kFullPassJob) {
      // Run by the loop (after what settled), marked done when it worked.
      if (full_pass_wanted_.empty()) full_pass_wanted_ = "full pass";
      // While runs fail, it waits with them (and the loop sleeps till then).
      if (retry_at_ && clock_.Now() < *retry_at_)
        scheduler_->Failed(name, Until(clock_.Now(), *retry_at_));
    } else if (name == kCleanupJob) {
      if (retry_at_ && clock_.Now() < *retry_at_) {
        scheduler_->Failed(name, Until(clock_.Now(), *retry_at_));
        continue;
      }
      Cleanup(stop);
    } else if (name == kCompactionJob) {
      if (retry_at_ && clock_.Now() < *retry_at_) {
        // The repository failed a moment ago: try again with the next run.
        scheduler_->Failed(name, Until(clock_.Now(), *retry_at_));
        continue;
      }
      Compact(stop);
    }
  }
  MutexLock lock(snap_mu_);
  snap_.jobs = scheduler_->Jobs();
}

RunReport Daemon::BackupRun(const std::string& kind, std::vector<std::string> paths,
                            std::stop_token stop) {
  RunReport report;
  report.kind = kind;
  report.paths = paths.size();
  SetRunning(kind);
  engine::BackupRequest req;
  req.paths = std::move(paths);
  report.batch_paths = req.paths;
  req.missing_ok = true;
  // cairn's own files stay out even when a watched folder holds them (a
  // repository under ~/Documents; the session adds its own folders too).
  req.excluded_paths = OwnPrefixes();
  JobSink sink(options_.hooks, [this](LogLevel l, const std::string& t) { Log(l, t); });
  engine::JobContext job{stop, &sink};
  auto r = session_->Backup(req, job);
  report.finished = clock_.Now();
  if (r.ok()) {
    report.files = r->files_new + r->files_changed;
    report.unchanged = r->files_unchanged;
    report.deleted = r->deleted;
    report.skipped = r->skipped_size + r->skipped_special;
    report.excluded = r->excluded;
    report.bytes_read = r->bytes_read;
    report.bytes_stored = r->bytes_stored;
    report.seconds = r->seconds;
    report.errors = r->errors;
    failures_ = 0;
    retry_at_.reset();
    ResolveErrors(ErrorKind::kRun);  // what failed before works again
  } else {
    report.status = r.error();
    // A repository that was there and is gone (an unplugged disk, an
    // unmounted share: its folder missing, or empty) is waited for; the
    // engine's advice for a missing repository, `cairn init`, would start a
    // new, empty one beside the user's history.
    if (r.error().code() == StatusCode::kNoRepository || r.error().code() == StatusCode::kNotFound)
      report.status = Status::Unavailable(
          "the repository at " + location_ +
          " is not there (an unplugged disk, an unmounted share, a moved folder?): changes stay "
          "queued and are backed up once it is back; do not run `cairn init` there, it would "
          "start a new, empty repository (" +
          r.error().message() + ")");
    if (!stop.stop_requested()) {
      report.retry_in = NextRetry();
      retry_at_ =
          clock_.Now() + static_cast<TimeNs>(std::chrono::nanoseconds(report.retry_in).count());
    } else {
      report.status = Status::Cancelled(r.error().message());
    }
  }
  SetRunning("");
  Log(!report.status.ok() && report.status.code() != StatusCode::kCancelled ? LogLevel::kError
                                                                            : LogLevel::kInfo,
      FormatRunReport(report));
  if (!report.status.ok() && report.status.code() != StatusCode::kCancelled)
    NoteError(kind + " failed: " + report.status.message(), ErrorKind::kRun);
  {
    MutexLock lock(snap_mu_);
    snap_.last_run = report;
    if (report.status.ok()) snap_.last_success = report.finished;
    snap_.retry_at = retry_at_;
    snap_.skipped_total += report.skipped;
    snap_.excluded_total += report.excluded;
  }
  CheckDiskSpace();
  if (options_.hooks.on_run) options_.hooks.on_run(report);
  return report;
}

milliseconds Daemon::NextRetry() {
  ++failures_;
  milliseconds d = options_.retry_min;
  for (int i = 1; i < failures_ && d < options_.retry_max; ++i) d *= 2;
  return std::min(d, options_.retry_max);
}

void Daemon::RunBatch(std::stop_token stop) {
  // The persisted queue's entries up to here are what this batch backs up:
  // every one of those changes happened before the files are read.
  const int64_t seq = queue_->last_seq();
  std::vector<std::string> paths, done;
  std::set<std::string> kept;
  for (const auto& [path, is_dir] : batch_) {
    done.push_back(path);
    // Settings may have changed since it was queued (a reload).
    if (!UnderAny(path, roots_) || Excluded(path, is_dir)) continue;
    // A root that vanished is more likely unmounted than deleted: its
    // versions are kept (no deletion records), and it is backed up again
    // when it is back.
    if (std::find(roots_.begin(), roots_.end(), path) != roots_.end() && !IsDir(path)) continue;
    // A path of the batch that is a folder now is walked whole: what lies
    // under it is covered (batch_ is in path order, so a folder comes before
    // its contents). Looked up by ancestor: a burst of thousands of files
    // costs their depth each, not the batch's size.
    bool covered = false;
    for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0 && !covered;
         slash = path.rfind('/', slash - 1))
      covered = kept.count(path.substr(0, slash)) > 0;
    if (covered || (path != "/" && kept.count("/"))) continue;
    kept.insert(path);
    paths.push_back(path);
  }
  if (!paths.empty()) {
    RunReport r = BackupRun("batch", std::move(paths), stop);
    if (!r.status.ok()) return;  // kept: retried after r.retry_in, or by the next run
  }
  if (Status st = queue_->Remove(done, seq); !st.ok()) NoteError(st.message());
  batch_.clear();
  PublishQueueSize();
}

void Daemon::FullPass(const std::string& kind, std::stop_token stop) {
  // Roots that were missing are watched once they appear.
  if (!missing_roots_.empty()) {
    std::vector<std::string> still;
    for (const std::string& root : missing_roots_) {
      if (IsDir(root) && watcher_->AddRoot(root).ok()) {
        Log(LogLevel::kInfo, root + " is there now: watching it");
        continue;
      }
      still.push_back(root);
    }
    missing_roots_ = std::move(still);
  }
  std::vector<std::string> paths;
  for (const std::string& root : roots_)
    if (std::find(missing_roots_.begin(), missing_roots_.end(), root) == missing_roots_.end())
      paths.push_back(root);
  const int64_t seq = queue_->last_seq();
  if (!paths.empty()) {
    RunReport r = BackupRun(kind, std::move(paths), stop);
    if (!r.status.ok()) {
      if (!stop.stop_requested()) scheduler_->Failed(kFullPassJob, r.retry_in);
      return;
    }
  }
  // Everything under the roots was compared: what was queued before is
  // backed up.
  if (Status st = queue_->RemoveThrough(seq); !st.ok()) NoteError(st.message());
  batch_.clear();
  full_pass_wanted_.clear();
  (void)queue_->SetJobLastRun(kFullPassJob, scheduler_->Ran(kFullPassJob));
  PublishQueueSize();
}

void Daemon::Cleanup(std::stop_token stop) {
  // The original design's daily cleanup (`cairn cleanup`): retention by the
  // settings' versioning.* rules, then prune frees the space (design.md
  // §20). Backups of this and other devices wait only for prune's short
  // exclusive part; this daemon's own wait for its turn.
  SetRunning("cleanup");
  JobSink sink(options_.hooks, [this](LogLevel l, const std::string& t) { Log(l, t); });
  auto r = session_->Cleanup(engine::PruneRequest{}, engine::JobContext{stop, &sink});
  SetRunning("");
  if (r.ok()) {
    if (r->forgot)
      Log(LogLevel::kInfo, "cleanup: forgot " + std::to_string(r->forget.versions_dropped) +
                               " of " + std::to_string(r->forget.versions) +
                               " versions by the retention rules");
    else
      Log(LogLevel::kInfo,
          "cleanup: no retention rule is set (versioning.* in the settings); every version is "
          "kept");
    const engine::PruneSummary& p = r->prune;
    char t[64];
    std::snprintf(t, sizeof(t), "%.2f", p.exclusive_seconds);
    Log(LogLevel::kInfo, "cleanup: prune freed " + std::to_string(p.bytes_freed) + " bytes (" +
                             std::to_string(p.packs_deleted) + " packs deleted, " +
                             std::to_string(p.packs_to_repack) + " repacked; backups held for " +
                             t + " s)");
    for (const std::string& w : p.warnings) Log(LogLevel::kWarning, "cleanup: " + w);
    RestoreSample(stop, sink);
    (void)queue_->SetJobLastRun(kCleanupJob, scheduler_->Ran(kCleanupJob));
    return;
  }
  if (stop.stop_requested()) return;
  const milliseconds retry = std::max<milliseconds>(options_.retry_max, seconds(60));
  scheduler_->Failed(kCleanupJob, retry);
  NoteError("cleanup failed: " + r.error().message() + "; retry in " + Seconds(retry),
            ErrorKind::kRun);
  Log(LogLevel::kError, "cleanup failed: " + r.error().message());
}

void Daemon::RestoreSample(std::stop_token stop, engine::EventSink& sink) {
  // Proof that restores work (maintenance.restore_sample_files): a few
  // versions restored into a scratch folder and verified, every day.
  const size_t n = session_->settings().restore_sample_files;
  if (n == 0 || stop.stop_requested()) return;
  SetRunning("restore sample");
  auto r = session_->RestoreSample(n, engine::JobContext{stop, &sink});
  SetRunning("");
  if (!r.ok()) {
    if (stop.stop_requested()) return;
    Log(LogLevel::kError, "restore sample could not run: " + r.error().message());
    NoteError("restore sample could not run: " + r.error().message());
    return;
  }
  size_t failed = 0;
  for (const engine::SampledVersion& v : r->files) {
    if (v.ok) continue;
    ++failed;
    Log(LogLevel::kError, "restore sample: " + v.path + " (version " + v.id +
                              ") did not restore: " + v.error + "; run `cairn check --read-data`");
  }
  if (failed > 0) {
    const std::string message = "restore sample: " + std::to_string(failed) + " of " +
                                std::to_string(r->files.size()) +
                                " sampled versions did not restore; run `cairn check "
                                "--read-data` to find every damaged object";
    NoteError(message);
    if (options_.hooks.restore_sample_failed) options_.hooks.restore_sample_failed(message);
    return;
  }
  Log(LogLevel::kInfo,
      "restore sample: " + std::to_string(r->files.size()) + " versions restored and verified");
}

void Daemon::Compact(std::stop_token stop) {
  SetRunning("compaction");
  JobSink sink(options_.hooks, [this](LogLevel l, const std::string& t) { Log(l, t); });
  auto r = session_->Compact(engine::JobContext{stop, &sink});
  SetRunning("");
  if (r.ok()) {
    Log(LogLevel::kInfo, "compaction: " + std::to_string(r->packs_merged) + " small packs, " +
                             std::to_string(r->index_rewritten) + " index objects and " +
                             std::to_string(r->segments_merged) + " version segments merged; " +
                             std::to_string(r->objects_deleted) + " objects deleted");
    for (const std::string& w : r->warnings) Log(LogLevel::kWarning, "compaction: " + w);
    (void)queue_->SetJobLastRun(kCompactionJob, scheduler_->Ran(kCompactionJob));
    return;
  }
  if (stop.stop_requested()) return;
  // Another device's lock or an unreachable store: a few minutes later,
  // not six hours.
  const milliseconds retry = std::max<milliseconds>(options_.retry_max, seconds(60));
  scheduler_->Failed(kCompactionJob, retry);
  NoteError("compaction failed: " + r.error().message() + "; retry in " + Seconds(retry),
            ErrorKind::kRun);
  Log(LogLevel::kError, "compaction failed: " + r.error().message());
}

// ---- reload -------------------------------------------------------------------

void Daemon::RequestReload() {
  reload_requested_ = true;
  // Run's thread reads the flag before every wait; Wake ends the current
  // one (or makes the next return at once).
  MutexLock lock(wake_mu_);
  if (watcher_) watcher_->Wake();
}

void Daemon::Reload() {
  if (options_.hooks.reloading) options_.hooks.reloading();
  auto refuse = [this](const Status& why) {
    Log(LogLevel::kError,
        "settings not reloaded: " + why.message() + "; the running settings stay in force");
    NoteError("settings not reloaded: " + why.message(), ErrorKind::kSettings);
    if (options_.hooks.reloaded) options_.hooks.reloaded(why);
  };
  auto fresh = options_.make_session();
  if (!fresh.ok()) return refuse(fresh.error());
  std::shared_ptr<engine::Session> next = std::move(*fresh);
  if (next->location() != location_ || next->device() != device_)
    return refuse(Status::InvalidArgument(
        "the repository or the device changed (" + next->location() + " as " + next->device() +
        "); restart `cairn run` to protect into another repository"));
  const config::Settings& now = session_->settings();
  const config::Settings& then = next->settings();
  if (watch::ParseWatchMode(then.watch_mode).ok() == false)
    return refuse(watch::ParseWatchMode(then.watch_mode).status());

  const std::vector<std::string> old_roots = roots_;
  const std::vector<std::string> old_missing = missing_roots_;
  std::shared_ptr<engine::Session> old = std::move(session_);
  session_ = std::move(next);
  if (Status st = ResolveFolders(); !st.ok()) {
    session_ = std::move(old);
    roots_ = old_roots;
    missing_roots_ = old_missing;
    return refuse(st);
  }
  // New rules: watch anew (a folder they no longer exclude needs watches)
  // and compare everything in a full pass.
  const bool rewatch = roots_ != old_roots || then.watch_mode != watch_mode_ ||
                       then.exclude_patterns != watched_excludes_ ||
                       then.exclude_caches != now.exclude_caches ||
                       then.exclude_editor_temporaries != now.exclude_editor_temporaries ||
                       then.poll_interval_seconds != now.poll_interval_seconds;
  if (rewatch) {
    // A new watcher, then a full pass: what changed between the two, and
    // what the new rules now include, is found by the pass.
    std::unique_ptr<watch::Watcher> previous;
    {
      MutexLock lock(wake_mu_);
      previous = std::move(watcher_);
    }
    if (Status st = StartWatcher(); !st.ok()) {
      MutexLock lock(wake_mu_);
      watcher_ = std::move(previous);
      session_ = std::move(old);
      roots_ = old_roots;
      missing_roots_ = old_missing;
      return refuse(st);
    }
    full_pass_wanted_ = "full pass";
  }
  if (then.stability_seconds != now.stability_seconds ||
      then.max_delay_seconds != now.max_delay_seconds)
    RefillChangeQueue();  // the persisted queue holds every pending change
  ConfigureScheduler();   // a new backup_interval_minutes
  PublishSession();
  Log(LogLevel::kInfo, "settings reloaded" +
                           (then.source.empty() ? std::string() : " from " + then.source) +
                           (rewatch ? "; watching anew, with a full pass" : ""));
  ResolveErrors(ErrorKind::kSettings);
  if (options_.hooks.reloaded) options_.hooks.reloaded(Status::OK());
}

// ---- helpers --------------------------------------------------------------------

void Daemon::PublishSession() {
  MutexLock lock(session_mu_);
  published_session_ = session_;
}

std::shared_ptr<engine::Session> Daemon::SharedSession() const {
  MutexLock lock(session_mu_);
  return published_session_;
}

void Daemon::Log(LogLevel level, const std::string& text) {
  if (options_.hooks.log) options_.hooks.log(level, text);
}

void Daemon::NoteError(const std::string& text, ErrorKind kind) {
  MutexLock lock(snap_mu_);
  errors_.push_back({kind, FormatLocal(clock_.Now()) + "  " + text});
  if (errors_.size() > kKeptMessages) errors_.pop_front();
  PublishErrorsLocked();
}

void Daemon::ResolveErrors(ErrorKind kind) {
  MutexLock lock(snap_mu_);
  const size_t before = errors_.size();
  std::erase_if(errors_, [kind](const NotedError& e) { return e.kind == kind; });
  if (errors_.size() != before) PublishErrorsLocked();
}

void Daemon::PublishErrorsLocked() {
  snap_.recent_errors.clear();
  for (const NotedError& e : errors_) snap_.recent_errors.push_back(e.text);
}

void Daemon::SetRunning(const std::string& what) {
  MutexLock lock(snap_mu_);
  snap_.running = what;
}

void Daemon::PublishQueueSize() {
  auto n = queue_->Size();
  MutexLock lock(snap_mu_);
  if (n.ok()) snap_.queued = *n;
}

// ---- pause ----------------------------------------------------------------------

void Daemon::Pause(std::optional<std::chrono::seconds> how_long) {
  std::optional<TimeNs> until;
  if (how_long)
    until = clock_.Now() + std::chrono::duration_cast<std::chrono::nanoseconds>(*how_long).count();
  {
    MutexLock lock(pause_mu_);
    paused_ = true;
    paused_until_ = until;
    if (job_stop_) job_stop_->request_stop();  // at its next safe point
  }
  {
    MutexLock lock(snap_mu_);
    snap_.paused = true;
    snap_.paused_until = until;
  }
  Log(LogLevel::kInfo, until ? "paused until " + FormatLocal(*until) +
                                   ": changes are queued and backed up after the pause"
                             : "paused until `cairn resume`: changes are queued and backed up "
                               "after the pause");
  MutexLock lock(wake_mu_);
  if (watcher_) watcher_->Wake();
}

void Daemon::Resume() {
  {
    MutexLock lock(pause_mu_);
    if (!paused_) return;
    paused_ = false;
    paused_until_.reset();
  }
  {
    MutexLock lock(snap_mu_);
    snap_.paused = false;
    snap_.paused_until.reset();
  }
  Log(LogLevel::kInfo, "resumed: backing up what was queued");
  MutexLock lock(wake_mu_);
  if (watcher_) watcher_->Wake();
}

bool Daemon::Paused() {
  {
    MutexLock lock(pause_mu_);
    if (!paused_) return false;
    if (!paused_until_ || clock_.Now() < *paused_until_) return true;
  }
  Resume();  // its time is over
  return false;
}

void Daemon::CheckDiskSpace() {
  // Only a local repository has a disk of ours to watch (Azure's is not).
  if (location_.empty() || location_[0] != '/') return;
  auto space = options_.disk_space ? options_.disk_space(location_) : ReadDiskSpace(location_);
  if (!space.ok()) return;
  const std::string warning = DiskSpaceWarning(location_, *space);
  if (warning != disk_warning_ && !warning.empty() && disk_warning_.empty())
    Log(LogLevel::kWarning, warning);
  disk_warning_ = warning;
  MutexLock lock(snap_mu_);
  snap_.disk_total_bytes = space->total_bytes;
  snap_.disk_free_bytes = space->free_bytes;
  snap_.warnings.clear();
  if (!warning.empty()) snap_.warnings.push_back(warning);
}

DaemonSnapshot Daemon::Snapshot() const {
  MutexLock lock(snap_mu_);
  return snap_;
}

}  // namespace cairn::daemon
