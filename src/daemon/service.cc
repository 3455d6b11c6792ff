#include "daemon/service.h"

#include <deque>
#include <fstream>

#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/time_util.h"
#include "daemon/alerts.h"
#include "daemon/log.h"
#include "daemon/notify.h"

namespace cairn::daemon {
namespace {

using json = nlohmann::json;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

json TimeJson(TimeNs t) { return t > 0 ? json(FormatRfc3339(t)) : json(nullptr); }

json AgeJson(TimeNs t, TimeNs now) {
  return t > 0 && now >= t ? json((now - t) / 1'000'000'000) : json(nullptr);
}

// Masks secrets in every string of `j` (keys are cairn's own).
void RedactStrings(json& j, const Redactor& redactor) {
  if (j.is_string()) {
    j = redactor.Redact(j.get<std::string>());
  } else if (j.is_structured()) {
    for (auto& item : j) RedactStrings(item, redactor);
  }
}

LogOptions LogOptionsOf(const config::Settings& s,
                        const std::function<const char*(const char*)>& getenv_fn,
                        std::FILE* console) {
  LogOptions o;
  if (auto level = ParseLogLevel(s.log_level); level.ok()) o.level = *level;
  o.console = console;
  o.file = s.log_file ? *s.log_file : DefaultLogFile(getenv_fn);
  o.max_file_bytes = uint64_t{s.log_max_file_mb} << 20;
  o.max_files = s.log_max_files;
  o.secrets = EnvironmentSecrets(getenv_fn);
  if (!s.azure_connection_string.empty()) o.secrets.push_back(s.azure_connection_string);
  if (!s.alert_webhook_url.empty()) o.secrets.push_back(s.alert_webhook_url);
  return o;
}

}  // namespace

// Alerts are decided on the daemon's threads and delivered on one of their
// own, in order: a webhook that takes 30 s to answer must not hold a backup.
class Service::Alerts {
 public:
  Alerts(std::shared_ptr<Redactor> redactor, std::function<void(LogLevel, std::string)> log)
      : redactor_(std::move(redactor)), log_(std::move(log)) {
    thread_ = std::jthread([this](std::stop_token stop) { Deliver(stop); });
  }
  ~Alerts() {
    thread_.request_stop();
    cv_.notify_all();
  }

  // (Re)configures the targets from the settings; InvalidArgument as
  // AlertSink::Create.
  Status Configure(const config::Settings& s) {
    AlertOptions o;
    o.command = s.alert_command;
    o.webhook_url = s.alert_webhook_url;
    o.timeout = std::chrono::seconds(s.alert_timeout_seconds);
    o.redactor = redactor_;
    auto sink = AlertSink::Create(std::move(o));
    if (!sink.ok()) return sink.error();
    std::lock_guard lock(mu_);
    sink_ = std::shared_ptr<AlertSink>(std::move(*sink));
    stale_after_ = std::chrono::hours(s.alert_stale_after_hours);
    // While failures go on, the failure alert is repeated once per
    // staleness period (a day when staleness alerts are off).
    const auto repeat =
        std::chrono::hours(s.alert_stale_after_hours > 0 ? s.alert_stale_after_hours : 24);
    if (repeat != failure_repeat_) {
      failure_ = FailureWatch(repeat);
      failure_repeat_ = repeat;
    }
    if (stale_) stale_ = StaleWatch(stale_after_, stale_->last_success(), started_);
    return Status::OK();
  }

  // Watching started; `last_success` from the catalog (0: none).
  void Start(TimeNs now, TimeNs last_success) {
    std::lock_guard lock(mu_);
    started_ = now;
    stale_.emplace(stale_after_,
                   last_success > 0 ? std::optional<TimeNs>(last_success) : std::nullopt, now);
  }

  void RunEnded(const RunReport& r, const std::string& device, const std::string& repository) {
    std::lock_guard lock(mu_);
    Alert a;
    a.device = device;
    a.repository = repository;
    a.time = r.finished;
    if (r.status.ok()) {
      const bool failed_before = failure_.RecordSuccess();
      const bool stale_before = stale_ && stale_->RecordSuccess(r.finished);
      if (stale_) a.last_success = stale_->last_success();
      if (failed_before || stale_before) {
        a.event = AlertEvent::kRecovered;
        a.message = "backups work again: " + FormatRunReport(r);
        Queue(std::move(a));
      }
      return;
    }
    if (r.status.code() == StatusCode::kCancelled) return;
    if (!failure_.RecordFailure(r.finished)) return;
    a.event = AlertEvent::kBackupFailed;
    if (stale_) a.last_success = stale_->last_success();
    a.message = "a backup run failed: " + r.status.message() +
                ". cairn keeps the changes queued and retries on its own; `cairn status` "
                "shows what is waiting";
    Queue(std::move(a));
  }

