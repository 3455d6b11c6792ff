// The catalog: a local SQLite database caching every version record found in
// the repository, so that listing, search and version history need no
// repository access. It is only a cache: delete it (Catalog::Remove) and it is
// rebuilt from the repository's version segments. It remembers which segments
// it has ingested, so ingestion is incremental and idempotent, and keeps a
// history of the backup runs those segments came from.
//
// Order and time: the versions of a path are ordered by backup_time (the
// hybrid logical clock of docs/design.md §10), ties broken by ingestion order
// (later wins). "The latest version" is the last in that order. "The state at
// `at`" of a path is the last version in that order among those whose
// wall-clock time (VersionRecord::WallTime(): the recording device's own
// clock) is <= at, so `at` means the time as the person lived it, while the
// order between versions stays the clock's. When that version is a tombstone
// the path does not exist at `at`. Use kLatest for "now" (the latest
// version, whatever the clocks said).
//
// Devices: every query takes a device; an empty device means all devices. The
// same path on two devices is two separate paths; results covering several
// devices are ordered by (path bytes, device).
//
// Errors: a file that is not a catalog, is damaged, or has another schema
// version yields Corruption (from Open or from any later call): the caller
// should Remove() the file and rebuild. A catalog being written by another
// process is waited for up to a few seconds, then Locked.
//
// Thread-safety: a Catalog is not thread-safe; use it from one thread at a
// time. Several Catalog objects (in one or several processes) may open the
// same file. The callbacks of ListTree/ListChildren/Find must not write to the
// catalog (they may read it).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "base/time_util.h"
#include "repo/version_id.h"
#include "repo/version_record.h"
#include "repo/version_segment.h"

namespace cairn::catalog {

// "The latest state": pass as `at`.
inline constexpr TimeNs kLatest = std::numeric_limits<TimeNs>::max();

// A backup run's statistics, as its final segment states them.
struct RunStats {
  uint64_t files_new = 0, files_changed = 0, files_unchanged = 0, bytes_read = 0, bytes_stored = 0,
           errors = 0;
  bool operator==(const RunStats&) const = default;
};

// What the catalog keeps of a segment's header besides its records: the run
// it belongs to, for the run history.
struct SegmentInfo {
  Id run_id;              // all zero: no run (the history ignores the segment)
  uint32_t sequence = 0;  // 0, 1, 2... within the run
  bool final = false;     // the run's last segment: it completed
  std::string device;
  TimeNs created = 0;  // the recording device's clock
  std::vector<std::string> roots;
  // The segment replaces others (compaction): it carries records of earlier
  // runs and is not a run of its own; `runs` says what it knows of those
  // runs (design.md §8, key `runs`), so their history survives compaction.
  bool compacted = false;
  std::vector<repo::RunInfo> runs;
  RunStats stats;  // meaningful in the final segment
  // Versions forgotten by retention (repo::VersionSegment::forget): gone
  // from every answer from now on, even when met later in another segment.
  std::vector<repo::VersionId> forget;

  static SegmentInfo Of(const repo::VersionSegment& segment);
};

// One backup run, built from the headers of its segments as they were
// ingested. Kept when those segments go (compaction, prune): only Clear drops
// it.
struct RunInfo {
  Id run_id;
  std::string device;
  TimeNs start = 0;                // the earliest segment's `created`
  TimeNs end = 0;                  // the newest segment's `created` (the final one's when complete)
  bool complete = false;           // its final segment was seen
  std::vector<std::string> roots;  // empty when known only from a compacted segment
  RunStats stats;                  // from the final segment; zero while incomplete
  bool operator==(const RunInfo&) const = default;
};

// Catalog::Find's options.
struct FindOptions {
  // Also paths whose latest version is a deletion record, as that record
  // (deleted, its backup_time when the deletion was recorded).
  bool include_deleted = false;
};

class Catalog {
 public:
  // Bumped whenever the schema changes; a catalog with another version is
  // reported as Corruption (rebuild it).
  // 2: versions.vid, segments.first_seq. 3: paths as a tree of names,
  // records as one BLOB, wall-clock time, run history.
  static constexpr int kSchemaVersion = 5;

