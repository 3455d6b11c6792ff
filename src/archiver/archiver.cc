#include "archiver/archiver.h"

#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "archiver/exclude_filter.h"
#include "archiver/file_reader.h"
#include "crypto/crypto.h"

namespace cairn::archiver {

namespace {

using repo::FileType;
using repo::VersionRecord;

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir == "/") return "/" + name;
  return dir + "/" + name;
}

// Same file content and metadata as the catalog's latest version: skip it.
bool Unchanged(const VersionRecord& now, const VersionRecord& prev) {
  return prev.type == now.type && prev.size == now.size && prev.mtime == now.mtime &&
         prev.ctime == now.ctime && prev.inode == now.inode && prev.mode == now.mode &&
         prev.uid == now.uid && prev.gid == now.gid && prev.link_target == now.link_target &&
         prev.rdev == now.rdev;
}

class Run {
 public:
  Run(repo::Repository& repo, catalog::Catalog& catalog, const BackupOptions& options)
      : repo_(repo),
        catalog_(catalog),
        options_(options),
        fs_(options.fs ? *options.fs : DefaultFileSystem()),
        chunker_(repo.config().chunker),
        filter_(ExcludeOptions{options.exclude_patterns, options.exclude_caches,
                               options.exclude_editor_temporaries},
                fs_, [this](const std::string& w) { AddWarning(w); }),
        max_queued_(std::max<size_t>(1, options.max_queued_files)),
        low_water_(max_queued_ - max_queued_ / 8) {}

  Result<BackupSummary> Execute();

 private:
  struct FileJob {
    VersionRecord rec;
    bool existed;  // had a previous version
  };

  void Worker();
  void ProgressLoop(std::stop_token st);
  Status WalkRoot(const std::string& root);
  Status WalkDir(const std::string& dir);
  Status Visit(const std::string& path, const struct stat& st,
               const std::optional<VersionRecord>& prev);
  Status TombstoneTree(const std::string& path);
  void Submit(FileJob job);
  void AddRecord(VersionRecord rec);
  void AddError(std::string msg);
  void AddWarning(std::string msg);
  Status MaybeCheckpoint(bool final);
  Status Checkpoint(bool final);
  // The next ordering time (hybrid logical clock) and the wall clock it was
  // taken from.
  std::pair<TimeNs, TimeNs> Tick();
  // What this run stored: the repository's counters (which live as long as
  // the open repository, for many runs) minus their values at the start.
  repo::StoreStats RunStoreStats();
  repo::StoreStats stats_at_start_;
  std::unordered_set<std::string> parents_seen_;  // walker thread only

  repo::Repository& repo_;
  catalog::Catalog& catalog_;
  const BackupOptions& options_;
  FileSystem& fs_;  // every file access of the run
  chunk::Chunker chunker_;
  ExcludeFilter filter_;
  // The .cairnignore rules in force in the folder being walked (walker
  // thread only).
  ExcludeFilter::RuleChain chain_;
  BackupSummary summary_;
  Id run_id_ = crypto::RandomId();
  uint32_t sequence_ = 0;

  std::mutex clock_mu_;
  TimeNs last_time_ = 0;

  // Work queue. A walker that found it full (max_queued_) sleeps until it
  // has drained to low_water_: it wakes once per max/8 files instead of once
  // per file, and the queue stays nearly full for the next checkpoint.
  const size_t max_queued_, low_water_;
  std::mutex mu_;
  std::condition_variable queue_cv_, space_cv_, idle_cv_;
  std::deque<FileJob> queue_;
  size_t busy_ = 0;
  bool stopping_ = false;
  Status fatal_;

  // Results waiting for the next checkpoint.
  std::vector<VersionRecord> done_;
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, std::string>> hardlinks_;

  std::atomic<uint64_t> files_seen_{0}, files_done_{0}, files_unchanged_{0}, bytes_seen_{0},
      bytes_done_{0};
  std::atomic<bool> walking_{true};
  std::chrono::steady_clock::time_point last_checkpoint_ = std::chrono::steady_clock::now();
  uint64_t bytes_at_checkpoint_ = 0;
};

