// Session: the one entry point of every front end (the CLI today; the
// `cairn run` daemon and the web server next).
//
// A session owns the resolved settings, the backend, the repository (opened
// once, kept open, its index in memory) and the local catalog. Every
// operation is a job: it takes a JobContext (a stop token and an event sink)
// and returns a structured result or a Status; nothing here prints, prompts
// (the front end's ask_secret callback does) or exits.
//
// Locks: repository locks are taken per operation (one backup, one restore,
// one key removal), never for the session's life, so a long-lived daemon does
// not block other devices' exclusive operations. Lock first, then index:
// every operation that relies on the index refreshes it after its lock is
// held.
//
// Concurrency: jobs that write (backup, key changes, recover, init) are
// serialised: a second one waits for the first (and gives up with Cancelled
// if its stop token fires while waiting). Reading jobs (ls, versions, find,
// stats, restore, check) run beside a writing job: they read the catalog
// through their own SQLite connection and skip bringing it up to date while a
// backup is doing exactly that. Another process's reads never wait for a
// backup either (the catalog is in WAL mode; a backup's transactions are
// short checkpoints).
// Thread-safety: all public methods may be called from several threads.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "archiver/archiver.h"
#include "checker/checker.h"
#include "engine/events.h"
#include "engine/session_config.h"
#include "engine/views.h"
#include "restorer/restorer.h"
#include "restorer/stream.h"

namespace cairn::archiver {
class ExcludeFilter;
}
namespace cairn::catalog {
class Catalog;
}
namespace cairn::repo {
class Repository;
class RepoLock;
}  // namespace cairn::repo

namespace cairn::engine {

// Process-wide set-up every front end calls once before anything else
// (initialises the crypto library).
void InitProcess();

struct BackupRequest {
  // Absolute paths. Empty: backup.watched_directories, else those of
  // ~/Documents, ~/Pictures and ~/Desktop that exist.
  std::vector<std::string> paths;
  std::vector<std::string> extra_excludes = {};  // in addition to the settings'
  // Paths left out with everything under them, taken literally (no pattern
  // characters): a daemon's log and socket files. cairn's own folders
  // (OwnFolders) are always left out.
  std::vector<std::string> excluded_paths = {};
  // A path that no longer exists is recorded as deleted when it had a
  // version, and is otherwise nothing to do instead of an error (the
  // daemon's batches name paths that came and went before it looked).
  bool missing_ok = false;
};

struct BackupResult : archiver::BackupSummary {
  std::vector<std::string> paths;  // what was backed up (symlinked roots resolved)
};

struct RestoreRequest {
  // One version by its stable id (FileVersion::id): a file, or a folder as
  // it was then. When set, path/at/version are not used.
  std::string id;
  std::string path;            // absolute
  std::optional<TimeNs> at;    // as of this time (default: the newest)
  std::optional<int> version;  // one file's version number (see Versions)
  std::string target;          // "" = in place; else re-rooted under it
  bool overwrite = false;
};
// Answers read from the catalog are complete unless a version segment could
// not be read (damaged or truncated in storage): then they name those
// segments, and the front end says the answer may miss versions (the CLI
// exits 3).
struct RestoreResult : restorer::RestoreSummary {
  std::vector<std::string> unreadable_segments;  // hex ids
};

struct CheckRequest {
  bool read_data = false;
  std::string subset;  // "n/m" or "p%" or "" (all), with read_data
  // After the structure (and data) check, restore this many randomly chosen
  // file versions and verify them (Session::RestoreSample); 0 = none.
  size_t restore_sample = 0;
};
// The largest restore sample: the chosen records are held in memory.
inline constexpr size_t kMaxRestoreSample = 100'000;

// One file version a restore sample restored and verified.
struct SampledVersion {
  std::string path;
  std::string device;
  std::string id;   // the version's stable id (FileVersion::id)
  TimeNs time = 0;  // when it was backed up (the device's clock)
  uint64_t size = 0;
  bool ok = false;    // restored, and its SHA-256 is the recorded one
  std::string error;  // why not, when !ok
};

// What Session::RestoreSample found.
struct RestoreSampleResult {
  size_t requested = 0;
  // File versions it chose from: regular files with content, of the
  // queried device(s), not forgotten.
  uint64_t eligible = 0;
  // min(requested, eligible) distinct versions, chosen uniformly at random
  // from all of them (any age, not only the newest), sorted by path then
  // time.
  std::vector<SampledVersion> files;
  // Where they were restored (under the cache folder, mode 0700); it is
  // gone when RestoreSample returns, whatever happened.
  std::string folder;

