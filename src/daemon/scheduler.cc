#include "daemon/scheduler.h"

#include <algorithm>

namespace cairn::daemon {
namespace {

class SystemClock final : public WallClock {
 public:
  TimeNs Now() const override { return NowNs(); }
};

TimeNs Ns(std::chrono::nanoseconds d) { return static_cast<TimeNs>(d.count()); }

}  // namespace

const WallClock& SystemWallClock() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

Scheduler::Scheduler(const WallClock& clock, uint64_t seed) : clock_(clock), rng_(seed) {}

TimeNs Scheduler::DrawJitter(const JobSpec& spec) {
  const TimeNs max = Ns(spec.max_jitter);
  if (max <= 0) return 0;
  return std::uniform_int_distribution<TimeNs>(0, max)(rng_);
}

void Scheduler::SetJob(const JobSpec& spec, std::optional<TimeNs> last_run) {
  auto it = jobs_.find(spec.name);
  if (it != jobs_.end()) {
    const bool changed =
        it->second.spec.interval != spec.interval || it->second.spec.max_jitter != spec.max_jitter;
    it->second.spec = spec;
    if (changed) it->second.jitter = DrawJitter(spec);
    return;
  }
  Job j;
  j.spec = spec;
  j.last_run = last_run.value_or(clock_.Now());
  j.jitter = DrawJitter(spec);
  j.order = jobs_.size();
  jobs_.emplace(spec.name, std::move(j));
}

void Scheduler::Clamp(TimeNs now) {
  for (auto& [name, j] : jobs_) {
    if (j.last_run > now) j.last_run = now;
    // A retry time more than its job's interval away was set before the
    // clock went back.
    if (j.retry_at && *j.retry_at > now + Ns(j.spec.interval)) j.retry_at = now;
  }
}

TimeNs Scheduler::NextOf(const Job& j) const {
  if (j.retry_at) return *j.retry_at;
  return j.last_run + Ns(j.spec.interval) + j.jitter;
}

std::vector<std::string> Scheduler::Due() {
  const TimeNs now = clock_.Now();
  Clamp(now);
  std::vector<const Job*> due;
  for (const auto& [name, j] : jobs_)
    if (NextOf(j) <= now) due.push_back(&j);
  std::sort(due.begin(), due.end(), [](const Job* a, const Job* b) { return a->order < b->order; });
  std::vector<std::string> out;
  out.reserve(due.size());
  for (const Job* j : due) out.push_back(j->spec.name);
  return out;
}

TimeNs Scheduler::Ran(const std::string& name) {
  const TimeNs now = clock_.Now();
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return now;
  it->second.last_run = now;
  it->second.retry_at.reset();
  it->second.jitter = DrawJitter(it->second.spec);
  return now;
}

void Scheduler::Failed(const std::string& name, std::chrono::milliseconds retry_in) {
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  it->second.retry_at = clock_.Now() + Ns(retry_in);
}

std::optional<TimeNs> Scheduler::NextDue() {
  Clamp(clock_.Now());
  std::optional<TimeNs> next;
  for (const auto& [name, j] : jobs_) {
    const TimeNs t = NextOf(j);
    if (!next || t < *next) next = t;
  }
  return next;
}

std::vector<Scheduler::JobState> Scheduler::Jobs() {
  Clamp(clock_.Now());
  std::vector<std::pair<size_t, JobState>> v;
  for (const auto& [name, j] : jobs_) v.push_back({j.order, {name, j.last_run, NextOf(j)}});
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<JobState> out;
  out.reserve(v.size());
  for (auto& [order, s] : v) out.push_back(std::move(s));
  return out;
}

}  // namespace cairn::daemon