repo::StoreStats Run::RunStoreStats() {
  repo::StoreStats now = repo_.store_stats();
  const repo::StoreStats& s = stats_at_start_;
  now.blobs_new -= s.blobs_new;
  now.blobs_duplicate -= s.blobs_duplicate;
  now.bytes_raw_new -= s.bytes_raw_new;
  now.bytes_stored_new -= s.bytes_stored_new;
  now.packs_written -= s.packs_written;
  now.index_objects_written -= s.index_objects_written;
  return now;
}

std::pair<TimeNs, TimeNs> Run::Tick() {
  std::lock_guard lock(clock_mu_);
  TimeNs wall = options_.clock ? options_.clock() : NowNs();
  last_time_ = std::max(wall, last_time_ + 1);
  return {last_time_, wall};
}

void Run::AddRecord(VersionRecord rec) {
  rec.device = options_.device;
  std::tie(rec.backup_time, rec.wall_time) = Tick();
  std::lock_guard lock(mu_);
  done_.push_back(std::move(rec));
}

void Run::AddError(std::string msg) {
  std::lock_guard lock(mu_);
  summary_.errors.push_back(std::move(msg));
}

void Run::AddWarning(std::string msg) {
  std::lock_guard lock(mu_);
  summary_.warnings.push_back(std::move(msg));
}

void Run::Submit(FileJob job) {
  std::unique_lock lock(mu_);
  if (queue_.size() >= max_queued_) {
    space_cv_.wait(lock, [&] { return queue_.size() <= low_water_ || !fatal_.ok(); });
  }
  queue_.push_back(std::move(job));
  queue_cv_.notify_one();
}

void Run::Worker() {
  while (true) {
    FileJob job;
    {
      std::unique_lock lock(mu_);
      queue_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      if (queue_.size() == low_water_) space_cv_.notify_one();
    }
    Status st;
    bool skip = false;
    // After a stop request, queued files are dropped: they keep their old
    // versions and the next run backs them up.
    if (fatal_.ok() && !options_.stop.stop_requested()) {
      for (int attempt = 0; attempt < 3; ++attempt) {
        st = ReadFileContent(fs_, job.rec.path, chunker_, repo_, job.rec,
                             [&](uint64_t n) { bytes_done_ += n; });
        if (st.code() != StatusCode::kCancelled) break;
        // Changed while being read: look again and retry with fresh metadata.
        Result<struct stat> s = fs_.Lstat(job.rec.path);
        if (!s.ok() || !S_ISREG(s->st_mode)) break;
        FillMetadata(job.rec.path, *s, job.rec);
      }
    } else {
      skip = true;
    }
    bool repo_error = !st.ok() && st.code() != StatusCode::kNotFound &&
                      st.code() != StatusCode::kPermissionDenied &&
                      st.code() != StatusCode::kCancelled && st.code() != StatusCode::kIOError;
    if (skip) {
      // Not read: no record (a record without its content would be a lie).
    } else if (st.ok()) {
      uint64_t size = job.rec.size;
      {
        std::lock_guard lock(mu_);
        if (job.existed)
          ++summary_.files_changed;
        else
          ++summary_.files_new;
        summary_.bytes_read += size;
      }
      AddRecord(std::move(job.rec));
    } else {
      if (repo_error) {
        std::lock_guard lock(mu_);
        if (fatal_.ok()) fatal_ = st;
        space_cv_.notify_all();
      } else if (st.code() == StatusCode::kNotFound) {
        AddWarning(job.rec.path + " vanished before it could be read");
      } else {
        AddError(st.message());
      }
    }
    ++files_done_;
    std::lock_guard lock(mu_);
    --busy_;
    if (busy_ == 0 && queue_.empty()) idle_cv_.notify_all();
  }
}

Status Run::TombstoneTree(const std::string& path) {
  std::vector<std::string> gone;
  CAIRN_RETURN_IF_ERROR(
      catalog_.ListTree(options_.device, path, catalog::kLatest, true, [&](const VersionRecord& r) {
        gone.push_back(r.path);
        return Status::OK();
      }));
  for (auto& p : gone) {
    VersionRecord t;
    t.path = std::move(p);
    t.deleted = true;
    AddRecord(std::move(t));
    ++summary_.deleted;
  }
  return Status::OK();
}

