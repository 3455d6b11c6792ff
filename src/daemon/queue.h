// PersistentQueue: the daemon's pending changes on disk, so that a crash, a
// kill -9 or a power loss loses no change the watcher reported, and the
// times the scheduled jobs last ran, so a restart does not reset them.
//
// One SQLite file per repository and device under the state folder
// ($XDG_STATE_HOME/cairn/, see state_paths.h); not the catalog, which is a
// cache that may be deleted and rebuilt at any time.
//
// Per path, the latest event wins, as in watch::ChangeQueue (a removal after
// a change is a removal; a move is a removal of the old path and a change of
// the new one, or a rescan for a folder; a rescan is kept over a later
// change; a folder's removal drops what was pending under it). Each write
// takes a sequence number, so that a backup that took the queue's contents
// at sequence N removes exactly what it backed up: a path recorded again
// after N stays (Remove).
//
// Durability: WAL with synchronous=NORMAL. A committed transaction survives
// the process being killed (it is in the WAL, which the kernel holds);
// after a power loss the last transactions may be lost, but then the
// daemon's catch-up pass on restart compares every watched folder with the
// catalog and finds those changes anyway, so FULL (an fsync per event
// batch, many a minute on a laptop) would buy nothing.
//
// Paths are stored as BLOBs (file names need not be UTF-8).
// Thread-safety: none; one thread at a time (the daemon's loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time_util.h"
#include "watch/watcher.h"

struct sqlite3;

namespace cairn::daemon {

class PersistentQueue {
 public:
  struct Entry {
    std::string path;
    // kChanged, kRemoved or kRescan (moves are split, as in ChangeQueue).
    watch::EventKind kind = watch::EventKind::kChanged;
    bool is_dir = false;
    TimeNs first_seen = 0, last_seen = 0;  // wall clock
    int64_t seq = 0;                       // of the last write
  };

  // Opens or creates the queue file at `path` (its folder must exist).
  // Corruption when it is not a queue file; IOError when it cannot be
  // opened.
  static Result<std::unique_ptr<PersistentQueue>> Open(const std::string& path);
  ~PersistentQueue();
  PersistentQueue(const PersistentQueue&) = delete;
  PersistentQueue& operator=(const PersistentQueue&) = delete;

  // Records `events` at wall time `now`, in one transaction.
  Status Record(std::span<const watch::WatchEvent> events, TimeNs now);
  // Every pending entry, in path order.
  Result<std::vector<Entry>> All();
  // The sequence number of the last write (0 when none yet).
  int64_t last_seq() const { return seq_; }
  // Removes the entries for `paths` not written after `up_to_seq`, in one
  // transaction.
  Status Remove(std::span<const std::string> paths, int64_t up_to_seq);
  // Removes every entry not written after `up_to_seq` (a full pass backed
  // up everything).
  Status RemoveThrough(int64_t up_to_seq);
  Result<uint64_t> Size();

  // When the scheduled job `name` last ran; nullopt when never.
  Result<std::optional<TimeNs>> JobLastRun(const std::string& name);
  Status SetJobLastRun(const std::string& name, TimeNs when);

 private:
  explicit PersistentQueue(sqlite3* db, int64_t seq) : db_(db), seq_(seq) {}
  Status Exec(const char* sql);
  Status Put(watch::EventKind kind, const std::string& path, bool is_dir, TimeNs now);
  Status DropUnder(const std::string& path);

  sqlite3* db_;
  int64_t seq_;
};

}  // namespace cairn::daemon
