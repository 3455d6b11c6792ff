#include "repo/repo_lock.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "repo/generation.h"
#include "repo/json_number.h"

namespace cairn::repo {

using json = nlohmann::json;
using backend::ObjectName;
using backend::ObjectType;

namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

int64_t Ns(std::chrono::nanoseconds d) { return d.count(); }

// t + d, at most the largest time: the times of lock objects are whatever
// their writer (or the storage's clock) put there.
TimeNs SaturatingAdd(TimeNs t, int64_t d) {
  TimeNs sum;
  if (__builtin_add_overflow(t, d, &sum)) return d > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

ObjectName LockName(const Id& id) { return ObjectName{ObjectType::kLock, id.Hex()}; }

// A new lock (or intent) object of this process, not yet written.
LockInfo NewInfo(const LockOptions& options) {
  LockInfo info;
  info.id = crypto::RandomId();
  info.host = HostName();
  info.pid = getpid();
  info.device = options.device;
  info.operation = options.operation;
  info.exclusive = options.exclusive;
  info.created = NowNs();
  return info;
}

// Writes `info` (with a fresh expiry). On an error the object may still have
// landed (the answer was lost): the caller removes it.
Status WriteLock(Repository& repo, LockInfo& info, std::chrono::seconds ttl) {
  info.expires = NowNs() + Ns(ttl);
  return repo.SaveSealed(ObjectType::kLock, "lock", info.id, EncodeLock(info));
}

// An intent object of an exclusive taker while it waits; removed when it
// stops waiting, whatever the outcome.
class Intent {
 public:
  Intent(Repository& repo, const LockOptions& options, std::chrono::seconds ttl)
      : repo_(repo), options_(options), ttl_(ttl) {}
  ~Intent() { Drop(); }

  const Id* id() const { return current_ ? &current_->id : nullptr; }

  // Writes the intent, or a new one when half of its ttl has passed (the
  // old one is removed after). Errors are ignored: without an intent the
  // taker still waits, only without priority.
  void Keep() {
    TimeNs now = NowNs();
    if (current_ && current_->expires - now > Ns(ttl_) / 2) return;
    LockInfo next = NewInfo(options_);
    next.intent = true;
    if (current_) {
      next.created = current_->created;
      next.priority_until = current_->priority_until;
    } else {
      next.priority_until =
          now + Ns(std::min<std::chrono::seconds>(options_.priority, kMaxLockTtl));
    }
    Status st = WriteLock(repo_, next, ttl_);
    if (!st.ok()) {
      (void)repo_.backend().Remove(LockName(next.id));
      return;
    }
    if (current_) (void)repo_.backend().Remove(LockName(current_->id));
    current_ = next;
  }

  void Drop() {
    if (current_) (void)repo_.backend().Remove(LockName(current_->id));
    current_.reset();
  }

 private:
  Repository& repo_;
  const LockOptions& options_;
  std::chrono::seconds ttl_;
  std::optional<LockInfo> current_;
};

}  // namespace

Bytes EncodeLock(const LockInfo& l) {
  json j = {{"host", l.host},           {"pid", l.pid},
            {"device", l.device},       {"operation", l.operation},
            {"exclusive", l.exclusive}, {"created", l.created},
            {"expires", l.expires}};
  if (l.intent) {
    j["intent"] = true;
    j["priority_until"] = l.priority_until;
  }
  std::string s = j.dump();
  return Bytes(s.begin(), s.end());
}

Result<LockInfo> DecodeLock(const Id& id, ByteView body) {
  try {
    json j = json::parse(AsString(body));
    LockInfo l;
    l.id = id;
    l.host = j.at("host").get<std::string>();
    const std::optional<int64_t> pid = WholeNumber<int64_t>(j.at("pid"));
    const std::optional<int64_t> created = WholeNumber<int64_t>(j.at("created"));
    const std::optional<int64_t> expires = WholeNumber<int64_t>(j.at("expires"));
    const std::optional<int64_t> priority_until = j.contains("priority_until")
                                                      ? WholeNumber<int64_t>(j["priority_until"])
                                                      : std::optional<int64_t>(0);
    if (!pid || !created || !expires || !priority_until)
      return Status::Corruption("lock object is malformed");
    l.pid = *pid;
    l.device = j.value("device", std::string());
    l.operation = j.value("operation", std::string());
    l.exclusive = j.at("exclusive").get<bool>();
    l.created = *created;
    l.expires = *expires;
    l.intent = j.value("intent", false);
    l.priority_until = *priority_until;
    return l;
  } catch (const std::exception& e) {
    return Status::Corruption("lock object is malformed");
  }
}

bool LockInfo::Expired(TimeNs now) const { return expires != 0 && expires < now; }

bool LockInfo::BlocksShared(TimeNs now) const {
  if (Expired(now)) return false;
  if (!unreadable.empty()) return true;  // it may be an exclusive lock
  if (intent) {
    // Bounded by the reader too: no intent holds shared takers back longer
    // than kMaxLockTtl, whatever it says.
    return now < std::min(priority_until, SaturatingAdd(created, Ns(kMaxLockTtl)));
  }
  return exclusive;
}

bool LockInfo::BlocksExclusive(TimeNs now) const {
  // Other exclusive takers' intents do not: the first to find no lock in
  // its way takes the repository, the other waits for its lock.
  return !Expired(now) && !intent;
}

std::string LockInfo::Describe() const {
  if (!unreadable.empty()) {
    return "an unreadable lock object locks/" + id.Hex() + " (" + unreadable + "), written " +
           (mtime ? FormatLocal(mtime) : std::string("at an unknown time")) +
           "; it counts as held " +
           (expires ? "until " + FormatLocal(expires) : std::string("until it is removed"));
  }
  std::string who = "pid " + std::to_string(pid) + " on host " + host +
                    (device.empty() ? std::string() : " (device " + device + ")");
  std::string op = operation.empty() ? std::string("operation") : operation;
  if (intent) {
    return "an exclusive operation (" + op + ") by " + who + ", waiting since " +
           FormatLocal(created) + " for the running operations to finish; new ones wait until " +
           FormatLocal(priority_until) + " at most";
  }
  return (exclusive ? "an exclusive lock (" : "a shared lock (") + op + ") held by " + who +
         " since " + FormatLocal(created) + ", expiring " + FormatLocal(expires) +
         " unless refreshed";
}

Result<std::vector<LockInfo>> RepoLock::ListLocks(Repository& repo, std::string* generation_etag) {
  std::map<std::string, TimeNs> listed;  // hex id -> mtime
  if (generation_etag) generation_etag->clear();
  CAIRN_RETURN_IF_ERROR(repo.backend().List(ObjectType::kLock, [&](const backend::ObjectInfo& i) {
    if (i.name.name == kGenerationObjectName) {  // not a lock (repo/generation.h)
      if (generation_etag) *generation_etag = i.etag;
      return Status::OK();
    }
    listed[i.name.name] = i.mtime;
    return Status::OK();
  }));
  std::vector<LockInfo> out;
  for (const auto& [hex, mtime] : listed) {
    auto id = Id::FromHex(hex);
    LockInfo unreadable;
    unreadable.mtime = mtime;
    unreadable.expires = mtime ? SaturatingAdd(mtime, Ns(kMaxLockTtl)) : 0;
    if (!id.ok()) {
      // Not a name cairn writes; it still counts, as it may be a lock of a
      // newer version.
      unreadable.unreadable = "its name is not an object ID: " + hex.substr(0, 80);
      out.push_back(unreadable);
      continue;
    }
    unreadable.id = *id;
    auto body = repo.LoadSealed(ObjectType::kLock, "lock", *id);
    if (!body.ok() && body.error().IsNotFound()) continue;  // released meanwhile
    Result<LockInfo> info = body.ok() ? DecodeLock(*id, *body) : Result<LockInfo>(body.error());
    if (!info.ok()) {
      // Never "absent": a lock we cannot read may be a live exclusive lock
      // (a transient read error, a damaged object). It counts until no
      // lock could live that long unrefreshed.
      unreadable.unreadable = info.error().message();
      out.push_back(unreadable);
      continue;
    }
    info->mtime = mtime;
    out.push_back(*std::move(info));
  }
  return out;
}

struct RepoLock::Linked {
  struct Request {
    std::stop_source* source;
    void operator()() const { source->request_stop(); }
  };
  std::stop_source source;
  std::optional<std::stop_callback<Request>> on_outer, on_lost;
};

RepoLock::RepoLock(Repository& repo, LockInfo info, std::chrono::seconds ttl)
    : repo_(repo), info_(std::move(info)), ttl_(ttl) {}

Result<std::unique_ptr<RepoLock>> RepoLock::Acquire(Repository& repo, const LockOptions& options) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + options.wait;
  // The mutual-exclusion primitive is held for moments; waiting for it is
  // not waiting for a lock, so it gets its own bound.
  const Clock::time_point mutex_deadline =
      start + std::max<Clock::duration>(options.wait, kMutexWait);
  const auto ttl = std::clamp(options.ttl, kMinLockTtl, kMaxLockTtl);
  Intent intent(repo, options, ttl);
  std::chrono::milliseconds poll(250);
  while (true) {
    std::string conflict, mutex_conflict;
    {
      auto mutex = repo.backend().TryLock("repository", kMutexTtl);
      if (!mutex.ok()) {
        if (mutex.error().code() != StatusCode::kLocked) return mutex.error();
        mutex_conflict = mutex.error().message();
      } else {
        const Clock::time_point taken = Clock::now();
        // Released explicitly (and retried by RetryBackend): a lease left
        // behind makes every other taker wait until it lapses.
        struct Release {
          backend::BackendLock* lock;
          ~Release() { (void)lock->Release(); }
        } release{mutex->get()};
        std::string generation_etag;
        CAIRN_ASSIGN_OR_RETURN(auto locks, ListLocks(repo, &generation_etag));
        TimeNs now = NowNs();
        for (const LockInfo& l : locks) {
          if (intent.id() && l.id == *intent.id()) continue;
          if (l.Expired(now)) {
            if (options.exclusive) (void)repo.backend().Remove(LockName(l.id));
            continue;
          }
          if (options.exclusive ? l.BlocksExclusive(now) : l.BlocksShared(now)) {
            conflict = l.Describe();
            break;
          }
        }
        if (conflict.empty() && Clock::now() - taken > kMutexTtl / 3) {
          // A slow listing: make sure the primitive is still ours before
          // writing, or start over.
          Status held = (*mutex)->Refresh();
          if (!held.ok()) {
            if (held.code() != StatusCode::kLocked) return held;
            conflict = "the repository lock lapsed while the locks were read";
          }
        }
        if (conflict.empty()) {
          std::unique_ptr<RepoLock> lock(new RepoLock(repo, NewInfo(options), ttl));
          lock->generation_etag_ = generation_etag;
          Status st = WriteLock(repo, lock->info_, ttl);
          if (!st.ok()) {
            // It may have landed all the same: never leave it behind.
            (void)repo.backend().Remove(LockName(lock->info_.id));
            return st.WithContext("writing the repository lock");
          }
          intent.Drop();
          lock->good_until_ = lock->info_.expires;
          lock->refresher_ =
              std::jthread([l = lock.get()](std::stop_token st) { l->RefreshLoop(st); });
          lock->watchdog_ =
              std::jthread([l = lock.get()](std::stop_token st) { l->WatchLoop(st); });
          return lock;
        }
        if (options.exclusive && options.priority.count() > 0 && Clock::now() < deadline) {
          intent.Keep();
        }
      }
    }
    const Clock::time_point now = Clock::now();
    if (!mutex_conflict.empty() ? now >= mutex_deadline : now >= deadline) {
      return Status::Locked(
          "the repository is locked: " + (mutex_conflict.empty() ? conflict : mutex_conflict) +
          ". Wait for it to finish; a lock of a process that died expires on its own.");
    }
    std::this_thread::sleep_for(poll);
    poll = std::min(poll * 2, std::chrono::milliseconds(2000));
  }
}