  // The daily restore sample failed: an alert every time (once a day).
  void RestoreSampleFailed(const std::string& message, TimeNs now, const std::string& device,
                           const std::string& repository) {
    std::lock_guard lock(mu_);
    Alert a;
    a.event = AlertEvent::kRestoreSampleFailed;
    a.device = device;
    a.repository = repository;
    a.time = now;
    if (stale_) a.last_success = stale_->last_success();
    a.message = message;
    Queue(std::move(a));
  }

  // Called often (every turn of the loop): fires the staleness alert when
  // it is due.
  void Check(TimeNs now, const std::string& device, const std::string& repository) {
    std::lock_guard lock(mu_);
    if (!stale_ || !stale_->Check(now)) return;
    Alert a;
    a.event = AlertEvent::kStale;
    a.device = device;
    a.repository = repository;
    a.time = now;
    a.last_success = stale_->last_success();
    a.message = stale_->Message(now) +
                ": check that `cairn run` can reach the repository (`cairn status`, its log)";
    Queue(std::move(a));
  }

 private:
  // mu_ held.
  void Queue(Alert a) {
    if (!sink_ || !sink_->enabled()) return;
    log_(a.event == AlertEvent::kRecovered ? LogLevel::kInfo : LogLevel::kWarning,
         "alert (" + std::string(AlertEventName(a.event)) + "): " + a.message);
    pending_.push_back({std::move(a), sink_});
    cv_.notify_all();
  }

  void Deliver(std::stop_token stop) {
    std::unique_lock lock(mu_);
    while (!stop.stop_requested()) {
      cv_.wait(lock, stop, [this] { return !pending_.empty(); });
      if (stop.stop_requested()) return;
      auto [alert, sink] = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      Status st = sink->Fire(alert, stop);
      if (!st.ok() && st.code() != StatusCode::kCancelled)
        log_(LogLevel::kError, "the alert could not be delivered: " + st.message());
      lock.lock();
    }
  }

