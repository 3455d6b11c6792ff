#include "engine/session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "archiver/exclude_filter.h"
#include "archiver/excludes.h"
#include "catalog/catalog.h"
#include "compress/compressor.h"
#include "crypto/crypto.h"
#include "engine/catalog_sync.h"
#include "engine/secret_file.h"
#include "repo/compaction.h"
#include "repo/generation.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "repo/version_id.h"

namespace cairn::engine {

namespace {

std::string TrimLineEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return Status::InvalidArgument("cannot read the password file " + path +
                                   ": check the path and its permissions");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  s = TrimLineEnd(s);
  if (s.empty()) return Status::InvalidArgument("the password file " + path + " is empty");
  return s;
}

// Rate and ETA from the bytes done so far.
void AddRate(Progress& p, std::chrono::steady_clock::time_point start) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  p.bytes_per_second = secs > 0 ? static_cast<double>(p.bytes_done) / secs : 0;
  if (p.bytes_per_second > 0 && p.bytes_total > p.bytes_done)
    p.eta_seconds = static_cast<double>(p.bytes_total - p.bytes_done) / p.bytes_per_second;
}

// A restorer progress callback that reports to the job's sink (none without
// one), with rate and ETA from the moment it is made.
std::function<void(const restorer::RestoreProgress&)> RestoreProgressFn(const JobContext& job,
                                                                        const char* phase) {
  if (!job.events) return {};
  auto start = std::chrono::steady_clock::now();
  return [&job, start, phase](const restorer::RestoreProgress& r) {
    Progress p;
    p.operation = "restore";
    p.phase = phase;
    p.files_done = r.files_done;
    p.files_total = r.files_total;
    p.bytes_done = r.bytes_done;
    p.bytes_total = r.bytes_total;
    AddRate(p, start);
    job.events->OnProgress(p);
  };
}

// The key-slot hint (ResolvedConfig::KeySlotHintPath): one slot id in hex.
// Only ever a hint: a missing, unreadable or stale file (a slot since
// removed) means the slots are tried in the listing's order.
std::optional<Id> ReadKeySlotHint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::string line;
  std::getline(f, line);
  auto id = Id::FromHex(TrimLineEnd(line));
  if (!id.ok()) return std::nullopt;
  return *id;
}

// Replaces the hint by writing a temporary file and renaming it over the old
// one, so a reader sees the old id or the new one, never a torn file. Not
// fsynced: after a crash the hint may be lost, which costs one slower open.
// Failures are ignored for the same reason.
void WriteKeySlotHint(const std::string& path, const Id& slot) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (std::filesystem::create_directories(dir, ec)) chmod(dir.c_str(), 0700);
  std::string tmp = path + ".tmp-" + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string line = slot.Hex() + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) unlink(tmp.c_str());
}

Status CancelledWhileWaiting(const std::string& what) {
  return Status::Cancelled(what + " was cancelled while waiting for another job of this session");
}

}  // namespace

void InitProcess() { crypto::Init(); }

Result<std::unique_ptr<Session>> Session::Create(SessionOptions options) {
  CAIRN_ASSIGN_OR_RETURN(ResolvedConfig cfg, ResolveConfig(options));
  return std::unique_ptr<Session>(new Session(std::move(options), std::move(cfg)));
}

Session::Session(SessionOptions options, ResolvedConfig cfg)
    : options_(std::move(options)),
      cfg_(std::move(cfg)),
      exclude_filter_(std::make_unique<archiver::ExcludeFilter>(
          archiver::ExcludeOptions{cfg_.settings.exclude_patterns, cfg_.settings.exclude_caches,
                                   cfg_.settings.exclude_editor_temporaries},
          DefaultFileSystem())) {
  auto add = [this](const std::string& p) {
    if (p.empty() || p[0] != '/') return;  // an Azure location has no folder here
    std::string normal = p;
    while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    std::vector<std::string> forms = {normal};
    if (char* real = ::realpath(normal.c_str(), nullptr)) {
      forms.emplace_back(real);
      std::free(real);
    }
    for (const std::string& f : forms)
      if (std::find(own_folders_.begin(), own_folders_.end(), f) == own_folders_.end())
        own_folders_.push_back(f);
  };
  add(cfg_.location);
  add(cfg_.cache_dir);
  add(cfg_.state_dir);
}

Session::~Session() = default;

void Session::Notice(const JobContext& job, const std::string& text) {
  if (job.events)
    job.events->OnNotice(text);
  else if (options_.notice)
    options_.notice(text);
}

// ---- Secret and opening ------------------------------------------------

Result<std::string> Session::Secret(bool for_new_repository) {
  if (secret_) return *secret_;
  auto secret = FindSecret(for_new_repository);
  if (secret.ok()) secret_ = *secret;
  return secret;
}