Status RepoLock::RefreshOnce() {
  // Our object gone means someone judged it expired (clocks apart, or we
  // slept) and may have taken the repository since.
  Result<backend::ObjectInfo> current = repo_.backend().Stat(LockName(info_.id));
  if (!current.ok()) {
    if (current.error().IsNotFound()) {
      return Status::Locked("the repository lock object locks/" + info_.id.Hex() +
                            " was removed by someone else");
    }
    return current.error();
  }
  // Write a new object first, then remove the old one, so a reader never
  // sees the holder without a lock.
  LockInfo next = info_;
  next.id = crypto::RandomId();
  Status st = WriteLock(repo_, next, ttl_);
  if (!st.ok()) {
    strays_.push_back(next.id);  // it may have landed
    return st;
  }
  strays_.push_back(info_.id);
  info_ = next;
  RemoveStrays();
  return Status::OK();
}

void RepoLock::RemoveStrays() {
  std::erase_if(strays_, [&](const Id& id) { return repo_.backend().Remove(LockName(id)).ok(); });
}

void RepoLock::Lose(const Status& why) {
  {
    MutexLock g(mu_);
    if (!health_.ok()) return;  // the first reason stays
    health_ = Status::Locked("the repository lock was lost: " + why.message());
  }
  lost_.request_stop();
}

