#include "web/jobs.h"

#include <algorithm>

namespace cairn::web {

using nlohmann::json;

namespace {

json TimeOrNull(TimeNs t) { return t == 0 ? json(nullptr) : json(FormatRfc3339(t)); }

const char* SeverityName(engine::PathIssue::Severity s) {
  return s == engine::PathIssue::Severity::kWarning ? "warning" : "error";
}

}  // namespace

json ProgressJson(const engine::Progress& p) {
  json j = {{"operation", p.operation},
            {"phase", p.phase},
            {"files_done", p.files_done},
            {"files_total", p.files_total},
            {"files_unchanged", p.files_unchanged},
            {"bytes_done", p.bytes_done},
            {"bytes_total", p.bytes_total},
            {"bytes_stored", p.bytes_stored},
            {"units_done", p.units_done},
            {"units_total", p.units_total},
            {"bytes_per_second", p.bytes_per_second},
            {"eta_seconds", p.eta_seconds ? json(*p.eta_seconds) : json(nullptr)}};
  return j;
}

struct JobManager::Job {
  uint64_t number = 0;
  std::string id, kind, description, who;
  std::string state = "running";
  TimeNs started = 0, ended = 0;
  json progress = nullptr;
  json issues = json::array();
  uint64_t issue_count = 0;
  json notices = json::array();
  json result = nullptr;
  std::string error, error_code;
  std::stop_source stop;
  std::chrono::steady_clock::time_point last_progress{};
};

// The job's event sink: keeps the newest progress and the first issues, and
// publishes the job at most every progress_interval (issues at once).
class JobManager::Sink : public engine::EventSink {
 public:
  Sink(JobManager& m, std::shared_ptr<Job> job) : m_(m), job_(std::move(job)) {}
  void OnProgress(const engine::Progress& p) override {
    std::lock_guard lock(m_.mu_);
    job_->progress = ProgressJson(p);
    const auto now = std::chrono::steady_clock::now();
    if (p.final || now - job_->last_progress >= m_.options_.progress_interval) {
      job_->last_progress = now;
      m_.PublishLocked("job", m_.JsonLocked(*job_));
    }
  }
  void OnIssue(const engine::PathIssue& issue) override {
    std::lock_guard lock(m_.mu_);
    ++job_->issue_count;
    if (job_->issues.size() < m_.options_.max_issues) {
      job_->issues.push_back({{"severity", SeverityName(issue.severity)},
                              {"path", issue.path},
                              {"message", issue.message}});
      m_.PublishLocked("job", m_.JsonLocked(*job_));
    }
  }
  void OnNotice(const std::string& text) override {
    std::lock_guard lock(m_.mu_);
    if (job_->notices.size() < 20) job_->notices.push_back(text);
  }

