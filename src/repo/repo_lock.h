// Repository locks: shared (backup, restore, check) and exclusive (prune,
// key removal). See docs/design.md "Locks".
//
// A lock is a sealed object locks/<id> naming its holder and an expiry time;
// a background thread refreshes it every ttl/3 while held. A lock whose
// expiry has passed belongs to a dead holder and is ignored (and removed by
// the next exclusive taker). Taking a lock happens under the backend's
// mutual-exclusion primitive (Backend::TryLock), so two takers never both
// see "no conflicting lock".
// Thread-safety: a RepoLock is owned by one thread; its refresher is internal.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "repo/repository.h"

namespace cairn::repo {

struct LockOptions {
  bool exclusive = false;
  std::chrono::seconds ttl{300};
  // How long to wait for conflicting locks to go away before giving up with
  // Locked. Exclusive operations wait for running backups to finish.
  std::chrono::seconds wait{0};
  std::string device;
  std::string operation;  // "backup", "key remove", ... for messages
};

struct LockInfo {
  Id id;
  std::string host, device, operation;
  int64_t pid = 0;
  bool exclusive = false;
  TimeNs created = 0, expires = 0;
  std::string Describe() const;  // "backup by pid 12 on host x (device y) since ..."
};

class RepoLock {
 public:
  static Result<std::unique_ptr<RepoLock>> Acquire(Repository& repo, const LockOptions& options);
  ~RepoLock();  // stops refreshing and removes the lock object
  // Non-OK once a refresh failed in a way that means the lock may be lost.
  Status health() const EXCLUDES(mu_);

  // Every lock object currently in the repository (expired ones included).
  static Result<std::vector<LockInfo>> ListLocks(Repository& repo);

 private:
  RepoLock(Repository& repo, LockInfo info, std::chrono::seconds ttl);
  void RefreshLoop(std::stop_token stop);
  Status Write();

  Repository& repo_;
  LockInfo info_;
  std::chrono::seconds ttl_;
  mutable Mutex mu_;
  Status health_ GUARDED_BY(mu_);
  std::jthread refresher_;
};

}  // namespace cairn::repo
