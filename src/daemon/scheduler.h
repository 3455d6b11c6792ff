// Scheduler: when the daemon's periodic jobs are due (the original design's
// three: a full pass every backup_interval_minutes, cleanup every 24 h and,
// here, compaction every 6 h).
//
// A job is due one interval (plus its jitter) after it last ran, not on a
// fixed grid: a machine that slept through three slots runs the job once on
// wake-up, then one interval later. Time is the wall clock, which keeps
// counting while the machine sleeps (the steady clock, CLOCK_MONOTONIC,
// stops during a suspend, so a 6-hour job would wait 6 hours of *awake*
// time) and which, unlike the steady clock, means the same after a restart,
// so last runs can be persisted. The wall clock can also be set back: a
// last run in the future is treated as "just now" (the job is not held off
// for the length of the jump). Set forward, it makes jobs due at once:
// each runs once.
//
// Jitter: each job's next due time adds a random delay in [0, max_jitter],
// drawn again after every run, so devices that started together drift
// apart.
//
// The clock is an interface so tests move it by hand (suspend, resume and
// clock changes included); the scheduler runs nothing itself.
// Thread-safety: none; one thread at a time (the daemon's loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/time_util.h"

namespace cairn::daemon {

// The wall clock the daemon's schedules read (ns since the epoch).
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual TimeNs Now() const = 0;
};

// The system's clock (CLOCK_REALTIME), shared, never destroyed.
const WallClock& SystemWallClock();

struct JobSpec {
  std::string name;
  std::chrono::seconds interval{3600};  // > 0
  std::chrono::seconds max_jitter{0};   // added at random to each interval
};

class Scheduler {
 public:
  // `clock` must outlive the scheduler. `seed` feeds the jitter (tests give
  // a fixed one).
  Scheduler(const WallClock& clock, uint64_t seed);

  // Adds the job, or changes its interval and jitter (a reload) keeping its
  // last run. `last_run`: when it last ran (persisted by the caller);
  // nullopt counts as now (a job never run is due one interval after the
  // daemon first starts). Ignored for a job that is already there.
  void SetJob(const JobSpec& spec, std::optional<TimeNs> last_run);

  // The names of the jobs due now, in the order they were added. Each
  // stays due until Ran or Failed is called for it.
  std::vector<std::string> Due();
  // The job ran (successfully or not worth retrying): its next time is one
  // interval (plus a new jitter) from now. Returns now, the last run to
  // persist. Unknown names are ignored (returns now).
  TimeNs Ran(const std::string& name);
  // The job could not run (the repository was unreachable): due again after
  // `retry_in`, its last run unchanged.
  void Failed(const std::string& name, std::chrono::milliseconds retry_in);

  // When the next job falls due (perhaps already); nullopt with no jobs.
  std::optional<TimeNs> NextDue();

  struct JobState {
    std::string name;
    TimeNs last_run = 0;
    TimeNs next_due = 0;
  };
  // For status: every job with its last run and next due time.
  std::vector<JobState> Jobs();

 private:
  struct Job {
    JobSpec spec;
    TimeNs last_run = 0;
    TimeNs jitter = 0;               // ns, drawn after each run
    std::optional<TimeNs> retry_at;  // after Failed
    size_t order = 0;
  };
  TimeNs DrawJitter(const JobSpec& spec);
  // Brings last runs that lie in the future (the clock was set back) to now.
  void Clamp(TimeNs now);
  TimeNs NextOf(const Job& j) const;

  const WallClock& clock_;
  std::mt19937_64 rng_;
  std::map<std::string, Job> jobs_;
};

}  // namespace cairn::daemon
