// Repository locks: shared (backup, restore, check) and exclusive (prune,
// key removal). The rules are docs/design.md §11 "Locks"; in short:
//
// A lock is a sealed object locks/<id> naming its holder and an expiry time;
// a background thread refreshes it every ttl/3 while held. A lock whose
// expiry has passed belongs to a dead holder and is ignored (and removed by
// the next exclusive taker). A lock object that cannot be read counts as a
// live lock of any kind until kMaxLockTtl after the storage's modification
// time of it. Taking a lock happens under the backend's mutual-exclusion
// primitive (Backend::TryLock), so two takers never both see "no conflicting
// lock"; that primitive is held for moments only, so a taker waits for it
// (up to kMutexWait) whatever its own wait. An exclusive taker that has to
// wait writes an intent object; new shared takers treat it as a conflict for
// at most its priority window, so a stream of shared takers cannot starve it.
//
// A holder whose lock could not be refreshed in time, or whose lock object
// was removed by someone else, has lost it: lost_token() fires, health()
// says why, and the lock is never refreshed again. A writer must stop
// writing then (see StopToken()).
//
// Thread-safety: a RepoLock is owned by one thread; its refresher is
// internal. health(), lost(), lost_token() and StopToken() may be called
// from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "repo/repository.h"

namespace cairn::repo {

// The ttl a lock is written with is clamped to [kMinLockTtl, kMaxLockTtl].
inline constexpr std::chrono::seconds kMinLockTtl{3};
// Also how long an unreadable lock object counts as live after the storage
// last modified it: no readable lock lives longer without a refresh.
inline constexpr std::chrono::seconds kMaxLockTtl{3600};
// The ttl asked of Backend::TryLock (an Azure lease of 15 s). A taker that
// finds the primitive held waits up to kMutexWait for it: long enough for
// the lease of a holder that died to lapse.
inline constexpr std::chrono::seconds kMutexTtl{15};
inline constexpr std::chrono::seconds kMutexWait{kMutexTtl + std::chrono::seconds(5)};

struct LockOptions {
  bool exclusive = false;
  // Clamped to [kMinLockTtl, kMaxLockTtl]. The holder refreshes every
  // ttl/3 and declares the lock lost when ttl/3 is left before it expires.
  std::chrono::seconds ttl{300};
  // How long to wait for conflicting locks to go away before giving up with
  // Locked. Exclusive operations wait for running backups to finish.
  std::chrono::seconds wait{0};
  // Exclusive takers that wait: how long, from when they start waiting, new
  // shared takers wait behind them (at most kMaxLockTtl). 0: no priority.
  std::chrono::seconds priority{600};
  std::string device;
  std::string operation;  // "backup", "key remove", ... for messages
};

struct LockInfo {
  Id id;
  std::string host, device, operation;
  int64_t pid = 0;
  bool exclusive = false;
  // An exclusive taker waiting for the locks in its way (not a lock itself):
  // shared takers treat it as a conflict until `priority_until`.
  bool intent = false;
  TimeNs created = 0, expires = 0, priority_until = 0;
  // Non-empty when the object could not be read: why. Then only `id`,
  // `mtime` and `expires` (= mtime + kMaxLockTtl, or 0 when the backend did
  // not tell the mtime: then it never expires) are known.
  std::string unreadable;
  TimeNs mtime = 0;  // the storage's modification time of the object

  // Whether it no longer counts at all (its holder is gone): exclusive
  // takers remove such objects.
  bool Expired(TimeNs now) const;
  // Whether it stands in the way of a new shared / exclusive lock now.
  bool BlocksShared(TimeNs now) const;
  bool BlocksExclusive(TimeNs now) const;
  // "a shared lock (backup) held by pid 12 on host x (device y) since ..."
  std::string Describe() const;
};

// The JSON body of a lock object (before sealing): holder, kind, times.
Bytes EncodeLock(const LockInfo& lock);
// Corruption when `body` is not a lock object's JSON; `id` names it.
Result<LockInfo> DecodeLock(const Id& id, ByteView body);

class RepoLock {
 public:
  // Takes the lock, waiting up to options.wait for conflicting locks to go
  // away (Locked, naming one, when they do not). On an error the process
  // holds nothing: the backend lock is released and any object it wrote is
  // removed (best effort; what could not be removed expires).
  static Result<std::unique_ptr<RepoLock>> Acquire(Repository& repo, const LockOptions& options);
  ~RepoLock();  // stops refreshing and removes the lock object(s) it wrote

  // OK while the lock is held. Once lost: Locked, saying why; it stays so.
  Status health() const EXCLUDES(mu_);
  bool lost() const { return lost_.stop_requested(); }
  // Stopped once the lock is lost: promptly after a refresh finds the lock
  // object removed by someone else, or when ttl/3 is left before the last
  // written expiry (refreshes failed meanwhile, or the machine slept),
  // before anyone else may take the repository.
  std::stop_token lost_token() const { return lost_.get_token(); }
  // A token stopped when `outer` is stopped or this lock is lost, for the
  // stop field of a writer's options. Valid while this RepoLock lives.
  std::stop_token StopToken(std::stop_token outer) EXCLUDES(mu_);

  // Every lock object currently in the repository (expired and unreadable
  // ones included; objects removed while listing are left out). The
  // generation object (repo/generation.h) is not a lock: its etag goes to
  // `generation_etag` ("" when absent).
  static Result<std::vector<LockInfo>> ListLocks(Repository& repo,
                                                 std::string* generation_etag = nullptr);

  // The etag of locks/generation in the listing under which this lock was
  // taken ("" when the repository has none): while the lock is held, only
  // this holder (if exclusive) can change it. Compare it with the one the
  // in-memory index was loaded under (Repository::SyncGeneration).
  const std::string& generation_etag() const { return generation_etag_; }

 private:
  struct Linked;

  RepoLock(Repository& repo, LockInfo info, std::chrono::seconds ttl);
  void RefreshLoop(std::stop_token stop);
  void WatchLoop(std::stop_token stop);
  // False (after Lose) once ttl/3 is left before good_until_, or if lost.
  bool CheckExpiry() EXCLUDES(mu_);
  bool Sleep(std::stop_token& stop, std::chrono::milliseconds d);
  // One refresh: checks the current object is still there, writes a new
  // one, removes the old one. Locked when the lock is gone.
  Status RefreshOnce();
  void Lose(const Status& why) EXCLUDES(mu_);
  // Removes the objects of `strays_` that can be removed.
  void RemoveStrays();

  Repository& repo_;
  // The current lock object; written by the refresher, read by the owner
  // only after the refresher stopped.
  LockInfo info_;
  // Objects whose save failed but may have landed: removed when possible.
  std::vector<Id> strays_;
  std::chrono::seconds ttl_;
  std::string generation_etag_;
  // The expiry of the newest object known to be written.
  std::atomic<TimeNs> good_until_{0};
  std::stop_source lost_;
  mutable Mutex mu_;
  Status health_ GUARDED_BY(mu_);
  Status last_error_ GUARDED_BY(mu_);  // of the last refresh, for the message
  std::vector<std::unique_ptr<Linked>> linked_ GUARDED_BY(mu_);
  std::jthread refresher_;
  std::jthread watchdog_;  // looks at the clock while the refresher waits on I/O
};

}  // namespace cairn::repo
