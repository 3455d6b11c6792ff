// Long operations of the web API (backup, restore, cleanup) as jobs: a POST
// answers at once with the job; the work runs on a thread of its own, its
// progress is kept for GET /api/jobs/{id} and published as events that
// every GET /api/events stream sees (docs/api.md, "A job").
//
// Events form one sequence (numbered from 1) kept in a bounded ring: a
// stream remembers the last number it sent and asks for what came after;
// one that fell behind by more than the ring holds skips to the newest
// (every job event carries the job's whole state, so nothing is lost but
// intermediate progress).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "base/time_util.h"
#include "engine/events.h"

namespace cairn::web {

// One published event: "job" (data: the job's JSON) or "status".
struct WebEvent {
  uint64_t seq = 0;
  std::string type;
  nlohmann::json data;
};

class JobManager {
 public:
  // The work: runs on the job's thread with a stop token (cancel) and an
  // event sink (progress, issues); returns the result's JSON or the error.
  using Work = std::function<Result<nlohmann::json>(const engine::JobContext&)>;

  struct Options {
    size_t keep_jobs = 100;                            // finished jobs remembered
    size_t max_running = 8;                            // Start refuses more (Unavailable)
    size_t ring = 1000;                                // events kept for the streams
    size_t max_issues = 100;                           // per job; more are counted only
    std::chrono::milliseconds progress_interval{250};  // per job, at most this often
    std::function<TimeNs()> clock;                     // empty: NowNs
  };
  JobManager();
  explicit JobManager(Options options);
  // Cancels the running jobs and waits for them.
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Starts `work` on a thread of its own; returns the job's JSON (state
  // "running"). Unavailable when max_running jobs run already.
  Result<nlohmann::json> Start(const std::string& kind, const std::string& description,
                               const std::string& who, Work work);
  std::optional<nlohmann::json> Get(const std::string& id) const;
  // Newest first: the running ones and the last keep_jobs finished.
  nlohmann::json List() const;
  nlohmann::json Running() const;
  // Asks the job to stop at its next safe point; false when no such job runs.
  bool Cancel(const std::string& id);
  // The last finished job of each kind: {kind: seconds it took} (metrics).
  std::vector<std::pair<std::string, double>> LastDurations() const;

  // Publishes an event of another kind (the server's "status").
  void Publish(const std::string& type, nlohmann::json data);
  // The events after `after` (at most the ring's), waiting up to `timeout`
  // for one; empty on timeout or when Shutdown was called. The newest
  // sequence number so far: LastSeq.
  std::vector<WebEvent> EventsAfter(uint64_t after, std::chrono::milliseconds timeout);
  uint64_t LastSeq() const;
  // Wakes every waiting stream and makes EventsAfter return at once from now
  // on (the server is stopping). Running jobs are cancelled.
  void Shutdown();

 private:
  struct Job;
  class Sink;
  void PublishLocked(const std::string& type, nlohmann::json data);
  void Finish(const std::shared_ptr<Job>& job, Result<nlohmann::json> result);
  nlohmann::json JsonLocked(const Job& job) const;
  TimeNs Now() const;

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool shutdown_ = false;
  uint64_t next_id_ = 1;
  uint64_t seq_ = 0;
  std::deque<WebEvent> ring_;
  std::list<std::shared_ptr<Job>> jobs_;  // newest first
  std::vector<std::pair<std::string, double>> last_durations_;
  // The jobs' threads by job number; a finished job's number is put in
  // finished_threads_ and its thread joined by the next Start (or the
  // destructor), so threads never pile up.
  std::map<uint64_t, std::jthread> threads_;
  std::vector<uint64_t> finished_threads_;
};

// A job's progress as JSON: docs/api.md's "progress" object.
nlohmann::json ProgressJson(const engine::Progress& p);

}  // namespace cairn::web