Status Run::Visit(const std::string& path, const struct stat& st,
                  const std::optional<VersionRecord>& prev) {
  if (filter_.Check(path, S_ISDIR(st.st_mode), chain_) != ExcludeReason::kNone) {
    ++summary_.excluded;
    return Status::OK();
  }
  if ((files_seen_.load() & 1023) == 0) CAIRN_RETURN_IF_ERROR(MaybeCheckpoint(false));
  VersionRecord rec;
  if (!FillMetadata(path, st, rec)) {
    ++summary_.skipped_special;
    AddWarning(path + ": unknown file type, skipped");
    return Status::OK();
  }
  if (rec.type == FileType::kSymlink) {
    Result<std::string> target = fs_.ReadLink(path, static_cast<size_t>(st.st_size));
    if (!target.ok()) {
      if (target.error().IsNotFound())
        AddWarning(path + " vanished before it could be read");
      else
        AddError(target.error().message());
      return Status::OK();
    }
    rec.link_target = std::move(*target);
  }
  ++files_seen_;
  if (rec.type == FileType::kFile && st.st_nlink > 1) {
    auto& by_ino = hardlinks_[rec.dev];
    auto it = by_ino.find(rec.inode);
    if (it != by_ino.end()) {
      rec.type = FileType::kHardlink;
      rec.link_target = it->second;
      rec.size = 0;
    } else {
      by_ino.emplace(rec.inode, path);
    }
  }
  if (prev && Unchanged(rec, *prev)) {
    ++files_unchanged_;
    // Counted like files_new and files_changed: regular files only.
    if (rec.type == FileType::kFile) ++summary_.files_unchanged;
    if (rec.type == FileType::kDir) return WalkDir(path);
    return Status::OK();
  }
  switch (rec.type) {
    case FileType::kFile:
      if (options_.max_file_size && rec.size > options_.max_file_size) {
        ++summary_.skipped_size;
        AddWarning(path + " is larger than max_file_size_mb, skipped");
        return Status::OK();
      }
      bytes_seen_ += rec.size;
      Submit(FileJob{std::move(rec), prev.has_value()});
      return Status::OK();
    case FileType::kDir: {
      (void)ReadXattrs(fs_, path, rec.xattrs);
      ++summary_.dirs;
      AddRecord(rec);
      return WalkDir(path);
    }
    default:
      (void)ReadXattrs(fs_, path, rec.xattrs);
      ++summary_.others;
      AddRecord(std::move(rec));
      return Status::OK();
  }
}

Status Run::WalkDir(const std::string& dir) {
  {
    std::lock_guard lock(mu_);
    if (!fatal_.ok()) return fatal_;
  }
  if (options_.stop.stop_requested())
    return Status::Cancelled("backup cancelled; what was backed up so far is kept");
  CAIRN_RETURN_IF_ERROR(MaybeCheckpoint(false));
  Result<DirListing> listing = fs_.ListDir(dir);
  if (!listing.ok()) {
    AddError(listing.error().message());
    return Status::OK();
  }
  std::vector<std::string>& names = listing->names;
  // This folder's .cairnignore applies to everything below it, until the
  // walk leaves it.
  struct ChainRestore {
    ExcludeFilter::RuleChain& chain;
    size_t size;
    ~ChainRestore() { chain.resize(size); }
  } restore{chain_, chain_.size()};
  // A listing cut short may miss the file: then look for it.
  if (!listing->complete || std::find(names.begin(), names.end(), kIgnoreFileName) != names.end()) {
    if (auto rules = filter_.RulesOf(dir); rules && !rules->empty())
      chain_.push_back(std::move(rules));
  }
  // A listing cut short by an error gives no tombstones: what was not seen
  // is not known to be gone.
  const bool complete = listing->complete;
  std::sort(names.begin(), names.end());
  // The catalog's view of this folder: latest versions of its children.
  std::map<std::string, VersionRecord> known;
  CAIRN_RETURN_IF_ERROR(
      catalog_.ListTree(options_.device, dir, catalog::kLatest, false, [&](const VersionRecord& r) {
        known.emplace(r.path, r);
        return Status::OK();
      }));
  for (const std::string& name : names) {
    std::string path = JoinPath(dir, name);
    std::optional<VersionRecord> prev;
    auto it = known.find(path);
    if (it != known.end()) {
      prev = std::move(it->second);
      known.erase(it);
    }
    Result<struct stat> st = fs_.Lstat(path);
    if (!st.ok()) {
      if (!st.error().IsNotFound())
        AddError(st.error().message());
      else if (prev)
        known.emplace(path, *prev);  // vanished: a deletion
      continue;
    }
    CAIRN_RETURN_IF_ERROR(Visit(path, *st, prev));
  }
  if (complete) {
    for (auto& [path, rec] : known) {
      if (filter_.Check(path, rec.type == FileType::kDir, chain_) != ExcludeReason::kNone) continue;
      CAIRN_RETURN_IF_ERROR(TombstoneTree(path));
    }
  }
  return Status::OK();
}

