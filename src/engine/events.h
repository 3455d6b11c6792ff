// How a running job talks to its front end: progress, per-path problems and
// notices, delivered to an EventSink as structured values (the CLI prints
// them on one line, the dashboard will stream them), and a stop token to
// cancel it.
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>

namespace cairn::engine {

struct Progress {
  std::string operation;  // "backup", "restore", "check", "sync"
  std::string phase;      // e.g. "scanning", "reading", "restoring", "reading data"
  // Totals found so far: while a backup is "scanning" they still grow.
  uint64_t files_done = 0, files_total = 0;  // files_total 0: not known yet
  uint64_t files_unchanged = 0;              // backup: skipped by metadata
  uint64_t bytes_done = 0, bytes_total = 0;  // bytes_total 0: not known yet
  uint64_t bytes_stored = 0;                 // backup: new bytes written
  uint64_t units_done = 0, units_total = 0;  // check: packs; sync: segments
  double bytes_per_second = 0;
  std::optional<double> eta_seconds;  // when the total is known and there is a rate
  bool final = false;                 // the last event of the job
};

// A problem with one path (or one repository object) that does not stop
// the job.
struct PathIssue {
  enum class Severity { kWarning, kError };
  Severity severity = Severity::kError;
  std::string path;     // the file, folder or object concerned; "" when none
  std::string message;  // what went wrong and what to do
};

// Receives a job's events. Called from the job's threads (progress from a
// background thread about every 250 ms): implementations synchronise
// themselves and return quickly.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnProgress(const Progress&) {}
  virtual void OnIssue(const PathIssue&) {}
  // Something the person should know that concerns no path (e.g. running
  // without a lock on read-only credentials).
  virtual void OnNotice(const std::string&) {}
};

// What every job takes: a stop token (request_stop on its source cancels the
// job at the next safe point; what was completed is kept) and where its
// events go (may be null).
struct JobContext {
  std::stop_token stop;
  EventSink* events = nullptr;
};

}  // namespace cairn::engine