bool RepoLock::CheckExpiry() {
  if (lost()) return false;
  const TimeNs good_until = good_until_.load();
  if (NowNs() < good_until - Ns(ttl_) / 3) return true;
  Status last;
  {
    MutexLock g(mu_);
    last = last_error_;
  }
  Lose(Status::Locked("it was not refreshed since " + FormatLocal(good_until - Ns(ttl_)) +
                      " and expires at " + FormatLocal(good_until) +
                      (last.ok() ? std::string(" (the process did not run meanwhile?)")
                                 : " (" + last.message() + ")")));
  return false;
}

// Waits `d` in steps of `tick`, checking the wall clock at each (it runs on
// while the machine sleeps, when the steady clock and so the wait do not).
// False once stopped or lost.
bool RepoLock::Sleep(std::stop_token& stop, std::chrono::milliseconds d) {
  using Clock = std::chrono::steady_clock;
  std::mutex m;
  std::condition_variable_any cv;
  const auto tick = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 30,
                               std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
  const Clock::time_point until = Clock::now() + d;
  while (true) {
    if (stop.stop_requested() || !CheckExpiry()) return false;
    const Clock::time_point now = Clock::now();
    if (now >= until) return true;
    std::unique_lock lk(m);
    cv.wait_for(lk, stop, std::min<Clock::duration>(tick, until - now), [] { return false; });
  }
}