Status Run::WalkRoot(const std::string& root) {
  // The folders above the root are not walked, but their rules apply: a
  // root inside an excluded folder is excluded, and their .cairnignore
  // files apply below them.
  if (filter_.Ancestors(root, chain_) != ExcludeReason::kNone) {
    ++summary_.excluded;
    return Status::OK();
  }
  CAIRN_ASSIGN_OR_RETURN(auto prev, catalog_.LatestForSkip(options_.device, root));
  Result<struct stat> st = fs_.Lstat(root);
  if (!st.ok()) {
    if (st.error().IsNotFound()) {
      if (prev) return TombstoneTree(root);
      if (options_.missing_roots_ok) return Status::OK();
      AddError(root + " does not exist: check the path (nothing was backed up from it)");
      return Status::OK();
    }
    AddError(st.error().message());
    return Status::OK();
  }
  // Parent folders of a root are recorded too (metadata only), so a restore
  // recreates them with their permissions. Only a change of what a restore
  // uses makes a new version of one: the home folder's times change with
  // every file saved anywhere in it, and a service backing up ~/Documents
  // every few seconds must not record a new /home/me each time.
  std::string parent = root;
  std::vector<std::string> parents;
  while (true) {
    size_t slash = parent.find_last_of('/');
    if (slash == std::string::npos || slash == 0) break;
    parent.resize(slash);
    parents.push_back(parent);
  }
  for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
    // Roots with common parents record each parent once per run.
    if (!parents_seen_.insert(*it).second) continue;
    Result<struct stat> pst = fs_.Lstat(*it);
    if (!pst.ok() || !S_ISDIR(pst->st_mode)) continue;
    VersionRecord rec;
    FillMetadata(*it, *pst, rec);
    CAIRN_ASSIGN_OR_RETURN(auto pprev, catalog_.LatestForSkip(options_.device, *it));
    if (pprev && pprev->type == rec.type && pprev->mode == rec.mode && pprev->uid == rec.uid &&
        pprev->gid == rec.gid && pprev->xattrs == rec.xattrs)
      continue;
    AddRecord(std::move(rec));
  }
  return Visit(root, *st, prev);
}

Status Run::MaybeCheckpoint(bool final) {
  auto now = std::chrono::steady_clock::now();
  size_t pending_records;
  {
    std::lock_guard lock(mu_);
    pending_records = done_.size();
  }
  if (!final && now - last_checkpoint_ < options_.checkpoint_interval &&
      bytes_done_.load() - bytes_at_checkpoint_ < options_.checkpoint_bytes &&
      pending_records < options_.checkpoint_records)
    return Status::OK();
  last_checkpoint_ = now;
  bytes_at_checkpoint_ = bytes_done_.load();
  return Checkpoint(final);
}