// The first source that has one wins: --password-file, repository.password_file,
// CAIRN_PASSWORD, BACKUP_ENCRYPTION_KEY, the generated secret file of this
// location, the front end's prompt; for a new repository with none of these,
// a generated random secret.
Result<std::string> Session::FindSecret(bool for_new_repository) {
  auto env = [&](const char* n) {
    const char* v = options_.getenv ? options_.getenv(n) : nullptr;
    return std::string(v ? v : "");
  };
  if (!options_.password_file.empty())
    return ReadSecretFile(config::ExpandHome(options_.password_file));
  if (!cfg_.settings.password_file.empty()) return ReadSecretFile(cfg_.settings.password_file);
  if (std::string p = env("CAIRN_PASSWORD"); !p.empty()) return p;
  if (std::string k = env("BACKUP_ENCRYPTION_KEY"); !k.empty()) return TrimLineEnd(k);
  std::string generated = cfg_.GeneratedSecretPath();
  if (std::filesystem::exists(generated)) return ReadSecretFile(generated);
  if (options_.ask_secret)
    return options_.ask_secret(SecretRequest{for_new_repository, cfg_.location});
  if (!for_new_repository)
    return Status::WrongPassword(
        "no password given: use --password-file FILE, CAIRN_PASSWORD or BACKUP_ENCRYPTION_KEY");
  // Unattended init (the quick start): generate a strong random secret.
  std::string secret = NewRandomSecret();
  CAIRN_RETURN_IF_ERROR(CreateSecretFile(generated, secret));
  Notice({}, "Generated a random secret for the new repository in " + generated +
                 ". KEEP A COPY OF IT SOMEWHERE ELSE (a password manager, paper): without it the "
                 "backup cannot be restored.");
  return secret;
}

Status Session::Open() { return Repo().status(); }

Result<repo::Repository*> Session::Repo() {
  std::lock_guard lock(open_mu_);
  if (repo_) return repo_.get();
  CAIRN_ASSIGN_OR_RETURN(auto be, backend::OpenBackend(cfg_.location, cfg_.backend_options));
  if (options_.wrap_backend) be = options_.wrap_backend(std::move(be));
  auto cfg = be->Stat(backend::ObjectName{backend::ObjectType::kConfig, "config"});
  if (!cfg.ok()) {
    if (cfg.error().IsNotFound())
      return Status::NoRepository("there is no cairn repository at " + cfg_.location +
                                  ": create one with `cairn init`, or point --repo / "
                                  "CAIRN_REPOSITORY at an existing one");
    return cfg.error();
  }
  CAIRN_ASSIGN_OR_RETURN(std::string secret, Secret(false));
  // The slot that opened last time goes first: slots listed before it (a
  // planted one included) then cost nothing.
  repo::OpenOptions open_options;
  const std::string hint = cfg_.KeySlotHintPath();
  open_options.preferred_slot = ReadKeySlotHint(hint);
  CAIRN_ASSIGN_OR_RETURN(repo_, repo::Repository::Open(be, secret, open_options));
  if (open_options.preferred_slot != repo_->key_slot_in_use())
    WriteKeySlotHint(hint, repo_->key_slot_in_use());
  // Skipped key slots: someone may have planted them, the owner should know.
  for (const auto& w : repo_->warnings()) Notice({}, w);
  return repo_.get();
}

Status Session::RefreshIndex(bool adopt_orphan_packs, const repo::RepoLock* held) {
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  std::lock_guard lock(index_mu_);
  // The generation first (design.md §11): if a compaction or prune deleted
  // objects since the index in memory was loaded, it is reloaded whole.
  std::string generation;
  if (held) {
    generation = held->generation_etag();  // seen by the lock's own listing: free
  } else {
    auto info = repo->backend().Stat(
        backend::ObjectName{backend::ObjectType::kLock, repo::kGenerationObjectName});
    if (info.ok())
      generation = info->etag;
    else if (!info.error().IsNotFound())
      return info.error();
  }
  repo->SyncGeneration(generation);
  size_t warned = repo->warnings().size();
  CAIRN_RETURN_IF_ERROR(repo->LoadIndex(adopt_orphan_packs));
  for (size_t i = warned; i < repo->warnings().size(); ++i) Notice({}, repo->warnings()[i]);
  return Status::OK();
}

std::string Session::CatalogPath() {
  auto repo = Repo();
  return repo.ok() ? engine::CatalogPath(**repo, cfg_.cache_dir) : std::string();
}

Result<catalog::Catalog*> Session::SyncedCatalog(const JobContext& job, bool rebuild) {
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  if (rebuild) catalog_.reset();
  if (!catalog_) {
    CAIRN_ASSIGN_OR_RETURN(catalog_, OpenCatalog(*repo, cfg_.cache_dir, rebuild));
  }
  std::vector<std::string> warnings;
  auto start = std::chrono::steady_clock::now();
  auto stats = SyncCatalog(*repo, *catalog_, &warnings, [&](uint64_t done, uint64_t total) {
    if (!job.events) return;
    Progress p;
    p.operation = "sync";
    p.phase = "reading version history";
    p.units_done = done;
    p.units_total = total;
    AddRate(p, start);
    job.events->OnProgress(p);
  });
  if (!stats.ok()) {
    catalog_.reset();  // reopened (and checked) by the next call
    return stats.error();
  }
  for (const auto& w : warnings) Notice(job, w);
  {
    std::lock_guard lock(unreadable_mu_);
    unreadable_.clear();
    for (const Id& id : stats->unreadable) unreadable_.push_back(id.Hex());
  }
  return catalog_.get();
}

std::vector<std::string> Session::UnreadableSegments() {
  std::lock_guard lock(unreadable_mu_);
  return unreadable_;
}