  struct OpenOptions {
    // Also run SQLite's quick_check, which reads the whole file (about 0.3 s
    // per 100k versions). Without it, damage inside the file is still
    // reported as Corruption, by the first call that reads the damaged part.
    bool check_integrity = false;
  };

  // Opens or creates the database at `path` (parent directories are created
  // with mode 0700, the file with 0600), in WAL mode. Returns Corruption for a
  // file that is not an SQLite database, not a catalog, of another schema
  // version, or (with check_integrity) damaged.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path, const OpenOptions& options);
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path) {
    return Open(path, OpenOptions());
  }
  // Deletes the database at `path` with its -wal/-shm files. OK if absent.
  // REQUIRES: no Catalog has it open.
  static Status Remove(const std::string& path);

  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // ---- Ingestion -------------------------------------------------------

  // Ingests one segment's records atomically, and its header into the run
  // history. A segment already ingested is skipped (OK). Records must have a
  // non-empty path.
  Status AddSegment(const Id& segment_id, const SegmentInfo& info,
                    const std::vector<repo::VersionRecord>& records);
  struct NewSegment {
    Id id;
    SegmentInfo info;
    std::vector<repo::VersionRecord> records;
  };
  // Ingests many segments in one transaction: all or nothing.
  Status AddSegments(const std::vector<NewSegment>& segments);
  // Adds a segment's header to the run history without its records: for a
  // segment superseded (compacted) before this catalog ingested it, so that
  // its run is not missing from the history. Idempotent.
  Status AddRunHistory(const SegmentInfo& info);
  Result<bool> HasSegment(const Id& segment_id);
  // Forgets the records of these segments (removed from the repository, or
  // superseded by a compacted segment), atomically: each path then shows its
  // newest remaining version, and a path left with none is gone. Costs the
  // removed records, not the catalog's size. Unknown ids are ignored. The run
  // history is kept.
  Status RemoveSegments(const std::vector<Id>& segment_ids);
  // All ingested segment ids, in ingestion order.
  Result<std::vector<Id>> Segments();
  // Remembers segments that an ingested segment supersedes (so they are
  // never ingested, even when met in a later sync), and the ids known so.
  // ForgetSuperseded drops ids no longer in the repository.
  Status MarkSuperseded(const std::vector<Id>& segment_ids);
  Result<std::vector<Id>> Superseded();
  Status ForgetSuperseded(const std::vector<Id>& segment_ids);
  // Drops every record, segment, run and meta entry (before a rebuild).
  Status Clear();

  // Explicit transactions around many writes (much faster than one
  // transaction per AddSegment). Calls nest: only the outermost Commit makes
  // the changes durable; Rollback undoes the changes since the matching Begin.
  // REQUIRES for Commit/Rollback: a matching Begin.
  Status Begin();
  Status Commit();
  Status Rollback();

  // Key/value metadata, e.g. the identity of the repository the catalog
  // belongs to (so a catalog of another repository is never used).
  Status SetMeta(std::string_view key, std::string_view value);
  Result<std::optional<std::string>> GetMeta(std::string_view key);

  // ---- Queries ---------------------------------------------------------