Status Run::Checkpoint(bool final) {
  std::vector<VersionRecord> records;
  {
    std::lock_guard lock(mu_);
    if (!fatal_.ok()) return fatal_;
    records.swap(done_);
  }
  if (records.empty() && !final) return Status::OK();
  // A run in which nothing changed writes nothing at all: a daemon that
  // checks every few minutes must not leave an object per check (the caller
  // records the completed run locally). Only packs the index lost (adopted
  // from their headers when an index object was damaged) are indexed again:
  // Flush writes nothing when nothing is pending.
  if (records.empty() && final && sequence_ == 0) return repo_.Flush();
  // Packs and index first, then the segment that references them.
  CAIRN_RETURN_IF_ERROR(repo_.Flush());
  repo::VersionSegment seg;
  seg.run_id = run_id_;
  seg.sequence = sequence_++;
  seg.final = final;
  seg.device = options_.device;
  seg.created = options_.clock ? options_.clock() : NowNs();
  seg.roots = options_.paths;
  if (final) {
    auto stats = RunStoreStats();
    seg.files_new = summary_.files_new;
    seg.files_changed = summary_.files_changed;
    seg.files_unchanged = summary_.files_unchanged;
    seg.bytes_read = summary_.bytes_read;
    seg.bytes_stored = stats.bytes_stored_new;
    seg.errors = summary_.errors.size();
  }
  seg.records = std::move(records);
  CAIRN_ASSIGN_OR_RETURN(Id seg_id, repo_.SaveSegment(seg));
  ++summary_.segments;
  // Only now, with the segment durable, does the catalog learn of it.
  CAIRN_RETURN_IF_ERROR(catalog_.AddSegment(seg_id, catalog::SegmentInfo::Of(seg), seg.records));
  return Status::OK();
}

void Run::ProgressLoop(std::stop_token st) {
  while (SleepUnlessStopped(st, std::chrono::milliseconds(250))) {
    Progress p;
    p.files_seen = files_seen_;
    p.files_done = files_done_ + files_unchanged_;
    p.files_unchanged = files_unchanged_;
    p.bytes_seen = bytes_seen_;
    p.bytes_done = bytes_done_;
    p.bytes_stored = RunStoreStats().bytes_stored_new;
    p.walking = walking_;
    options_.progress(p);
  }
}

Result<BackupSummary> Run::Execute() {
  auto t0 = std::chrono::steady_clock::now();
  CAIRN_ASSIGN_OR_RETURN(last_time_, catalog_.MaxBackupTime());
  summary_.run_id = run_id_;
  stats_at_start_ = repo_.store_stats();
  unsigned n =
      options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::jthread> workers;
  for (unsigned i = 0; i < n; ++i) workers.emplace_back([this] { Worker(); });
  std::jthread progress;
  if (options_.progress) progress = std::jthread([this](std::stop_token st) { ProgressLoop(st); });

  Status walk;
  for (const std::string& root : options_.paths) {
    walk = WalkRoot(root);
    if (!walk.ok()) break;
  }
  walking_ = false;
  {
    std::unique_lock lock(mu_);
    // Cancelled: files not started yet are left for the next run.
    if (walk.code() == StatusCode::kCancelled) queue_.clear();
    idle_cv_.wait(lock, [&] { return (queue_.empty() && busy_ == 0) || !fatal_.ok(); });
    stopping_ = true;
    queue_cv_.notify_all();
  }
  for (auto& w : workers) w.join();
  if (walk.ok()) {
    std::lock_guard lock(mu_);
    walk = fatal_;
  }
  if (walk.ok() && options_.stop.stop_requested())
    walk = Status::Cancelled("backup cancelled; what was backed up so far is kept");
  // Whatever completed is checkpointed even when the run failed, so work is
  // never thrown away (unless the repository itself is what failed).
  Status cp = Checkpoint(walk.ok());
  if (progress.joinable()) {
    progress.request_stop();
    progress.join();
  }
  if (!walk.ok()) return walk;
  CAIRN_RETURN_IF_ERROR(cp);
  auto stats = RunStoreStats();
  summary_.bytes_new_raw = stats.bytes_raw_new;
  summary_.bytes_stored = stats.bytes_stored_new;
  summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (options_.progress) {
    Progress p;
    p.files_seen = files_seen_;
    p.files_done = files_done_ + files_unchanged_;
    p.files_unchanged = files_unchanged_;
    p.bytes_seen = bytes_seen_;
    p.bytes_done = bytes_done_;
    p.bytes_stored = stats.bytes_stored_new;
    p.walking = false;
    options_.progress(p);
  }
  return summary_;
}

}  // namespace

Result<BackupSummary> RunBackup(repo::Repository& repo, catalog::Catalog& catalog,
                                const BackupOptions& options) {
  for (const auto& p : options.paths)
    if (p.empty() || p[0] != '/')
      return Status::InvalidArgument("backup paths must be absolute: " + p);
  Run run(repo, catalog, options);
  return run.Execute();
}

}  // namespace cairn::archiver
