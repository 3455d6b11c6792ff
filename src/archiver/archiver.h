// The archiver: backs up paths into a repository and records their versions.
//
// A run walks the given paths, skips files whose metadata (size, mtime,
// ctime, inode, mode, owner) equals their latest version in the catalog,
// reads changed files on a pool of worker threads (read, chunk, hash,
// compress, encrypt, pack), and writes version segments in checkpoints: every
// checkpoint first flushes packs and index, then saves a segment with the
// records completed so far, then ingests it into the catalog. A run killed at
// any moment therefore leaves every checkpointed file restorable and the next
// run reuses the packs already written.
//
// A run in which nothing changed writes no object to the repository
// (BackupSummary::segments is then 0).
//
// Excludes (exclude_filter.h): an excluded path is neither recorded nor
// descended into, and a folder's .cairnignore is read when the walk enters
// it. A path that was backed up and is excluded now keeps its versions (no
// deletion record).
//
// Deletions: for every directory the run reads completely, children that the
// catalog knows but that are gone get a tombstone; a root path that no longer
// exists gets one too (with everything below it).
//
// One file's error never aborts the run: it is reported in the summary, and
// the run is "partial". Repository errors (disk full, lost connection) abort
// the run; what was checkpointed before stays valid.
// Thread-safety: one Archiver runs one backup at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "catalog/catalog.h"
#include "chunk/chunker.h"
#include "repo/repository.h"

namespace cairn::archiver {

struct Progress {
  uint64_t files_seen = 0, files_done = 0, files_unchanged = 0;
  uint64_t bytes_seen = 0, bytes_done = 0;  // of files to read
  uint64_t bytes_stored = 0;                // new sealed bytes
  bool walking = true;                      // still discovering files
  std::string current;                      // a path being read
};

struct BackupOptions {
  std::vector<std::string> paths;  // absolute paths
  std::string device;
  // What is left out (exclude_filter.h): paths matching these patterns
  // (excludes.h), paths .cairnignore files exclude, folders holding a
  // CACHEDIR.TAG (unless exclude_caches is false) and editors' temporary
  // files (unless exclude_editor_temporaries is false).
  std::vector<std::string> exclude_patterns;
  bool exclude_caches = true;
  bool exclude_editor_temporaries = true;
  // A root that does not exist and has no version is nothing to do, not an
  // error: the daemon passes paths that were created and removed again
  // before it looked (a temporary file), or that it never backed up.
  bool missing_roots_ok = false;
  uint64_t max_file_size = 0;  // bytes, 0 = no limit
  unsigned threads = 0;        // 0 = hardware concurrency
  std::chrono::milliseconds checkpoint_interval{20000};
  uint64_t checkpoint_bytes = 512ull << 20;
  // Also checkpoint after this many records, which bounds the memory used to
  // hold and encode them (about 1 KiB per record while encoding).
  size_t checkpoint_records = 20000;
  // Files found by the walker and waiting for a worker. Deep enough that the
  // workers keep busy while the walker stops to checkpoint (ingesting 20,000
  // records into the catalog takes ~0.5-0.8 s on two busy cores, in which
  // two workers back up ~8,000 small files); each entry is a few hundred
  // bytes of metadata.
  size_t max_queued_files = 16384;
  // Called about every 250 ms from a background thread, and once at the end.
  std::function<void(const Progress&)> progress;
  // A stop request ends the run at the next folder: files being read are
  // finished, queued ones dropped, and everything completed is checkpointed,
  // so the next run goes on from there. The run then returns Cancelled.
  std::stop_token stop;
  // The device's wall clock (ns since the epoch): each record's `wall_time`
  // and the floor of its ordering time (design.md §10). Empty: the system
  // clock. Tests give devices skewed clocks.
  std::function<TimeNs()> clock;
  // Every access to the files backed up goes through it; null is
  // DefaultFileSystem(), the real one. Tests pass one that injects faults.
  // Must outlive the run and be safe to use from many threads.
  FileSystem* fs = nullptr;
};

struct BackupSummary {
  Id run_id;
  uint64_t files_new = 0, files_changed = 0, files_unchanged = 0, dirs = 0, others = 0, deleted = 0,
           skipped_special = 0, skipped_size = 0;
  // Entries left out by the exclude rules (patterns, .cairnignore,
  // CACHEDIR.TAG, editors' temporaries); an excluded folder counts as one,
  // whatever it holds.
  uint64_t excluded = 0;
  uint64_t bytes_read = 0, bytes_new_raw = 0, bytes_stored = 0;
  uint64_t segments = 0;
  std::vector<std::string> errors;    // files that could not be read: partial
  std::vector<std::string> warnings;  // notices that do not make the run partial
  double seconds = 0;
  bool partial() const { return !errors.empty(); }
};

// Runs a backup. The catalog must be in sync with the repository (engine's
// SyncCatalog). Returns a non-OK status only for errors that stop the run.
Result<BackupSummary> RunBackup(repo::Repository& repo, catalog::Catalog& catalog,
                                const BackupOptions& options);

}  // namespace cairn::archiver