void RepoLock::WatchLoop(std::stop_token stop) {
  // Only needed while the refresher is stuck in a request: it then cannot
  // look at the clock itself.
  while (Sleep(stop, std::chrono::hours(1))) {
  }
}

void RepoLock::RefreshLoop(std::stop_token stop) {
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3;
  const auto retry = std::max(period / 5, std::chrono::milliseconds(200));
  auto wait = period;
  while (Sleep(stop, wait)) {
    const TimeNs before = good_until_.load();
    Status st = RefreshOnce();
    if (st.ok() && (lost() || NowNs() >= before)) {
      // Written after the loss was declared, or after the old object had
      // expired (a taker may have found the repository free in between):
      // too late either way. Never resurrect the lock.
      strays_.push_back(info_.id);
      RemoveStrays();
      Lose(Status::Locked("it expired at " + FormatLocal(before) + " before it was refreshed"));
      return;
    }
    if (st.ok()) {
      good_until_ = info_.expires;
      MutexLock g(mu_);
      last_error_ = Status::OK();
      wait = period;
    } else if (st.code() == StatusCode::kLocked) {
      Lose(st);
      return;
    } else {
      // Not lost yet: the old object holds until good_until_. Try again soon.
      MutexLock g(mu_);
      last_error_ = st;
      wait = retry;
    }
  }
}

Status RepoLock::health() const {
  MutexLock g(mu_);
  return health_;
}

std::stop_token RepoLock::StopToken(std::stop_token outer) {
  auto linked = std::make_unique<Linked>();
  linked->on_outer.emplace(outer, Linked::Request{&linked->source});
  linked->on_lost.emplace(lost_.get_token(), Linked::Request{&linked->source});
  std::stop_token token = linked->source.get_token();
  MutexLock g(mu_);
  linked_.push_back(std::move(linked));
  return token;
}

RepoLock::~RepoLock() {
  for (std::jthread* t : {&refresher_, &watchdog_}) {
    if (t->joinable()) {
      t->request_stop();
      t->join();
    }
  }
  {
    // Callbacks first: they point into the sources they are stored with.
    MutexLock g(mu_);
    linked_.clear();
  }
  strays_.push_back(info_.id);
  RemoveStrays();
}

}  // namespace cairn::repo