 private:
  JobManager& m_;
  std::shared_ptr<Job> job_;
};

JobManager::JobManager() : JobManager(Options{}) {}
JobManager::JobManager(Options options) : options_(std::move(options)) {}

JobManager::~JobManager() {
  Shutdown();
  std::map<uint64_t, std::jthread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  threads.clear();  // joins (the jobs were asked to stop)
}

TimeNs JobManager::Now() const { return options_.clock ? options_.clock() : NowNs(); }

json JobManager::JsonLocked(const Job& j) const {
  json out = {{"id", j.id},
              {"kind", j.kind},
              {"state", j.state},
              {"description", j.description},
              {"who", j.who},
              {"started", TimeOrNull(j.started)},
              {"ended", TimeOrNull(j.ended)},
              {"progress", j.progress},
              {"issues", j.issues},
              {"issue_count", j.issue_count},
              {"notices", j.notices},
              {"result", j.result},
              {"error", j.error.empty() ? json(nullptr) : json(j.error)}};
  if (!j.error_code.empty()) out["error_code"] = j.error_code;
  return out;
}

void JobManager::PublishLocked(const std::string& type, json data) {
  ring_.push_back(WebEvent{++seq_, type, std::move(data)});
  while (ring_.size() > options_.ring) ring_.pop_front();
  changed_.notify_all();
}

void JobManager::Publish(const std::string& type, json data) {
  std::lock_guard lock(mu_);
  PublishLocked(type, std::move(data));
}

Result<json> JobManager::Start(const std::string& kind, const std::string& description,
                               const std::string& who, Work work) {
  std::vector<std::jthread> done;  // joined outside the lock
  std::shared_ptr<Job> job = std::make_shared<Job>();
  json first;
  {
    std::lock_guard lock(mu_);
    for (uint64_t n : finished_threads_) {
      auto it = threads_.find(n);
      if (it != threads_.end()) {
        done.push_back(std::move(it->second));
        threads_.erase(it);
      }
    }
    finished_threads_.clear();
    if (shutdown_) return Status::Unavailable("the server is stopping");
    size_t running = std::count_if(jobs_.begin(), jobs_.end(),
                                   [](const auto& j) { return j->state == "running"; });
    if (running >= options_.max_running) {
      return Status::Unavailable(std::to_string(running) +
                                 " jobs are running already; wait for one to end");
    }
    job->number = next_id_++;
    job->id = "j" + std::to_string(job->number);
    job->kind = kind;
    job->description = description;
    job->who = who;
    job->started = Now();
    jobs_.push_front(job);
    // Forget the oldest finished jobs beyond keep_jobs.
    size_t finished = 0;
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if ((*it)->state != "running" && ++finished > options_.keep_jobs) {
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
    first = JsonLocked(*job);
    PublishLocked("job", first);
    threads_[job->number] = std::jthread([this, job, work = std::move(work)] {
      Sink sink(*this, job);
      Result<json> r = [&]() -> Result<json> {
        try {
          return work(engine::JobContext{job->stop.get_token(), &sink});
        } catch (const std::exception& e) {
          return Status::IOError(std::string("the job failed: ") + e.what());
        }
      }();
      Finish(job, std::move(r));
    });
  }
  done.clear();
  return first;
}

void JobManager::Finish(const std::shared_ptr<Job>& job, Result<json> result) {
  std::lock_guard lock(mu_);
  job->ended = Now();
  if (result.ok()) {
    job->state = "succeeded";
    job->result = std::move(result).value();
  } else {
    job->state = result.error().code() == StatusCode::kCancelled ? "cancelled" : "failed";
    job->error = result.error().message();
    job->error_code = StatusCodeName(result.error().code());
  }
  const double seconds = static_cast<double>(job->ended - job->started) / 1e9;
  auto it = std::find_if(last_durations_.begin(), last_durations_.end(),
                         [&](const auto& p) { return p.first == job->kind; });
  if (it == last_durations_.end()) {
    last_durations_.emplace_back(job->kind, seconds);
  } else {
    it->second = seconds;
  }
  finished_threads_.push_back(job->number);
  PublishLocked("job", JsonLocked(*job));
}

std::optional<json> JobManager::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  for (const auto& j : jobs_)
    if (j->id == id) return JsonLocked(*j);
  return std::nullopt;
}

json JobManager::List() const {
  std::lock_guard lock(mu_);
  json out = json::array();
  for (const auto& j : jobs_) out.push_back(JsonLocked(*j));
  return out;
}

json JobManager::Running() const {
  std::lock_guard lock(mu_);
  json out = json::array();
  for (const auto& j : jobs_)
    if (j->state == "running") out.push_back(JsonLocked(*j));
  return out;
}

bool JobManager::Cancel(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& j : jobs_) {
    if (j->id == id && j->state == "running") {
      j->stop.request_stop();
      return true;
    }
  }
  return false;
}

std::vector<std::pair<std::string, double>> JobManager::LastDurations() const {
  std::lock_guard lock(mu_);
  return last_durations_;
}

std::vector<WebEvent> JobManager::EventsAfter(uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return shutdown_ || seq_ > after; });
  std::vector<WebEvent> out;
  if (shutdown_) return out;
  for (const WebEvent& e : ring_)
    if (e.seq > after) out.push_back(e);
  return out;
}

uint64_t JobManager::LastSeq() const {
  std::lock_guard lock(mu_);
  return seq_;
}

void JobManager::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  for (const auto& j : jobs_)
    if (j->state == "running") j->stop.request_stop();
  changed_.notify_all();
}

}  // namespace cairn::web