Status Session::WithUnreadable(Status st) {
  auto unreadable = UnreadableSegments();
  if (st.code() != StatusCode::kNotFound || unreadable.empty()) return st;
  return Status::NotFound(st.message() + "; " + std::to_string(unreadable.size()) +
                          " version segment(s) could not be read, so it may be in those (" +
                          unreadable.front().substr(0, 16) +
                          (unreadable.size() > 1 ? ", ..." : "") + "): run `cairn check`");
}

Result<std::unique_ptr<catalog::Catalog>> Session::ReaderCatalog(const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  {
    std::unique_lock turn(writer_mu_, std::try_to_lock);
    if (turn.owns_lock()) CAIRN_RETURN_IF_ERROR(SyncedCatalog(job).status());
    // else: a writing job runs and keeps the catalog current itself.
  }
  std::string path = engine::CatalogPath(*repo, cfg_.cache_dir);
  auto cat = catalog::Catalog::Open(path);
  if (!cat.ok()) return cat.error().WithContext("opening the catalog " + path);
  return cat;
}

Result<std::unique_lock<std::timed_mutex>> Session::WriterTurn(const JobContext& job) {
  std::unique_lock turn(writer_mu_, std::defer_lock);
  while (!turn.try_lock_for(std::chrono::milliseconds(100)))
    if (job.stop.stop_requested()) return Status::Cancelled("cancelled");
  return turn;
}

Result<std::unique_ptr<repo::RepoLock>> Session::Lock(bool exclusive,
                                                      const std::string& operation) {
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  repo::LockOptions o;
  o.exclusive = exclusive;
  o.device = cfg_.device;
  o.operation = operation;
  o.ttl = cfg_.lock_ttl;
  o.wait = exclusive ? cfg_.lock_wait_exclusive : cfg_.lock_wait_shared;
  return repo::RepoLock::Acquire(*repo, o);
}

Result<std::unique_ptr<repo::RepoLock>> Session::ReadLock(const std::string& operation,
                                                          const JobContext& job) {
  auto lock = Lock(false, operation);
  if (lock.ok() || lock.error().code() != StatusCode::kPermissionDenied) return lock;
  Notice(job, "the credentials can only read " + cfg_.location + ", so " + operation +
                  " runs without a repository lock; if a prune removes data meanwhile, the files "
                  "it affects are reported as errors, never written wrong");
  return std::unique_ptr<repo::RepoLock>();
}

// ---- Init ----------------------------------------------------------------

Result<InitSummary> Session::Init(const std::string& key_label, const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(auto turn, WriterTurn(job));
  std::lock_guard lock(open_mu_);
  if (repo_) return Status::AlreadyExists(cfg_.location + " is already a repository");
  CAIRN_ASSIGN_OR_RETURN(auto be, backend::OpenBackend(cfg_.location, cfg_.backend_options));
  if (options_.wrap_backend) be = options_.wrap_backend(std::move(be));
  // Checked before anything is created, so a refused init leaves no trace.
  CAIRN_ASSIGN_OR_RETURN(bool has, be->HasAnyObject());
  if (has)
    return Status::AlreadyExists(cfg_.location +
                                 " already holds data; `cairn init` needs an empty location");
  CAIRN_ASSIGN_OR_RETURN(std::string secret, Secret(true));
  repo::InitOptions o;
  o.kdf = cfg_.KdfParamsForNewKey();
  o.pack_size = static_cast<uint64_t>(cfg_.settings.pack_size_mb) << 20;
  o.key_label = key_label;
  CAIRN_ASSIGN_OR_RETURN(repo_, repo::Repository::Init(be, secret, o));
  created_by_init_ = true;
  WriteKeySlotHint(cfg_.KeySlotHintPath(), repo_->key_slot_in_use());
  return InitSummary{cfg_.location, repo_->config().repo_id.Hex()};
}

// ---- Backup --------------------------------------------------------------

std::vector<std::string> Session::DefaultBackupPaths() const {
  std::vector<std::string> out;
  for (const auto& d : cfg_.settings.watched_directories) out.push_back(d);
  if (!out.empty()) return out;
  for (const char* name : {"Documents", "Pictures", "Desktop"}) {
    std::string p = cfg_.home + "/" + name;
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(p);
  }
  return out;
}

bool Session::Excluded(std::string_view path, bool is_dir) const {
  for (const std::string& own : own_folders_)
    if (path.size() >= own.size() && path.compare(0, own.size(), own) == 0 &&
        (path.size() == own.size() || path[own.size()] == '/'))
      return true;
  return exclude_filter_->Excluded(path, is_dir) != archiver::ExcludeReason::kNone;
}

std::vector<std::string> Session::OwnFolders() const { return own_folders_; }