  bool ok() const;  // every sampled version restored and verified
};

struct CheckResult : checker::CheckReport {
  // Set when CheckRequest::restore_sample > 0.
  std::optional<RestoreSampleResult> restore_sample;

  // No error finding, and every sampled version restored and verified.
  // (Hides CheckReport::ok, which covers the findings only.)
  bool ok() const;
};

// What Restore would do, without doing it (Session::PreviewRestore): where
// it would write, how much, and what `overwrite: true` would replace.
struct RestorePreview : restorer::PreviewSummary {
  std::vector<std::string> unreadable_segments;  // hex ids; see RestoreResult
};

struct ListRequest {
  std::string path = "/";  // absolute
  std::optional<TimeNs> at;
  bool recursive = false;
  // Whose files: nullopt = the session's query_device(); "" = every device;
  // else that device.
  std::optional<std::string> device = std::nullopt;
  // Paging (not with recursive): only the children whose name sorts after
  // `after` (bytes; "" = from the first), at most `limit` entries (0 = no
  // limit; the entries of one name on several devices are never split
  // between pages, so such a page may hold a few more). QueryInfo::next_after
  // is what to pass as `after` for the next page.
  std::string after = {};
  size_t limit = 0;
};

using VersionFn = std::function<Status(const FileVersion&)>;

struct QueryInfo {
  uint64_t count = 0;                            // entries given to the callback
  std::vector<std::string> unreadable_segments;  // hex ids; see RestoreResult
  // List with a limit: the last name given when the limit was reached and
  // more entries follow; "" at the end.
  std::string next_after;
  // Find with a limit: more results than the limit exist.
  bool truncated = false;
};

struct VersionsRequest {
  std::string path;  // absolute
  // Whose versions: nullopt = the session's query_device(); "" = every
  // device (ordered together, as made); else that device.
  std::optional<std::string> device = std::nullopt;
};

struct FindRequest {
  std::string pattern;  // see Session::FindPattern
  // Also paths whose newest version records their deletion, given as that
  // deletion record (deleted, type "deleted", backup_time = when the
  // deletion was recorded), after every existing path.
  bool include_deleted = false;
  // Whose files: nullopt = the session's query_device(); "" = every device;
  // else that device.
  std::optional<std::string> device = std::nullopt;
  // At most this many results (0 = no limit); QueryInfo::truncated says
  // there were more.
  size_t limit = 0;
};

struct VersionList {
  std::vector<FileVersion> versions;
  std::vector<std::string> unreadable_segments;  // hex ids; see RestoreResult
};

// Restore to a stream (downloads, `cairn restore --stdout`). What is verified
// when, and what a consumer must do with an error: restorer/stream.h.
using ByteSink = restorer::ByteSink;
using StreamInfo = restorer::StreamInfo;
using ByteRange = restorer::ByteRange;

struct StreamRequest {
  // One version by its stable id (FileVersion::id): a file's bytes, or a
  // folder as it was then as a tar. When set, path/at/version/device are not
  // used.
  std::string id;
  std::string path;            // absolute
  std::optional<TimeNs> at;    // as of this time (default: the newest)
  std::optional<int> version;  // one file's version number (see Versions)
  std::string device;          // whose files; "" = the session's device
  // A file's bytes only (HTTP Range); InvalidArgument for a folder.
  std::optional<ByteRange> range;
};
// The stream was complete and verified. As with RestoreResult, unreadable
// segments mean the selection may have missed newer versions.
struct StreamResult : restorer::StreamSummary {
  std::vector<std::string> unreadable_segments;  // hex ids
};

class Session {
 public:
  // Resolves settings, environment and options; opens nothing yet (so `init`
  // and a failing repository can still be reported clearly).
  static Result<std::unique_ptr<Session>> Create(SessionOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const ResolvedConfig& config() const { return cfg_; }
  const config::Settings& settings() const { return cfg_.settings; }
  const std::string& location() const { return cfg_.location; }
  const std::string& device() const { return cfg_.device; }
  // The device queries cover: "" with all_devices.
  const std::string& query_device() const { return cfg_.query_device; }

  // Creates the repository at location() (AlreadyExists when it holds data)
  // and keeps it open.
  Result<InitSummary> Init(const std::string& key_label, const JobContext& job = {});
  // Opens the repository (NoRepository, WrongPassword, ...). Every operation
  // does this itself; calling it first only reports such errors earlier.
  Status Open();

  // For `cairn setup` (session_setup.cc). What is at location() and whether
  // this machine can write there, before anything else is written: opens the
  // backend and looks for a repository; a location without one is created
  // (folder, container) and a probe object written and removed there. Needs
  // no secret. Errors name the location and say what to do: unreachable
  // (Unavailable, IOError), credentials refused (PermissionDenied), not a
  // folder (InvalidArgument).
  struct LocationState {
    bool has_repository = false;  // a repository's config object is there
    bool has_other_data = false;  // something that is not a repository (init refuses it)
    bool created_folder = false;  // a local folder that did not exist before the probe
  };
  Result<LocationState> ProbeLocation();
  // Opens the repository and takes and releases a shared lock: proof that
  // this machine can write to it (PermissionDenied for read-only
  // credentials).
  Status CheckWritable(const JobContext& job = {});
  // Undoes the Init of this session (an interrupted `cairn setup`): closes
  // the repository and removes every object it wrote. PreconditionFailed
  // when this session did not create the repository.
  Status DiscardCreatedRepository();

  Result<BackupResult> Backup(const BackupRequest& request, const JobContext& job = {});
  Result<RestoreResult> Restore(const RestoreRequest& request, const JobContext& job = {});
  Result<CheckResult> Check(const CheckRequest& request, const JobContext& job = {});
  // Proof that restores work (design.md §13, "Restore samples"): restores
  // `n` file versions chosen uniformly at random among every version of the
  // queried device(s) into a fresh folder under the cache folder (mode
  // 0700), compares each restored file's SHA-256 with its record, and
  // deletes the folder whatever happens. A version that cannot be restored
  // (its pack damaged or missing) or does not match is a failed sample in
  // the result, not an error status; an error status means the sample
  // could not run (no repository, the lock, Cancelled). A reading job, under
  // a shared lock, like Restore. n = 0 restores nothing.
  //
  // The daemon's daily job calls it with settings().restore_sample_files
  // (skipping it when 0) and raises an alert naming the failed files when
  // `!result->ok()`; a non-OK status is an ordinary failed job.
  Result<RestoreSampleResult> RestoreSample(size_t n, const JobContext& job = {});

  // The state of a folder (its children, or everything below with
  // recursive) or of one file, at a time; NotFound when nothing was backed up
  // there. Sorted by path (then device). With request.limit, a page of the
  // children (see ListRequest): its first page costs about the page, not the
  // folder, even for a folder of 100,000 files. A file is its state alone,
  // whatever the paging. InvalidArgument for paging with recursive.
  Result<QueryInfo> List(const ListRequest& request, const VersionFn& fn,
                         const JobContext& job = {});
  // Every version of a file (or folder), deletions included, oldest first,
  // numbered from 1; NotFound if none.
  Result<VersionList> Versions(const VersionsRequest& request, const JobContext& job = {});
  // The same, of the session's query_device().
  Result<VersionList> Versions(const std::string& path, const JobContext& job = {});
  // The newest existing versions whose name or path matches the pattern (a
  // plain word finds every name containing it: see FindPattern), sorted by
  // path (then device); with include_deleted, then the deletion records of
  // the matching paths deleted since (sorted likewise). With a limit, the
  // first `limit` of that order.
  Result<QueryInfo> Find(const FindRequest& request, const VersionFn& fn,
                         const JobContext& job = {});
  // Find({pattern}): existing files of the session's query_device().
  Result<QueryInfo> Find(const std::string& pattern, const VersionFn& fn,
                         const JobContext& job = {});
  static std::string FindPattern(const std::string& pattern);
  // What Restore(request) would do, from the catalog alone (no repository
  // data is read, no lock taken, nothing written; the destinations are only
  // lstat'ed): the same selection (by id, or path/at/version, the same
  // device rule), the same destination paths (restorer::Destination:
  // `target + path`, or in place), where the requested path would go
  // (`target`), how many files and bytes, and the destinations that exist
  // already as files (or links, anything but a folder) that
  // `overwrite: true` would replace (at most 1000 listed, all counted).
  // Without overwrite, Restore replaces none of them: one whose content is
  // exactly the recorded one is left as is and counted as already present,
  // any other is skipped and listed in RestoreResult::skipped_existing
  // (the restore is then partial: the CLI exits 3). Errors as Restore's
  // (NotFound, InvalidArgument).
  Result<RestorePreview> PreviewRestore(const RestoreRequest& request, const JobContext& job = {});
  // The version with this stable id, on any device; NotFound if none.
  Result<FileVersion> VersionById(const std::string& id, const JobContext& job = {});
  // What the repository holds, per device, and when this device's last
  // backup succeeded. With with_space, also what a `cairn cleanup` would
  // free now and why unused space stays (a dry run of it: reads the index,
  // takes a shared lock and this session's writer turn).
  Result<RepositoryStats> Stats(const JobContext& job = {}, bool with_space = true);

  Result<std::vector<KeyInfo>> ListKeys();
  // Adds a key slot for `new_secret`; returns its id.
  Result<std::string> AddKey(const std::string& new_secret, const std::string& label);
  // Removes the key whose id starts with `id_prefix` (under the exclusive
  // lock); refuses the key in use and the last key. Returns the full id.
  Result<std::string> RemoveKey(const std::string& id_prefix);
  // Replaces the key in use by one for `new_secret` (the new slot is durable
  // before the old one goes). Returns {old id, new id}.
  Result<std::pair<std::string, std::string>> ChangePassword(const std::string& new_secret);

  // Rebuilds the catalog from the repository's version segments.
  Result<RecoverSummary> Recover(const JobContext& job = {});
  // The run history of the queried device(s), newest first, at most `limit`.
  Result<std::vector<RunSummary>> Runs(size_t limit, const JobContext& job = {});
  // Retention (design.md §19): judges every version of the queried
  // device(s) (each device by its own history) by `request.policy` and, unless
  // dry_run, writes forget segments naming the versions dropped (under a
  // shared lock: it deletes nothing and reads no data, so a credential
  // without delete permission does). The catalog follows at once.
  Result<ForgetSummary> Forget(const ForgetRequest& request, const JobContext& job = {});
  // The retention policy of the settings (versioning.*).
  RetentionPolicy SettingsRetentionPolicy() const;
  // Garbage collection (repo/prune.h, design.md §20): deletes packs that
  // hold nothing any remaining version needs and repacks those whose unused
  // share is above request.max_unused. Prepares under a shared lock (backups
  // of every device go on), then deletes under the exclusive lock for a
  // moment; reads no data but the packs it repacks.
  Result<PruneSummary> Prune(const PruneRequest& request, const JobContext& job = {});
  // The original design's cleanup: forget by the settings' policy (when it
  // has a rule), then prune.
  struct CleanupSummary {
    bool forgot = false;  // a retention rule is set
    ForgetSummary forget;
    PruneSummary prune;
  };
  Result<CleanupSummary> Cleanup(const PruneRequest& request, const JobContext& job = {});
  // Merges small packs, index objects and segments (repo/compaction.h)
  // under the exclusive lock; the catalog follows at once.
  Result<CompactSummary> Compact(const JobContext& job = {});
  std::string CatalogPath();

  // What Backup backs up when given no paths: backup.watched_directories,
  // else those of ~/Documents, ~/Pictures and ~/Desktop that exist.
  std::vector<std::string> DefaultBackupPaths() const;
  // True when a backup would leave `path` out by its exclude rules
  // (archiver/exclude_filter.h): the settings' exclude patterns, editors'
  // temporaries, the .cairnignore files of every folder from "/" down to
  // it, a CACHEDIR.TAG in it (`is_dir`) or in a folder above it. For a
  // folder, also when everything under it would be (".git/*" and a .git
  // folder): a backup leaves such a folder out whole. For front ends that
  // filter paths before asking for a backup (the daemon's watcher): the
  // answer is the walk's, for every path. Reads the .cairnignore and
  // CACHEDIR.TAG files above `path` (two lstat calls per folder; their
  // content is cached and read again when they change, or when `path`
  // names a .cairnignore). Thread-safe.
  bool Excluded(std::string_view path, bool is_dir) const;
  // cairn's own folders, which no backup ever includes (and Excluded
  // answers true for): a local repository, the catalog's cache folder and
  // the state folder (the daemon's queue and log), each also with symlinks
  // resolved. Backing up the repository into itself would grow it by its
  // own size at every run.
  std::vector<std::string> OwnFolders() const;

  // Streams what `request` names to `sink`: a regular file's bytes (or a
  // range of them), a folder or anything else as a tar archive whose names
  // are relative to the folder's parent. A reading job: a shared repository
  // lock for its duration (lock first, then the index), like Restore.
  // Errors before sink.Begin: nothing was streamed (NotFound, with the
  // unreadable segments named; InvalidArgument; Corruption). An error after
  // it (damaged data, a SHA-256 mismatch, Cancelled, a lost lock, the sink's
  // own error) means the bytes the sink received must be discarded.
  Result<StreamResult> RestoreToStream(const StreamRequest& request, ByteSink& sink,
                                       const JobContext& job = {});

 private:
  explicit Session(SessionOptions options, ResolvedConfig cfg);

  // The chunks of every version in `cat` that `policy` keeps (each device
  // judged by its own history; only the queried device(s) are judged, other
  // devices' versions all count): what stays in use after a forget by it.
  Status KeptChunks(catalog::Catalog& cat, const RetentionPolicy& policy, TimeNs now,
                    std::unordered_set<Id, IdHash>& live, const JobContext& job);

  Result<std::string> Secret(bool for_new_repository);
  Result<std::string> FindSecret(bool for_new_repository);
  Result<repo::Repository*> Repo();  // opens once
  // What restores exactly the version with this stable id: a file by its
  // version number, a folder by its time.
  struct ByIdSelection {
    std::string path, device;
    std::optional<int> version;
    TimeNs at = 0;
  };
  Result<ByIdSelection> SelectById(const std::string& id, const JobContext& job);
  // The restorer's options for `request` (its selection resolved, by id
  // or path), without the job's progress and stop: Restore's and
  // PreviewRestore's.
  Result<restorer::RestoreOptions> RestoreOptionsFor(const RestoreRequest& request,
                                                     const JobContext& job);
  // The device a query covers: `device` when given ("" = every device), else
  // query_device().
  const std::string& QueryDevice(const std::optional<std::string>& device) const {
    return device ? *device : cfg_.query_device;
  }
  // RestoreSample under the lock `held` (null: read-only credentials, no
  // lock), for Check and RestoreSample (session_sample.cc).
  Result<RestoreSampleResult> SampleRestores(size_t n, repo::RepoLock* held, const JobContext& job);
  // Brings the in-memory index up to date under the lock `held` (its
  // listing saw the repository generation), or, without a lock (read-only
  // credentials, stats), under the generation read now.
  Status RefreshIndex(bool adopt_orphan_packs, const repo::RepoLock* held);
  // The writer catalog, brought up to date with the repository. REQUIRES:
  // writer_mu_ held.
  Result<catalog::Catalog*> SyncedCatalog(const JobContext& job, bool rebuild = false);
  // A connection of its own for a reading job: up to date unless a writing
  // job is running (which keeps it up to date itself).
  Result<std::unique_ptr<catalog::Catalog>> ReaderCatalog(const JobContext& job);
  Result<std::unique_lock<std::timed_mutex>> WriterTurn(const JobContext& job);
  Result<std::unique_ptr<repo::RepoLock>> Lock(bool exclusive, const std::string& operation);
  // A shared lock for a job that only reads; with read-only credentials the
  // job goes on without one (after a notice) and the lock is null.
  Result<std::unique_ptr<repo::RepoLock>> ReadLock(const std::string& operation,
                                                   const JobContext& job);
  void Notice(const JobContext& job, const std::string& text);

  SessionOptions options_;
  const ResolvedConfig cfg_;
  // Excluded()'s rules, with their cache of .cairnignore files (internally
  // locked).
  std::vector<std::string> own_folders_;  // OwnFolders()
  const std::unique_ptr<archiver::ExcludeFilter> exclude_filter_;

  std::mutex open_mu_;            // guards opening repo_ and secret_
  bool created_by_init_ = false;  // Init created the repository; guarded by open_mu_
  std::optional<std::string> secret_;
  std::unique_ptr<repo::Repository> repo_;
  std::mutex index_mu_;  // one index refresh at a time

  std::timed_mutex writer_mu_;  // one writing job at a time; guards catalog_
  std::unique_ptr<catalog::Catalog> catalog_;
  std::mutex unreadable_mu_;             // guards unreadable_
  std::vector<std::string> unreadable_;  // segments the last sync could not read
  std::vector<std::string> UnreadableSegments();
  Status WithUnreadable(Status st);  // a NotFound names the unreadable segments
};

}  // namespace cairn::engine