  std::shared_ptr<Redactor> redactor_;
  std::function<void(LogLevel, std::string)> log_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::shared_ptr<AlertSink> sink_;
  std::chrono::hours failure_repeat_{24};
  FailureWatch failure_{failure_repeat_};
  std::chrono::seconds stale_after_{0};
  std::optional<StaleWatch> stale_;
  TimeNs started_ = 0;
  std::deque<std::pair<Alert, std::shared_ptr<AlertSink>>> pending_;
  std::jthread thread_;  // last: stopped and joined first
};

json SnapshotJson(const DaemonSnapshot& snap, TimeNs now) {
  json j;
  j["watching"] = snap.watching;
  j["starting"] = snap.starting;
  j["watch_mode"] = snap.watch_mode;
  j["mechanism"] = snap.watcher.mechanism;
  j["folders"] = snap.folders;
  j["watches"] = snap.watcher.watches;
  j["watch_limit"] = snap.watcher.watch_limit;
  j["polled_trees"] = snap.watcher.polled_trees;
  j["overflows"] = snap.watcher.overflows;
  j["queued"] = snap.queued;
  j["running"] = snap.running.empty() ? json(nullptr) : json(snap.running);
  j["paused"] = snap.paused;
  j["paused_until"] = snap.paused_until ? TimeJson(*snap.paused_until) : json(nullptr);
  j["last_success"] = TimeJson(snap.last_success);
  j["last_success_age_seconds"] = AgeJson(snap.last_success, now);
  if (snap.last_run) {
    const RunReport& r = *snap.last_run;
    j["last_run"] = {{"kind", r.kind},
                     {"ok", r.status.ok()},
                     {"error", r.status.ok() ? json(nullptr) : json(r.status.message())},
                     {"finished", TimeJson(r.finished)},
                     {"paths", r.paths},
                     {"files", r.files},
                     {"unchanged", r.unchanged},
                     {"deleted", r.deleted},
                     {"skipped", r.skipped},
                     {"excluded", r.excluded},
                     {"unreadable", r.errors.size()},
                     {"bytes_read", r.bytes_read},
                     {"bytes_stored", r.bytes_stored},
                     {"seconds", r.seconds},
                     {"summary", FormatRunReport(r)}};
  } else {
    j["last_run"] = nullptr;
  }
  j["retry_at"] = snap.retry_at ? TimeJson(*snap.retry_at) : json(nullptr);
  j["skipped_total"] = snap.skipped_total;
  j["excluded_total"] = snap.excluded_total;
  json jobs = json::array();
  for (const Scheduler::JobState& job : snap.jobs)
    jobs.push_back({{"name", job.name},
                    {"last_run", TimeJson(job.last_run)},
                    {"next_due", TimeJson(job.next_due)}});
  j["jobs"] = std::move(jobs);
  j["recent_errors"] = snap.recent_errors;
  j["notices"] = snap.notices;
  j["warnings"] = snap.warnings;
  j["disk_total_bytes"] = snap.disk_total_bytes ? json(*snap.disk_total_bytes) : json(nullptr);
  j["disk_free_bytes"] = snap.disk_free_bytes ? json(*snap.disk_free_bytes) : json(nullptr);
  return j;
}

Service::Service(ServiceOptions options)
    : options_(std::move(options)),
      clock_(options_.daemon.clock ? *options_.daemon.clock : SystemWallClock()) {}

Service::~Service() {
  // The status server calls into the daemon: it goes first.
  status_server_.reset();
  watchdog_.reset();
}

const std::string& Service::log_file() const { return logger_->file(); }

Result<std::unique_ptr<Service>> Service::Create(ServiceOptions options) {
  if (!options.getenv) options.getenv = engine::ProcessEnvironment();
  if (!options.daemon.getenv) options.daemon.getenv = options.getenv;
  if (!options.daemon.make_session) return Status::InvalidArgument("no session factory");
  std::unique_ptr<Service> s(new Service(std::move(options)));
  ServiceOptions& o = s->options_;

  // The settings as they are now (the daemon reads them again itself).
  auto probe = o.daemon.make_session();
  if (!probe.ok()) return probe.error();
  const config::Settings& settings = (*probe)->settings();
  s->location_ = (*probe)->location();
  s->device_ = (*probe)->device();

  LogOptions lo = LogOptionsOf(settings, o.getenv, o.console);
  auto logger = Logger::Create(lo);
  if (!logger.ok()) {
    // Protection matters more than its log file: console only.
    const std::string why = logger.error().message();
    lo.file.clear();
    logger = Logger::Create(lo);
    if (!logger.ok()) return logger.error();
    (*logger)->Warn("no log file: {}; logging to the console only", why);
  }
  s->logger_ = std::move(*logger);
  Service* self = s.get();
  s->alerts_ = std::make_unique<Alerts>(
      s->logger_->redactor(), [self](LogLevel l, const std::string& text) { self->Log(l, text); });
  if (Status st = s->alerts_->Configure(settings); !st.ok()) return st;

  s->socket_path_ =
      o.socket_path.empty() ? DefaultSocketPath(o.getenv, ::geteuid()) : o.socket_path;
  // cairn's own files are never watched nor backed up.
  // The files themselves, not their folders: a log file set to ~/cairn.log
  // must not take ~ out of the backups.
  if (const std::string& log = s->logger_->file(); !log.empty()) {
    o.daemon.excluded_prefixes.push_back(log);
    for (const std::string& rotated : RotatedLogFiles(log, settings.log_max_files))
      o.daemon.excluded_prefixes.push_back(rotated);
  }
  if (!s->socket_path_.empty()) o.daemon.excluded_prefixes.push_back(s->socket_path_);

  Hooks theirs = o.daemon.hooks;
  Hooks& h = o.daemon.hooks;
  h.log = [self, theirs](LogLevel l, const std::string& text) {
    self->Log(l, text);
    if (theirs.log) theirs.log(l, text);
  };
  h.on_run = [self, theirs](const RunReport& r) {
    self->OnRun(r);
    if (theirs.on_run) theirs.on_run(r);
  };
  h.restore_sample_failed = [self, theirs](const std::string& message) {
    self->alerts_->RestoreSampleFailed(message, self->clock_.Now(), self->device_, self->location_);
    if (theirs.restore_sample_failed) theirs.restore_sample_failed(message);
  };
  h.ready = [self, theirs] {
    self->OnReady();
    if (theirs.ready) theirs.ready();
  };
  h.alive = [self, theirs] {
    self->OnAlive();
    if (theirs.alive) theirs.alive();
  };
  h.reloading = [self, theirs] {
    (void)self->notifier_->Reloading();
    if (theirs.reloading) theirs.reloading();
  };
  h.reloaded = [self, theirs](const Status& st) {
    self->OnReloaded(st);
    if (theirs.reloaded) theirs.reloaded(st);
  };
  h.stopping = [self, theirs] {
    (void)self->notifier_->Stopping("stopping");
    if (theirs.stopping) theirs.stopping();
  };
  s->notifier_ = std::make_unique<Notifier>();
  auto daemon = Daemon::Create(o.daemon);
  if (!daemon.ok()) return daemon.error();
  s->daemon_ = std::move(*daemon);
  return s;
}

Status Service::Run(std::stop_token stop) {
  started_ = clock_.Now();
  last_alive_ = SteadyNs();
  auto server = StatusServer::Start(
      StatusServerOptions{socket_path_},
      [this](const StatusRequest& r) -> Result<nlohmann::json> { return Handle(r); });
  if (server.ok()) {
    status_server_ = std::move(*server);
  } else {
    Log(LogLevel::kWarning, "`cairn status` cannot reach this daemon: " + server.error().message());
  }
  watchdog_ = std::make_unique<Watchdog>(*notifier_, [this] {
    return SteadyNs() - last_alive_.load() <
           std::chrono::duration_cast<std::chrono::nanoseconds>(options_.alive_within).count();
  });
  Status st = daemon_->Run(stop);
  watchdog_.reset();
  status_server_.reset();
  logger_->Flush();
  return st;
}

void Service::RequestReload() { daemon_->RequestReload(); }

void Service::AddSecret(std::string_view secret) { logger_->AddSecret(secret); }

void Service::Log(LogLevel level, const std::string& text) { logger_->Log(level, text); }

std::vector<std::string> Service::LogTail(size_t lines) const {
  std::vector<std::string> out;
  const std::string& file = logger_->file();
  if (file.empty() || lines == 0) return out;
  std::ifstream in(file, std::ios::binary);
  if (!in) return out;
  // The end of the file only: a line is rarely above 1 KiB.
  const std::streamoff want = static_cast<std::streamoff>(std::min<size_t>(lines, 10'000) * 1024);
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > want ? size - want : 0;
  in.seekg(from);
  std::string line;
  if (from > 0) std::getline(in, line);  // a partial first line
  std::deque<std::string> tail;
  while (std::getline(in, line)) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  out.assign(std::make_move_iterator(tail.begin()), std::make_move_iterator(tail.end()));
  return out;
}

void Service::OnReady() {
  const DaemonSnapshot snap = daemon_->Snapshot();
  alerts_->Start(clock_.Now(), snap.last_success);
  (void)notifier_->Ready("watching " + std::to_string(snap.folders.size()) +
                         (snap.folders.size() == 1 ? " folder" : " folders"));
}

void Service::OnAlive() {
  last_alive_ = SteadyNs();
  alerts_->Check(clock_.Now(), device_, location_);
}

void Service::OnRun(const RunReport& report) {
  alerts_->RunEnded(report, device_, location_);
  (void)notifier_->SetStatus(FormatRunReport(report));
}

void Service::OnReloaded(const Status& st) {
  if (st.ok()) ApplySettings(daemon_->settings());
  (void)notifier_->Ready(st.ok() ? "settings reloaded" : "settings not reloaded");
}

void Service::ApplySettings(const config::Settings& s) {
  if (auto level = ParseLogLevel(s.log_level); level.ok()) logger_->SetLevel(*level);
  if (Status st = alerts_->Configure(s); !st.ok())
    Log(LogLevel::kError, "alerts not reconfigured: " + st.message());
  // A new log file, size or count needs a restart (the open file stays).
}

nlohmann::json Service::StatusAnswer() const {
  json j = SnapshotJson(daemon_->Snapshot(), clock_.Now());
  j["pid"] = ::getpid();
  j["version"] = options_.version;
  j["repository"] = location_;
  j["device"] = device_;
  j["started"] = TimeJson(started_);
  j["log_file"] = logger_->file().empty() ? json(nullptr) : json(logger_->file());
  // What leaves the process goes through the same masking as the log.
  RedactStrings(j, *logger_->redactor());
  return j;
}

Result<nlohmann::json> Service::Handle(const StatusRequest& request) {
  if (request.cmd == "pause") {
    std::optional<std::chrono::seconds> how_long;
    if (request.seconds) how_long = std::chrono::seconds(*request.seconds);
    daemon_->Pause(how_long);
  } else if (request.cmd == "resume") {
    const bool was_paused = daemon_->Snapshot().paused;
    daemon_->Resume();
    json j = StatusAnswer();
    j["was_paused"] = was_paused;
    return j;
  }
  return StatusAnswer();
}

}  // namespace cairn::daemon