Result<BackupResult> Session::Backup(const BackupRequest& request, const JobContext& job) {
  std::vector<std::string> paths = request.paths.empty() ? DefaultBackupPaths() : request.paths;
  if (paths.empty())
    return Status::InvalidArgument(
        "nothing to back up: pass folders (`cairn backup ~/Documents`) or set "
        "backup.watched_directories in config/settings.yaml");
  // A folder given by a symlink (~/Documents -> /data/Documents) is backed up
  // as the folder it points to: that is what the person means.
  for (auto& p : paths) {
    if (p.empty() || p[0] != '/')
      return Status::InvalidArgument("backup paths must be absolute: " + p);
    struct stat lst, st;
    if (lstat(p.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) && stat(p.c_str(), &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      if (char* real = realpath(p.c_str(), nullptr)) {
        Notice(job, p + " is a symlink; backing up the folder it points to, " + real);
        p = real;
        free(real);
      }
    }
  }
  const config::Settings& s = cfg_.settings;
  CAIRN_ASSIGN_OR_RETURN(auto algo, compress::ParseAlgorithm(s.compression));
  int level = s.compression_level ? *s.compression_level : compress::DefaultLevel(algo);

  auto turn = WriterTurn(job);
  if (!turn.ok()) return CancelledWhileWaiting("the backup");
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  repo->SetCompression(algo, level);
  repo->ClearUploadError();  // an earlier run's failure (network down) is not this run's
  // Lock first, then index: a prune that finished before the lock was taken
  // is seen by the index load that follows it.
  CAIRN_ASSIGN_OR_RETURN(auto lock, Lock(false, "backup"));
  CAIRN_ASSIGN_OR_RETURN(catalog::Catalog * cat, SyncedCatalog(job));
  // Packs of an interrupted run (no index object yet) are adopted, so their
  // chunks are not uploaded again; that costs a listing of every pack, so it
  // is done only when this machine's last run did not finish (design.md §9).
  const std::string open_run_key = "run_open:" + cfg_.device;
  CAIRN_ASSIGN_OR_RETURN(auto open_run, cat->GetMeta(open_run_key));
  CAIRN_RETURN_IF_ERROR(RefreshIndex(open_run && !open_run->empty(), lock.get()));
  CAIRN_RETURN_IF_ERROR(cat->SetMeta(open_run_key, std::to_string(NowNs())));

  archiver::BackupOptions bo;
  bo.paths = paths;
  bo.device = cfg_.device;
  bo.exclude_patterns = s.exclude_patterns;
  bo.exclude_patterns.insert(bo.exclude_patterns.end(), request.extra_excludes.begin(),
                             request.extra_excludes.end());
  for (const std::vector<std::string>* list :
       {static_cast<const std::vector<std::string>*>(&own_folders_), &request.excluded_paths}) {
    for (const std::string& p : *list) {
      bo.exclude_patterns.push_back(archiver::LiteralPattern(p));
      bo.exclude_patterns.push_back(archiver::LiteralPattern(p) + "/*");
    }
  }
  bo.exclude_caches = s.exclude_caches;
  bo.exclude_editor_temporaries = s.exclude_editor_temporaries;
  bo.missing_roots_ok = request.missing_ok;
  bo.max_file_size = s.max_file_size_mb << 20;
  bo.threads = s.threads;
  bo.checkpoint_interval = cfg_.checkpoint_interval;
  bo.clock = options_.clock;
  // Stops when the job is cancelled or the lock is lost (a writer without
  // its lock must not go on writing: a prune may be deleting beside it).
  bo.stop = lock->StopToken(job.stop);
  auto start = std::chrono::steady_clock::now();
  if (job.events) {
    bo.progress = [&job, start](const archiver::Progress& a) {
      Progress p;
      p.operation = "backup";
      p.phase = a.walking ? "scanning" : "reading";
      p.files_done = a.files_done;
      p.files_total = a.files_seen;
      p.files_unchanged = a.files_unchanged;
      p.bytes_done = a.bytes_done;
      p.bytes_total = a.bytes_seen;
      p.bytes_stored = a.bytes_stored;
      AddRate(p, start);
      if (a.walking) p.eta_seconds.reset();  // the totals still grow
      job.events->OnProgress(p);
    };
  }
  auto summary = archiver::RunBackup(*repo, *cat, bo);
  // A lost lock is reported as such, not as the cancellation it caused.
  if (Status held = lock->health(); !held.ok()) return held.WithContext("backup stopped");
  if (!summary.ok()) return summary.error().WithContext("backup stopped");
  // Recorded locally: "when did the last backup succeed?" stays true even
  // when nothing changed and the repository got no object.
  (void)cat->SetMeta("last_backup:" + cfg_.device, std::to_string(NowNs()));
  (void)cat->SetMeta(open_run_key, "");  // finished: nothing to adopt next time
  BackupResult r;
  static_cast<archiver::BackupSummary&>(r) = std::move(*summary);
  r.paths = std::move(paths);
  if (job.events) {
    for (const auto& e : r.errors)
      job.events->OnIssue(PathIssue{PathIssue::Severity::kError, "", e});
    for (const auto& w : r.warnings)
      job.events->OnIssue(PathIssue{PathIssue::Severity::kWarning, "", w});
  }
  return r;
}

// ---- Restore and check ---------------------------------------------------

Result<restorer::RestoreOptions> Session::RestoreOptionsFor(const RestoreRequest& request,
                                                            const JobContext& job) {
  if (cfg_.query_device.empty() && request.id.empty())
    return Status::InvalidArgument(
        "restore reads one device's files: name it with --device (see `cairn ls --all-devices`)");
  restorer::RestoreOptions ro;
  ro.path = request.path;
  ro.device = cfg_.device;
  if (request.at) ro.at = *request.at;
  ro.version = request.version;
  if (!request.id.empty()) {
    CAIRN_ASSIGN_OR_RETURN(ByIdSelection sel, SelectById(request.id, job));
    ro.path = sel.path;
    ro.device = sel.device;
    ro.version = sel.version;
    ro.at = sel.at;
  }
  ro.target = request.target;
  ro.overwrite = request.overwrite;
  ro.threads = cfg_.settings.threads;
  return ro;
}

Result<RestoreResult> Session::Restore(const RestoreRequest& request, const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(restorer::RestoreOptions ro, RestoreOptionsFor(request, job));
  ro.progress = RestoreProgressFn(job, "restoring");
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_ASSIGN_OR_RETURN(auto lock, ReadLock("restore", job));
  ro.stop = lock ? lock->StopToken(job.stop) : job.stop;
  CAIRN_RETURN_IF_ERROR(RefreshIndex(false, lock.get()));
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  auto summary = restorer::RunRestore(*repo, *cat, ro);
  if (lock) CAIRN_RETURN_IF_ERROR(lock->health());
  if (!summary.ok()) return WithUnreadable(summary.error());
  RestoreResult r;
  static_cast<restorer::RestoreSummary&>(r) = std::move(*summary);
  r.unreadable_segments = UnreadableSegments();
  return r;
}

Result<RestorePreview> Session::PreviewRestore(const RestoreRequest& request,
                                               const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(const restorer::RestoreOptions ro, RestoreOptionsFor(request, job));
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  auto preview = restorer::PreviewRestore(*cat, ro);
  if (!preview.ok()) return WithUnreadable(preview.error());
  RestorePreview r;
  static_cast<restorer::PreviewSummary&>(r) = std::move(*preview);
  r.unreadable_segments = UnreadableSegments();
  return r;
}

Result<CheckResult> Session::Check(const CheckRequest& request, const JobContext& job) {
  CAIRN_RETURN_IF_ERROR(checker::ValidateSubset(request.subset));
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_ASSIGN_OR_RETURN(auto lock, ReadLock("check", job));
  checker::CheckOptions co;
  co.read_data = request.read_data;
  co.subset = request.subset;
  co.stop = lock ? lock->StopToken(job.stop) : job.stop;
  if (job.events) {
    co.progress = [&job](uint64_t done, uint64_t total) {
      Progress p;
      p.operation = "check";
      p.phase = "reading data";
      p.units_done = done;
      p.units_total = total;
      job.events->OnProgress(p);
    };
  }
  CAIRN_ASSIGN_OR_RETURN(checker::CheckReport report, checker::RunCheck(*repo, co));
  CheckResult r;
  static_cast<checker::CheckReport&>(r) = std::move(report);
  if (request.restore_sample > 0) {
    CAIRN_ASSIGN_OR_RETURN(r.restore_sample,
                           SampleRestores(request.restore_sample, lock.get(), job));
  }
  return r;
}

// ---- Queries -------------------------------------------------------------

Result<QueryInfo> Session::List(const ListRequest& request, const VersionFn& fn,
                                const JobContext& job) {
  if (request.path.empty() || request.path[0] != '/')
    return Status::InvalidArgument("list needs an absolute path: " + request.path);
  if (request.recursive && (!request.after.empty() || request.limit != 0))
    return Status::InvalidArgument("a recursive listing is not paged");
  const std::string& device = QueryDevice(request.device);
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  QueryInfo info;
  info.unreadable_segments = UnreadableSegments();
  TimeNs at = request.at ? *request.at : catalog::kLatest;
  CAIRN_ASSIGN_OR_RETURN(auto top, cat->Lookup(device, request.path, at));
  if (top && top->type != repo::FileType::kDir) {
    info.count = 1;
    CAIRN_RETURN_IF_ERROR(fn(ToFileVersion(*top)));
    return info;
  }
  const std::function<Status(const repo::VersionRecord&)> each = [&](const repo::VersionRecord& r) {
    if (job.stop.stop_requested()) return Status::Cancelled("listing cancelled");
    ++info.count;
    return fn(ToFileVersion(r));
  };
  if (request.recursive) {
    CAIRN_RETURN_IF_ERROR(cat->ListTree(device, request.path, at, true, each));
  } else {
    CAIRN_ASSIGN_OR_RETURN(info.next_after, cat->ListChildren(device, request.path, at,
                                                              request.after, request.limit, each));
  }
  if (info.count == 0 && !top && request.path != "/") {
    // A page past the end of a folder that exists is empty, not NotFound.
    bool exists = false;
    if (!request.after.empty()) {
      CAIRN_RETURN_IF_ERROR(cat->ListChildren(device, request.path, at, {}, 1,
                                              [&](const repo::VersionRecord&) {
                                                exists = true;
                                                return Status::OK();
                                              })
                                .status());
    }
    if (!exists)
      return WithUnreadable(Status::NotFound("nothing backed up at " + request.path +
                                             " for device " + (device.empty() ? "(any)" : device) +
                                             " (try --all-devices, or `cairn find`)"));
  }
  return info;
}

Result<VersionList> Session::Versions(const std::string& path, const JobContext& job) {
  return Versions(VersionsRequest{path, std::nullopt}, job);
}

Result<VersionList> Session::Versions(const VersionsRequest& request, const JobContext& job) {
  const std::string& device = QueryDevice(request.device);
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  CAIRN_ASSIGN_OR_RETURN(auto records, cat->Versions(device, request.path));
  if (records.empty())
    return WithUnreadable(Status::NotFound("no versions of " + request.path + " for device " +
                                           (device.empty() ? "(any)" : device)));
  VersionList out;
  out.unreadable_segments = UnreadableSegments();
  out.versions.reserve(records.size());
  for (const auto& r : records) {
    out.versions.push_back(ToFileVersion(r));
    out.versions.back().number = static_cast<int>(out.versions.size());
  }
  return out;
}

Result<Session::ByIdSelection> Session::SelectById(const std::string& id, const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(repo::VersionId vid, repo::ParseVersionId(id));
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  CAIRN_ASSIGN_OR_RETURN(auto rec, cat->VersionById(vid));
  if (!rec)
    return WithUnreadable(
        Status::NotFound("no version has the id " + id + " (see `cairn versions`)"));
  if (rec->deleted)
    return Status::InvalidArgument("version " + id + " records the deletion of " + rec->path +
                                   ": restore one of its earlier versions (`cairn versions`)");
  ByIdSelection sel;
  sel.path = rec->path;
  sel.device = rec->device;
  if (rec->type == repo::FileType::kDir) {
    // A folder as it was then: its own version and everything below it
    // at that moment of its device's clock.
    sel.at = rec->WallTime();
    return sel;
  }
  // A file: exactly this version, by its position among the path's
  // versions (a time could pick another if the device's clock went back).
  sel.at = catalog::kLatest;
  CAIRN_ASSIGN_OR_RETURN(auto versions, cat->Versions(rec->device, rec->path));
  for (size_t i = 0; i < versions.size(); ++i)
    if (repo::VersionIdOf(versions[i]) == vid) sel.version = static_cast<int>(i) + 1;
  if (!sel.version) return Status::NotFound("no version has the id " + id);
  return sel;
}

Result<FileVersion> Session::VersionById(const std::string& id, const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(repo::VersionId vid, repo::ParseVersionId(id));
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  CAIRN_ASSIGN_OR_RETURN(auto rec, cat->VersionById(vid));
  if (!rec)
    return WithUnreadable(
        Status::NotFound("no version has the id " + id + " (see `cairn versions`)"));
  return ToFileVersion(*rec);
}

std::string Session::FindPattern(const std::string& pattern) {
  return pattern.find_first_of("*?[") == std::string::npos ? "*" + pattern + "*" : pattern;
}

Result<QueryInfo> Session::Find(const std::string& pattern, const VersionFn& fn,
                                const JobContext& job) {
  FindRequest request;
  request.pattern = pattern;
  return Find(request, fn, job);
}

Result<QueryInfo> Session::Find(const FindRequest& request, const VersionFn& fn,
                                const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  QueryInfo info;
  info.unreadable_segments = UnreadableSegments();
  const size_t limit = request.limit;
  // Existing paths are given as the walk meets them; deleted ones wait for
  // the end (existing first), at most `limit` of them.
  std::vector<FileVersion> deleted;
  bool full = false;  // `limit` existing paths given, and a result after them met
  Status st = cat->Find(
      QueryDevice(request.device), FindPattern(request.pattern),
      [&](const repo::VersionRecord& r) -> Status {
        if (job.stop.stop_requested()) return Status::Cancelled("search cancelled");
        const uint64_t kept = info.count + deleted.size();
        if (r.deleted) {
          if (limit == 0 || kept < limit) {
            deleted.push_back(ToFileVersion(r));
            return Status::OK();
          }
          info.truncated = true;  // more results than the limit, whatever comes next
          if (info.count < limit) return Status::OK();  // existing ones may still come
          full = true;
          return Status::Cancelled("search: limit reached");
        }
        if (limit != 0 && info.count == limit) {
          info.truncated = true;
          full = true;
          return Status::Cancelled("search: limit reached");
        }
        if (limit != 0 && kept == limit) {
          // This existing path takes the place of the last deleted one.
          deleted.pop_back();
          info.truncated = true;
        }
        ++info.count;
        return fn(ToFileVersion(r));
      },
      catalog::FindOptions{.include_deleted = request.include_deleted});
  if (!st.ok() && !full) return st;
  for (const FileVersion& v : deleted) {
    if (job.stop.stop_requested()) return Status::Cancelled("search cancelled");
    ++info.count;
    CAIRN_RETURN_IF_ERROR(fn(v));
  }
  return info;
}

Result<RepositoryStats> Session::Stats(const JobContext& job, bool with_space) {
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_RETURN_IF_ERROR(RefreshIndex(false, nullptr));
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  RepositoryStats st;
  st.location = cfg_.location;
  st.repo_id = repo->config().repo_id.Hex();
  st.device = cfg_.query_device;
  CAIRN_RETURN_IF_ERROR(
      repo->backend().List(backend::ObjectType::kPack, [&](const backend::ObjectInfo& i) {
        st.stored_bytes += i.size;
        ++st.packs;
        return Status::OK();
      }));
  CAIRN_ASSIGN_OR_RETURN(auto totals, cat->GetTotals(cfg_.query_device));
  st.versions = totals.versions;
  st.paths = totals.paths;
  st.latest_bytes = totals.latest_bytes;
  st.chunks = repo->index().BlobCount();
  CAIRN_ASSIGN_OR_RETURN(st.devices, cat->Devices());
  auto last = cat->GetMeta("last_backup:" + cfg_.device);
  if (last.ok() && last->has_value()) st.last_backup = std::strtoll((*last)->c_str(), nullptr, 10);
  // A new machine has no local note yet: the repository's run history says
  // when this device's last complete run ended.
  if (auto run = cat->LastCompleteRun(cfg_.device); run.ok() && *run)
    st.last_backup = std::max(st.last_backup, (*run)->end);
  for (const auto& [name, n] : st.devices) {
    CAIRN_ASSIGN_OR_RETURN(auto t, cat->GetTotals(name));
    st.per_device.push_back({name, t.paths, t.versions, t.latest_bytes});
  }
  if (!with_space) return st;
  // What a cleanup would free, and what stays unused and why: a dry run
  // (metadata only).
  PruneRequest dry;
  dry.dry_run = true;
  dry.as_cleanup = true;
  auto space = Prune(dry, job);
  if (!space.ok()) {
    st.space_error = space.error().message();
    return st;
  }
  st.bytes_live = space->bytes_live;
  st.bytes_unused = space->bytes_unused;
  st.cleanup_would_free = space->bytes_to_free;
  st.unused_kept_in_packs = space->unused_bytes_kept;
  st.waiting_for_tier = space->bytes_waiting_for_tier;
  st.young_unindexed_packs = space->young_orphans;
  return st;
}

// ---- Keys ------------------------------------------------------------------

Result<std::vector<KeyInfo>> Session::ListKeys() {
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_ASSIGN_OR_RETURN(auto slots, repo->ListKeySlots());
  std::vector<KeyInfo> out;
  out.reserve(slots.size());
  for (const auto& s : slots)
    out.push_back(KeyInfo{s.slot_id.Hex(), s.created, s.label, s.slot_id == repo->key_slot_in_use(),
                          s.kdf.memlimit, s.kdf.opslimit});
  return out;
}

Result<std::string> Session::AddKey(const std::string& new_secret, const std::string& label) {
  CAIRN_ASSIGN_OR_RETURN(auto turn, WriterTurn({}));
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_ASSIGN_OR_RETURN(Id id, repo->AddKeySlot(new_secret, cfg_.KdfParamsForNewKey(), label));
  return id.Hex();
}

Result<std::string> Session::RemoveKey(const std::string& prefix) {
  CAIRN_ASSIGN_OR_RETURN(auto turn, WriterTurn({}));
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  // Every key object, the ones no reader would use (damaged, planted) too:
  // `key list` names those as skipped, and they must be removable.
  std::vector<Id> matches;
  CAIRN_RETURN_IF_ERROR(
      repo->backend().List(backend::ObjectType::kKey, [&](const backend::ObjectInfo& info) {
        auto id = Id::FromHex(info.name.name);
        if (id.ok() && !prefix.empty() && info.name.name.rfind(prefix, 0) == 0)
          matches.push_back(*id);
        return Status::OK();
      }));
  if (matches.empty())
    return Status::NotFound("no key with ID " + prefix + " (see `cairn key list`)");
  if (matches.size() > 1)
    return Status::InvalidArgument("the ID prefix " + prefix + " is ambiguous");
  if (matches[0] == repo->key_slot_in_use())
    return Status::InvalidArgument(
        "refusing to remove the key you are using; open the repository with another key first");
  CAIRN_ASSIGN_OR_RETURN(auto lock, Lock(true, "key remove"));
  CAIRN_RETURN_IF_ERROR(lock->health());
  CAIRN_RETURN_IF_ERROR(repo->RemoveKeySlot(matches[0]));
  return matches[0].Hex();
}

Result<std::pair<std::string, std::string>> Session::ChangePassword(const std::string& new_secret) {
  CAIRN_ASSIGN_OR_RETURN(auto turn, WriterTurn({}));
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  Id old = repo->key_slot_in_use();
  std::string label;
  if (auto slots = repo->ListKeySlots(); slots.ok())
    for (const auto& s : *slots)
      if (s.slot_id == old) label = s.label;
  // Every key-slot removal happens under the exclusive lock.
  CAIRN_ASSIGN_OR_RETURN(auto lock, Lock(true, "key passwd"));
  // The new slot is durable before the old one goes: never zero working keys.
  CAIRN_ASSIGN_OR_RETURN(Id id, repo->AddKeySlot(new_secret, cfg_.KdfParamsForNewKey(), label));
  CAIRN_RETURN_IF_ERROR(
      lock->health().WithContext("the new password works, but the old key was not removed"));
  Status st = repo->RemoveKeySlot(old);
  if (!st.ok())
    return st.WithContext("the new password works, but the old key could not be removed");
  return std::make_pair(old.Hex(), id.Hex());
}

// ---- Recover ---------------------------------------------------------------

Result<RecoverSummary> Session::Recover(const JobContext& job) {
  auto turn = WriterTurn(job);
  if (!turn.ok()) return CancelledWhileWaiting("recover");
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_ASSIGN_OR_RETURN(catalog::Catalog * cat, SyncedCatalog(job, true));
  RecoverSummary r;
  r.catalog_path = engine::CatalogPath(*repo, cfg_.cache_dir);
  CAIRN_ASSIGN_OR_RETURN(auto totals, cat->GetTotals(""));
  r.versions = totals.versions;
  r.paths = totals.paths;
  CAIRN_ASSIGN_OR_RETURN(auto segs, cat->Segments());
  r.segments = segs.size();
  r.unreadable_segments = UnreadableSegments();
  return r;
}

Result<std::vector<RunSummary>> Session::Runs(size_t limit, const JobContext& job) {
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  CAIRN_ASSIGN_OR_RETURN(auto runs, cat->Runs(cfg_.query_device, limit));
  std::vector<RunSummary> out;
  for (const auto& r : runs) {
    RunSummary v;
    v.run_id = r.run_id.Hex();
    v.device = r.device;
    v.start = r.start;
    v.end = r.end;
    v.complete = r.complete;
    v.roots = r.roots;
    v.files_new = r.stats.files_new;
    v.files_changed = r.stats.files_changed;
    v.files_unchanged = r.stats.files_unchanged;
    v.bytes_read = r.stats.bytes_read;
    v.bytes_stored = r.stats.bytes_stored;
    v.errors = r.stats.errors;
    out.push_back(std::move(v));
  }
  return out;
}

Result<CompactSummary> Session::Compact(const JobContext& job) {
  auto turn = WriterTurn(job);
  if (!turn.ok()) return CancelledWhileWaiting("compaction");
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_ASSIGN_OR_RETURN(auto lock, Lock(true, "compaction"));
  CAIRN_RETURN_IF_ERROR(RefreshIndex(false, lock.get()));
  CAIRN_ASSIGN_OR_RETURN(catalog::Catalog * cat, SyncedCatalog(job));
  repo::CompactionOptions o;
  // Leftovers of an interrupted compaction (superseded, still present; the
  // sync just forgot the ones gone): deleted, never merged a second time.
  CAIRN_ASSIGN_OR_RETURN(o.superseded_segments, cat->Superseded());
  o.device = cfg_.device;
  o.stop = lock->StopToken(job.stop);
  if (job.events) {
    o.progress = [&job](const std::string& phase, uint64_t done, uint64_t total) {
      Progress p;
      p.operation = "compact";
      p.phase = phase;
      p.units_done = done;
      p.units_total = total;
      job.events->OnProgress(p);
    };
  }
  CAIRN_ASSIGN_OR_RETURN(repo::CompactionResult r, repo::Compact(*repo, *lock, o));
  if (r.changed()) {
    // The index this session holds was dropped (packs it named are gone);
    // reloaded now, so the next backup does not pay for it.
    std::lock_guard index_lock(index_mu_);
    CAIRN_RETURN_IF_ERROR(repo->LoadIndex(false));
  }
  CompactSummary out;
  out.packs_before = r.packs_before;
  out.packs_merged = r.packs_merged;
  out.packs_written = r.packs_written;
  out.pack_bytes_read = r.pack_bytes_read;
  out.pack_bytes_written = r.pack_bytes_written;
  out.index_before = r.index_before;
  out.index_rewritten = r.index_rewritten;
  out.index_written = r.index_written;
  out.segments_before = r.segments_before;
  out.segments_merged = r.segments_merged;
  out.segments_written = r.segments_written;
  out.superseded_deleted = r.superseded_deleted;
  out.objects_deleted = r.objects_deleted;
  out.generation = r.generation;
  out.warnings = r.warnings;
  for (const auto& w : r.warnings) Notice(job, w);
  if (r.changed()) CAIRN_RETURN_IF_ERROR(SyncedCatalog(job).status());
  return out;
}

// ---- Restore to a stream ---------------------------------------------------

Result<StreamResult> Session::RestoreToStream(const StreamRequest& request, ByteSink& sink,
                                              const JobContext& job) {
  if (request.device.empty() && cfg_.query_device.empty() && request.id.empty())
    return Status::InvalidArgument(
        "restore reads one device's files: name it with --device (see `cairn ls --all-devices`)");
  restorer::StreamOptions so;
  so.selection.path = request.path;
  so.selection.device = request.device.empty() ? cfg_.device : request.device;
  if (request.at) so.selection.at = *request.at;
  so.selection.version = request.version;
  so.range = request.range;
  if (!request.id.empty()) {
    CAIRN_ASSIGN_OR_RETURN(ByIdSelection sel, SelectById(request.id, job));
    so.selection.path = sel.path;
    so.selection.device = sel.device;
    so.selection.version = sel.version;
    so.selection.at = sel.at;
  }
  so.progress = RestoreProgressFn(job, "streaming");
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_ASSIGN_OR_RETURN(auto lock, ReadLock("restore", job));
  so.stop = lock ? lock->StopToken(job.stop) : job.stop;
  CAIRN_RETURN_IF_ERROR(RefreshIndex(false, lock.get()));
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));
  auto summary = restorer::RunStreamRestore(*repo, *cat, so, sink);
  // A lost lock is reported as such, not as the cancellation it caused.
  if (lock) CAIRN_RETURN_IF_ERROR(lock->health());
  if (!summary.ok()) return WithUnreadable(summary.error());
  StreamResult r;
  static_cast<restorer::StreamSummary&>(r) = std::move(*summary);
  r.unreadable_segments = UnreadableSegments();
  if (job.events)
    for (const auto& left : r.info.left_out)
      job.events->OnIssue(PathIssue{PathIssue::Severity::kError, "", left});
  return r;
}

}  // namespace cairn::engine