  // The state of `path` at `at` (see the top of this file); nullopt if it
  // has no version then or the version is a tombstone. With an empty device,
  // the last in order over all devices.
  Result<std::optional<repo::VersionRecord>> Lookup(std::string_view device, std::string_view path,
                                                    TimeNs at);
  // Every version of `path`, tombstones included, oldest first: ordered by
  // (backup_time, ingestion order), whatever their wall-clock times. The
  // index + 1 is the user-visible version number.
  Result<std::vector<repo::VersionRecord>> Versions(std::string_view device, std::string_view path);
  // The version with this stable id (repo/version_id.h), tombstones
  // included; nullopt if the catalog has none.
  Result<std::optional<repo::VersionRecord>> VersionById(const repo::VersionId& id);
  // Streams the state at `at` of every existing path equal to `root` or under
  // `root/` (recursive), or of the direct children of `root` (non-recursive;
  // root itself excluded), sorted by path bytes (then device). "/" is the
  // whole tree; a trailing '/' on root is ignored. Stops at, and returns, the
  // first non-OK status from fn. InvalidArgument if root is not absolute.
  Status ListTree(std::string_view device, std::string_view root, TimeNs at, bool recursive,
                  const std::function<Status(const repo::VersionRecord&)>& fn);
  // ListTree's non-recursive listing, a page at a time: the direct children
  // of `root` whose names sort after `after` (bytes; "" = from the first),
  // until `limit` entries were given to fn (0 = no limit). The entries of
  // one name (one per device) are never split between pages, so a page of
  // several devices may end with up to (devices - 1) more. Returns the name
  // to pass as `after` for the next page (the last one emitted) when the
  // limit was reached and an entry follows, else "". Reads the folder's
  // rows in name order only as far as the page goes (and on to the next
  // entry: past names with no state at `at`, or deleted), so the first page
  // of a folder of 100,000 names costs about the page, not the folder.
  Result<std::string> ListChildren(std::string_view device, std::string_view root, TimeNs at,
                                   std::string_view after, size_t limit,
                                   const std::function<Status(const repo::VersionRecord&)>& fn);
  // Streams the latest, non-deleted version of every path whose full path or
  // base name matches `pattern` (see base/glob_match.h; bytes, case-insensitive
  // for ASCII, '\' escapes, "[!..]" or "[^..]" negates), sorted by path bytes
  // (then device); with options.include_deleted, also the deletion record of
  // each matching path whose latest version is one, in the same order.
  Status Find(std::string_view device, std::string_view pattern,
              const std::function<Status(const repo::VersionRecord&)>& fn,
              const FindOptions& options = {});
  // The archiver's "unchanged file" test: the latest version of `path` on
  // `device`; nullopt if none or a tombstone. REQUIRES: !device.empty().
  // Paths asked in walk order (siblings one after the other) cost two
  // indexed lookups each: the folders above are remembered between calls.
  Result<std::optional<repo::VersionRecord>> LatestForSkip(std::string_view device,
                                                           std::string_view path);

  // Every path's versions on `device` (all devices if empty; one call per
  // (path, device)), oldest first in version order, tombstones included:
  // what retention judges. Costs one pass over the versions (sorted by
  // SQLite) and one decode per version. Stops at fn's first non-OK status.
  Status ForEachHistory(std::string_view device,
                        const std::function<Status(std::vector<repo::VersionRecord>&&)>& fn);
  // As ForEachHistory, but the records' paths are left empty: `path()` gives
  // the history's path when the caller needs it (one lookup, then
  // remembered; valid during the call only), so a pass that needs few paths
  // (retention keeps most versions) does not pay for every one.
  using PathFn = std::function<Result<std::string>()>;
  Status ForEachHistoryLazyPath(
      std::string_view device,
      const std::function<Status(std::vector<repo::VersionRecord>&&, const PathFn&)>& fn);

  // The chunk ids of every file version the catalog holds (forgotten versions
  // are not held; tombstones have none), each version's list in order, in
  // no particular order of versions: what prune marks as in use. One pass
  // over the versions table, decoding no path. Stops at fn's first non-OK
  // status.
  Status ForEachChunkList(const std::function<Status(const std::vector<Id>&)>& fn);

  // The greatest backup_time of any version (0 if empty): the floor of the
  // hybrid logical clock.
  Result<TimeNs> MaxBackupTime();
  // Every device with its number of versions (tombstones included), by name.
  Result<std::vector<std::pair<std::string, uint64_t>>> Devices();
  struct Totals {
    uint64_t versions = 0;      // all versions, tombstones included
    uint64_t paths = 0;         // paths that exist now (latest version not a tombstone)
    uint64_t latest_bytes = 0;  // sum of the sizes of the regular files among those
  };
  Result<Totals> GetTotals(std::string_view device);

  // The run history of `device` (all devices if empty), newest first (by
  // `start`), at most `limit` runs.
  Result<std::vector<RunInfo>> Runs(std::string_view device, size_t limit);
  // The complete run of `device` (all devices if empty) that ended last;
  // nullopt if none.
  Result<std::optional<RunInfo>> LastCompleteRun(std::string_view device);

  // The implementation (src/catalog only; opaque to callers).
  class Impl;

 private:
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::catalog
