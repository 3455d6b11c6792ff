// What front ends see of the repository: plain values, independent of the
// format's and the catalog's types, so a CLI, a daemon or a web server never
// include those layers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/time_util.h"
#include "engine/retention.h"

namespace cairn::repo {
struct VersionRecord;
}

namespace cairn::engine {

// One version of one path: a backed-up state or a deletion record.
struct FileVersion {
  std::string path;    // absolute; raw bytes (not necessarily UTF-8)
  std::string device;  // the device that backed it up
  // "file", "dir", "symlink", "hardlink", "fifo", "socket", "chardev",
  // "blockdev", or "deleted" for a deletion record.
  std::string type;
  bool deleted = false;
  // When it was backed up, by the clock of the device that did it (the
  // time a person lived; design.md §10). Versions are ordered by
  // `order_time` (the hybrid logical clock), which a device whose clock ran
  // ahead may have pushed later than this.
  TimeNs backup_time = 0;
  TimeNs order_time = 0;
  uint64_t size = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
  TimeNs mtime = 0;
  std::string sha256;       // hex, regular files only
  std::string link_target;  // symlinks and hard links
  int number = 0;           // Versions(): position among the path's versions, 1 = oldest; else 0
  // The version's stable id (24 hex digits): unlike `number` it never
  // changes, on any machine. See repo/version_id.h.
  std::string id;

  bool is_dir() const { return type == "dir"; }
  bool is_symlink() const { return type == "symlink"; }
};

FileVersion ToFileVersion(const repo::VersionRecord& r);

struct KeyInfo {
  std::string id;  // hex
  TimeNs created = 0;
  std::string label;
  bool current = false;  // the key this session opened the repository with
  uint64_t memlimit = 0, opslimit = 0;
};

struct RepositoryStats {
  std::string location, repo_id;
  std::string device;         // "" = all devices
  uint64_t versions = 0;      // of `device`
  uint64_t paths = 0;         // that exist now
  uint64_t latest_bytes = 0;  // of their newest versions
  uint64_t chunks = 0, packs = 0, stored_bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> devices;  // every device, versions
  struct DeviceStats {
    std::string device;
    uint64_t paths = 0, versions = 0, latest_bytes = 0;
  };
  std::vector<DeviceStats> per_device;  // every device, by name
  // Space (a dry run of `cairn cleanup`; empty space_error when known).
  std::string space_error;
  uint64_t bytes_live = 0, bytes_unused = 0;
  uint64_t cleanup_would_free = 0;     // forget by the settings' rules, then prune, now
  uint64_t unused_kept_in_packs = 0;   // below --max-unused: freed once more of a pack is unused
  uint64_t waiting_for_tier = 0;       // Cool/Cold packs before their minimum duration
  uint64_t young_unindexed_packs = 0;  // a backup may be writing them
  // When a backup of `device` last completed on this machine (0: never).
  // Kept in the local catalog: a backup in which nothing changed writes
  // nothing to the repository, yet it did succeed.
  TimeNs last_backup = 0;
};

// One backup run from the history (every device's runs are in every
// catalog, rebuilt from the repository on a new machine).
struct RunSummary {
  std::string run_id;  // hex
  std::string device;
  TimeNs start = 0, end = 0;  // the device's clock
  bool complete = false;      // false: interrupted (or still running)
  std::vector<std::string> roots;
  uint64_t files_new = 0, files_changed = 0, files_unchanged = 0, bytes_read = 0, bytes_stored = 0,
           errors = 0;
};

struct InitSummary {
  std::string location, repo_id;
};

struct RecoverSummary {
  std::string catalog_path;
  uint64_t segments = 0, versions = 0, paths = 0;
  // Segments that could not be read: the backups they recorded are lost
  // (their data may still be there; `cairn check` names the damage).
  std::vector<std::string> unreadable_segments;
};

// What a compaction did (repo/compaction.h): objects before, merged,
// written and deleted, per kind.
struct CompactSummary {
  uint64_t packs_before = 0, packs_merged = 0, packs_written = 0;
  uint64_t pack_bytes_read = 0, pack_bytes_written = 0;
  uint64_t index_before = 0, index_rewritten = 0, index_written = 0;
  uint64_t segments_before = 0, segments_merged = 0, segments_written = 0;
  uint64_t superseded_deleted = 0, objects_deleted = 0;
  uint64_t generation = 0;
  std::vector<std::string> warnings;
};

// `cairn forget` (retention.h, design.md §19).
struct ForgetRequest {
  RetentionPolicy policy;
  bool dry_run = false;
  // Called for every version judged, in path order (then device, then
  // version order): for --dry-run listings. May be empty.
  std::function<void(const struct ForgetDecision&)> on_version;
};

// One version and what retention decided for it.
struct ForgetDecision {
  std::string path, device, version_id;
  size_t number = 0;  // 1 = the oldest (before this forget)
  TimeNs time = 0;    // wall time of the backup
  bool deleted = false;
  uint64_t size = 0;
  bool keep = true;
  std::string reasons;  // kept: the rules that keep it ("daily, newest")
  std::string dropped;  // dropped: why ("no keep rule keeps it", ...)
};

struct ForgetSummary {
  bool dry_run = false;
  uint64_t paths = 0, versions = 0;
  uint64_t paths_touched = 0;  // paths losing at least one version
  uint64_t versions_dropped = 0;
  // Kept versions per rule (a version kept by two rules counts for both),
  // and dropped versions per reason, by name.
  std::map<std::string, uint64_t> kept_by, dropped_by;
  uint64_t segments_written = 0;
};

// `cairn prune` (design.md §20).
struct PruneRequest {
  double max_unused = 0.10;       // repack a pack above this unused share
  uint64_t max_repack_bytes = 0;  // 0: no cap
  bool ignore_tier_minimum = false;
  bool dry_run = false;
  // With dry_run: judge as if `cairn cleanup` ran first, i.e. the versions
  // the settings' retention rules would drop were forgotten (what a cleanup
  // would free, for `cairn stats`).
  bool as_cleanup = false;
};

// What a prune found, planned and did (sealed bytes as stored).
struct PruneSummary {
  bool dry_run = false;
  // The repository before.
  uint64_t packs = 0, pack_bytes = 0, blobs = 0, blobs_live = 0;
  uint64_t bytes_live = 0, bytes_unused = 0;
  uint64_t referenced_missing = 0;
  // The plan.
  uint64_t packs_to_delete = 0, bytes_to_delete = 0;
  uint64_t packs_to_repack = 0, bytes_to_repack = 0;
  uint64_t unused_bytes_kept = 0;  // in packs below max_unused, or over the repack cap
  uint64_t packs_waiting_for_tier = 0, bytes_waiting_for_tier = 0;
  uint64_t orphan_packs = 0, orphan_bytes = 0, young_orphans = 0;
  uint64_t bytes_to_free = 0;  // what the plan frees
  // Done (zero with dry_run).
  uint64_t pack_bytes_read = 0, packs_written = 0, pack_bytes_written = 0;
  uint64_t index_rewritten = 0, index_written = 0, index_deleted = 0;
  uint64_t packs_rescued = 0, packs_deleted = 0, bytes_freed = 0;
  uint64_t generation = 0;
  double seconds = 0;            // the whole prune
  double exclusive_seconds = 0;  // holding the exclusive lock (backups wait)
  std::vector<std::string> warnings;
};

}  // namespace cairn::engine
