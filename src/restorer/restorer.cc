#include "restorer/restorer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/file_system.h"
#include "crypto/crypto.h"
#include "restorer/pack_cache.h"

namespace cairn::restorer {

namespace {

using repo::FileType;
using repo::VersionRecord;

bool IsZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

struct timespec ToTimespec(TimeNs t) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(t / 1000000000LL);
  ts.tv_nsec = static_cast<long>(t % 1000000000LL);
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

// The records to restore, by kind; pointers into the records given.
struct Plan {
  std::vector<const VersionRecord*> dirs, files, hardlinks, symlinks, others;
};

// The options' own checks: absolute, normal paths.
Status CheckOptions(const RestoreOptions& o) {
  if (!IsNormalAbsolutePath(o.path))
    return Status::InvalidArgument("restore needs an absolute path without . or ..: " + o.path);
  if (!o.target.empty() &&
      (o.target[0] != '/' || !IsNormalAbsolutePath(o.target == "/" ? "/x" : o.target)))
    return Status::InvalidArgument("--to needs an absolute folder path: " + o.target);
  return Status::OK();
}

// Sorts `records` (what SelectRecords gave for `path`) by kind; a record
// outside `path` or not normal is refused: its path goes to `*refused`.
Plan PlanRecords(const std::vector<VersionRecord>& records, const std::string& path,
                 std::vector<std::string>* refused) {
  Plan plan;
  for (const VersionRecord& r : records) {
    if (!IsRestorablePath(r.path, path)) {
      refused->push_back(r.path);
      continue;
    }
    switch (r.type) {
      case FileType::kDir:
        plan.dirs.push_back(&r);
        break;
      case FileType::kFile:
        plan.files.push_back(&r);
        break;
      case FileType::kHardlink:
        plan.hardlinks.push_back(&r);
        break;
      case FileType::kSymlink:
        plan.symlinks.push_back(&r);
        break;
      default:
        plan.others.push_back(&r);
        break;
    }
  }
  return plan;
}

class Restore {
 public:
  Restore(repo::Repository& repo, catalog::Catalog& catalog, const RestoreOptions& o)
      : repo_(repo),
        catalog_(catalog),
        o_(o),
        fs_(o.fs ? *o.fs : DefaultFileSystem()),
        threads_(o.threads ? o.threads : std::max(2u, std::thread::hardware_concurrency())),
        // One pack per thread plus one, so that a pack still in use is not
        // evicted and read again (3 with the default two threads).
        cache_(repo, threads_ + 1, 64ull << 20) {}
  // Runs the phases in order: check options, collect records, plan, then
  // folders, files, hard links, symlinks, special files, folder metadata.
  Result<RestoreSummary> Execute();

 private:
  // Fills records_ with what the options select.
  Status Collect();
  // Sets root_dest_ and sorts records_ into a Plan; a record outside the
  // requested path or not normal is refused (listed in the errors).
  Plan MakePlan();
  // Creates every folder, noting in preexisting_dirs_ those already there.
  void RestoreFolders(const std::vector<const VersionRecord*>& dirs);
  // Restores the files on threads_ workers; reorders `files` (pack order).
  void RestoreFiles(std::vector<const VersionRecord*>& files);
  void SortByPackPosition(std::vector<const VersionRecord*>& files) const;
  // Links to the restored target when it is among `files` (this restore),
  // otherwise restores the target's content as a copy.
  void RestoreHardlinks(const std::vector<const VersionRecord*>& hardlinks,
                        const std::vector<const VersionRecord*>& files);
  void RestoreSymlinks(const std::vector<const VersionRecord*>& symlinks);
  // FIFOs always; devices as root; never over an existing path.
  void RestoreSpecials(const std::vector<const VersionRecord*>& others);
  // Modes and times of the folders, deepest first; sorts `dirs`.
  void ApplyFolderMetadata(std::vector<const VersionRecord*>& dirs);
  void SyncDestination() const;
  // The --overwrite rule for links: returns whether `dest` may now be
  // created. True when nothing is there, or with --overwrite after
  // unlinking what is; false (and dest listed in skipped_existing) when
  // something is there and is kept.
  bool ClearExisting(const std::string& dest);
  std::string Dest(const std::string& path) const { return Destination(o_.target, path); }
  bool ParentChainSafe(const std::string& dest);
  Status MakeDirs(const std::string& dest_dir);
  // mkdir -p of --to (following symlinks, as the user named it).
  Status MakeTargetDirs(const std::string& target);
  // Folders this restore created or checked (real folders, no symlink in
  // their chain below the root). Symlinks are only created after every file
  // is written, so a folder once checked stays safe for the file phase.
  bool IsVerifiedDir(const std::string& dir) {
    std::lock_guard lock(dirs_mu_);
    return verified_dirs_.count(dir) > 0;
  }
  std::mutex dirs_mu_;
  std::unordered_set<std::string> verified_dirs_;
  void RestoreFile(const VersionRecord& rec);
  // True when dest is a regular file with exactly the recorded content.
  bool SameContent(const std::string& dest, const VersionRecord& rec);
  // Writes rec's content to `file`, the file being made for rec.
  Status WriteContent(const VersionRecord& rec, WritableFile& file, uint64_t& written);
  // Best effort (each failure ignored): extended attributes, owner (as root),
  // mode (not of a symlink) and times, through `file` when given, else on
  // `dest` itself.
  void ApplyMetadata(const VersionRecord& rec, const std::string& dest, WritableFile* file);
  // Adds the counted metadata failures to the summary, once at the end.
  void SummariseMetadata();
  static constexpr size_t kMaxMetadataWarnings = 20;
  std::atomic<uint64_t> xattrs_refused_{0}, owners_refused_{0};
  void Error(std::string msg) {
    std::lock_guard lock(mu_);
    summary_.errors.push_back(std::move(msg));
  }
  // One path could not be restored. A full disk (NoSpace) stops the restore,
  // as every later file would fail the same way; anything else is reported
  // in the summary and the restore goes on.
  void Fail(const Status& st) {
    std::lock_guard lock(mu_);
    if (st.code() != StatusCode::kNoSpace) {
      summary_.errors.push_back(st.message());
      return;
    }
    if (fatal_.ok()) fatal_ = st;
    stopped_ = true;
  }

  repo::Repository& repo_;
  catalog::Catalog& catalog_;
  const RestoreOptions& o_;
  FileSystem& fs_;          // every file access of the restore
  const unsigned threads_;  // workers writing files
  PackCache cache_;
  std::string root_dest_;                             // nothing is written outside it
  std::unordered_set<std::string> preexisting_dirs_;  // destinations of folders already there
  std::vector<VersionRecord> records_;
  RestoreSummary summary_;
  std::mutex mu_;
  std::atomic<uint64_t> bytes_done_{0}, files_done_{0};
  bool is_root_ = geteuid() == 0;
  std::atomic<bool> stopped_{false};  // set with fatal_: no more files are started
  Status fatal_;                      // the error that stopped the restore; guarded by mu_
};

bool Restore::ParentChainSafe(const std::string& dest) {
  if (size_t slash = dest.find_last_of('/');
      slash != std::string::npos && slash > 0 && IsVerifiedDir(dest.substr(0, slash)))
    return true;
  // Every existing component strictly between root_dest_ and dest must be a
  // real folder, not a symlink.
  size_t pos = root_dest_.size();
  while (true) {
    size_t next = dest.find('/', pos + 1);
    if (next == std::string::npos) return true;
    std::string comp = dest.substr(0, next);
    Result<struct stat> st = fs_.Lstat(comp);
    if (!st.ok()) return st.error().IsNotFound();
    if (!S_ISDIR(st->st_mode)) return false;
    pos = next;
  }
}

Status Restore::MakeDirs(const std::string& dest_dir) {
  // Inductive: the parent chain is made and verified first, so each call
  // costs one mkdir and one lstat for a folder not seen before, none after.
  if (dest_dir.empty() || dest_dir == "/" || IsVerifiedDir(dest_dir)) return Status::OK();
  size_t slash = dest_dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0)
    CAIRN_RETURN_IF_ERROR(MakeDirs(dest_dir.substr(0, slash)));
  bool below_root = dest_dir.size() > root_dest_.size();
  if (Status made = fs_.MakeDir(dest_dir, 0700); !made.ok() && !made.IsAlreadyExists()) return made;
  CAIRN_ASSIGN_OR_RETURN(const struct stat st, fs_.Lstat(dest_dir));
  if (below_root && !S_ISDIR(st.st_mode))
    return Status::PermissionDenied("refusing to write through " + dest_dir +
                                    ": it is not a folder (a symlink or a file)");
  std::lock_guard lock(dirs_mu_);
  verified_dirs_.insert(dest_dir);
  return Status::OK();
}

Status Restore::MakeTargetDirs(const std::string& target) {
  for (size_t slash = target.find('/', 1);; slash = target.find('/', slash + 1)) {
    std::string dir = target.substr(0, slash);
    // (A folder that exists may still refuse mkdir with EACCES or EROFS.)
    if (Status made = fs_.MakeDir(dir, 0777);
        !made.ok() && !made.IsAlreadyExists() && !fs_.Lstat(dir).ok())
      return made;
    if (slash == std::string::npos) break;
  }
  // Something already there must be a folder, or a symlink the user chose.
  CAIRN_ASSIGN_OR_RETURN(const struct stat st, fs_.Lstat(target));
  if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
    return Status::IOError("cannot create " + target + ": it exists and is not a folder");
  return Status::OK();
}

Status Restore::Collect() {
  CAIRN_ASSIGN_OR_RETURN(records_,
                         SelectRecords(catalog_, Selection{o_.path, o_.device, o_.at, o_.version}));
  return Status::OK();
}

Status Restore::WriteContent(const VersionRecord& rec, WritableFile& file, uint64_t& written) {
  crypto::Sha256 sha;
  uint64_t offset = 0;
  for (const Id& id : rec.chunks) {
    auto loaded = cache_.LoadBlob(id);
    if (!loaded.ok()) return loaded.error().WithContext("cannot restore " + rec.path);
    Bytes data = std::move(*loaded);
    sha.Update(data);
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min<size_t>(data.size() - pos, 64 * 1024);
      if (rec.sparse && IsZero(data.data() + pos, n)) {  // leave a hole
        pos += n;
        continue;
      }
      CAIRN_RETURN_IF_ERROR(file.WriteAt(ByteView(data.data() + pos, n), offset + pos));
      pos += n;
    }
    offset += data.size();
    bytes_done_ += data.size();
  }
  // Needed for a hole at the end of a sparse file (and harmless otherwise).
  if (rec.sparse) CAIRN_RETURN_IF_ERROR(file.Truncate(offset));
  written = offset;
  if (offset != rec.size || sha.Final() != rec.content_sha256)
    return Status::Corruption("restored content of " + rec.path +
                              " does not match its recorded SHA-256; the file was not restored");
  return Status::OK();
}

void Restore::ApplyMetadata(const VersionRecord& rec, const std::string& dest, WritableFile* file) {
  // Metadata the destination cannot take does not make the content less
  // restored, but the person should know: mode and time failures are named
  // per path (a few), owner and extended-attribute failures counted (a file
  // system without xattrs refuses every one of them).
  for (const auto& x : rec.xattrs) {
    FileXattr fx{x.name, x.value};
    if (!(file ? file->SetXattr(fx) : fs_.SetXattr(dest, fx)).ok()) ++xattrs_refused_;
  }
  if (is_root_ &&
      !(file ? file->SetOwner(rec.uid, rec.gid) : fs_.SetOwner(dest, rec.uid, rec.gid)).ok())
    ++owners_refused_;
  const struct timespec mtime = ToTimespec(rec.mtime);
  Status mode, times;
  if (file) {
    mode = file->SetMode(rec.mode);
    times = file->SetTimes(mtime, mtime);
  } else {
    if (rec.type != FileType::kSymlink) mode = fs_.SetMode(dest, rec.mode);
    times = fs_.SetTimes(dest, mtime, mtime);
  }
  if (!mode.ok() || !times.ok()) {
    std::lock_guard lock(mu_);
    if (summary_.metadata_warnings.size() < kMaxMetadataWarnings)
      summary_.metadata_warnings.push_back(dest + ": " +
                                           (!mode.ok() ? mode.message() : times.message()));
  }
}

void Restore::SummariseMetadata() {
  std::lock_guard lock(mu_);
  if (xattrs_refused_)
    summary_.metadata_warnings.push_back(
        std::to_string(xattrs_refused_.load()) +
        " extended attribute(s) could not be set (the destination's file system may not "
        "support them)");
  if (owners_refused_)
    summary_.metadata_warnings.push_back(std::to_string(owners_refused_.load()) +
                                         " owner(s) could not be set");
}

bool Restore::SameContent(const std::string& dest, const VersionRecord& rec) {
  Result<std::unique_ptr<ReadableFile>> file = fs_.OpenForRead(dest);
  if (!file.ok()) return false;
  Result<struct stat> st = (*file)->Stat();
  if (!st.ok() || !S_ISREG(st->st_mode) || static_cast<uint64_t>(st->st_size) != rec.size)
    return false;
  crypto::Sha256 sha;
  thread_local Bytes buf(1 << 20);
  while (true) {
    Result<size_t> n = (*file)->Read(buf.data(), buf.size());
    if (!n.ok()) return false;  // unreadable: not known to be the same
    if (*n == 0) break;
    sha.Update(ByteView(buf.data(), *n));
  }
  return sha.Final() == rec.content_sha256;
}

void Restore::RestoreFile(const VersionRecord& rec) {
  std::string dest = Dest(rec.path);
  if (!ParentChainSafe(dest)) {
    Error("refusing to restore " + rec.path + ": a symlink in its parent folders");
    return;
  }
  size_t slash = dest.find_last_of('/');
  Status st = MakeDirs(dest.substr(0, slash));
  if (!st.ok()) {
    Fail(st);
    return;
  }
  // A fresh destination is created directly (O_EXCL also tells whether
  // something is already there, without a separate lstat).
  std::string write_path = dest;
  bool exists = false;
  Result<std::unique_ptr<WritableFile>> created = fs_.CreateFile(dest, 0600);
  if (!created.ok() && created.error().IsAlreadyExists()) {
    exists = true;
    if (SameContent(dest, rec)) {  // already what the backup holds: nothing to do
      std::lock_guard lock(mu_);
      ++summary_.already_present;
      return;
    }
    if (!o_.overwrite) {
      std::lock_guard lock(mu_);
      summary_.skipped_existing.push_back(dest);
      return;
    }
    write_path =
        dest.substr(0, slash + 1) + ".cairn-restore-" + crypto::RandomId().Hex().substr(0, 12);
    created = fs_.CreateFile(write_path, 0600);
  }
  if (!created.ok()) {
    Fail(created.error());
    return;
  }
  WritableFile& file = **created;
  // Pre-allocating helps large files stay contiguous; for small ones it is
  // only an extra system call. A failure is no reason not to try writing.
  if (rec.size >= (1u << 20) && !rec.sparse) (void)file.Allocate(rec.size);
  uint64_t written = 0;
  st = WriteContent(rec, file, written);
  if (st.ok()) {
    ApplyMetadata(rec, dest, &file);
    // A replaced file must be durable before the rename, or a crash could
    // leave neither version. A new one is synced with the whole restore
    // (SyncDestination).
    if (exists) st = file.Sync();
  }
  // Close reports late write errors (a full disk on NFS, for one).
  if (Status closed = file.Close(); !closed.ok() && st.ok()) st = closed;
  if (st.ok() && exists) st = fs_.Rename(write_path, dest);
  if (!st.ok()) {
    // Nothing unverified is left behind (the original stays when replacing).
    (void)fs_.Remove(write_path);
    Fail(st);
    return;
  }
  std::lock_guard lock(mu_);
  ++summary_.files;
  summary_.bytes += written;
}

Plan Restore::MakePlan() {
  // The restore root: the requested path's parent (in place) or --to.
  root_dest_ = o_.target.empty() ? o_.path.substr(0, std::max<size_t>(1, o_.path.find_last_of('/')))
                                 : (o_.target == "/" ? std::string() : o_.target);
  if (root_dest_ == "/") root_dest_.clear();
  std::vector<std::string> refused;
  Plan plan = PlanRecords(records_, o_.path, &refused);
  for (const std::string& path : refused)
    Error("refusing to restore unsafe path from the repository: " + path);
  return plan;
}

void Restore::RestoreFolders(const std::vector<const VersionRecord*>& dirs) {
  for (const VersionRecord* d : dirs) {
    std::string dest = Dest(d->path);
    if (Result<struct stat> before = fs_.Lstat(dest); before.ok() && S_ISDIR(before->st_mode))
      preexisting_dirs_.insert(dest);
    Status st = MakeDirs(dest);
    if (!st.ok())
      Fail(st);
    else
      ++summary_.dirs;
  }
}

void Restore::SortByPackPosition(std::vector<const VersionRecord*>& files) const {
  auto data_position = [&](const VersionRecord* r) {
    if (r->chunks.empty()) return std::pair<uint32_t, uint32_t>(0, 0);
    auto loc = repo_.index().Find(r->chunks.front());
    return loc ? std::pair<uint32_t, uint32_t>(loc->pack, loc->offset)
               : std::pair<uint32_t, uint32_t>(UINT32_MAX, 0);
  };
  std::vector<std::pair<std::pair<uint32_t, uint32_t>, const VersionRecord*>> ordered;
  ordered.reserve(files.size());
  for (const VersionRecord* f : files) ordered.emplace_back(data_position(f), f);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < ordered.size(); ++i) files[i] = ordered[i].second;
}

void Restore::RestoreFiles(std::vector<const VersionRecord*>& files) {
  // In the order their data lies in the packs, so that each pack is read
  // once, sequentially (see PackCache).
  SortByPackPosition(files);
  std::vector<Id> planned;
  for (const VersionRecord* f : files)
    planned.insert(planned.end(), f->chunks.begin(), f->chunks.end());
  cache_.Plan(planned);
  RestoreProgress prog;
  for (const VersionRecord* f : files) prog.bytes_total += f->size;
  prog.files_total = files.size();
  std::atomic<size_t> next{0};
  std::vector<std::jthread> workers;
  for (unsigned i = 0; i < threads_; ++i)
    workers.emplace_back([&] {
      while (true) {
        size_t k = next++;
        if (k >= files.size() || stopped_ || o_.stop.stop_requested()) return;
        RestoreFile(*files[k]);
        ++files_done_;
      }
    });
  if (!o_.progress) return;  // the workers join as they go out of scope
  std::jthread reporter([&](std::stop_token st) {
    while (SleepUnlessStopped(st, std::chrono::milliseconds(250))) {
      RestoreProgress p = prog;
      p.files_done = files_done_;
      p.bytes_done = bytes_done_;
      o_.progress(p);
    }
  });
  for (auto& w : workers) w.join();
  // The reporter is stopped and joined here, before `prog` goes away.
}

bool Restore::ClearExisting(const std::string& dest) {
  if (!fs_.Lstat(dest).ok()) return true;
  if (!o_.overwrite) {
    std::lock_guard lock(mu_);
    summary_.skipped_existing.push_back(dest);
    return false;
  }
  // If this fails (a folder is there), creating dest fails and says so.
  (void)fs_.Remove(dest);
  return true;
}

void Restore::RestoreHardlinks(const std::vector<const VersionRecord*>& hardlinks,
                               const std::vector<const VersionRecord*>& files) {
  std::unordered_set<std::string> restored_files;
  for (const VersionRecord* f : files) restored_files.insert(f->path);
  for (const VersionRecord* h : hardlinks) {
    if (stopped_) return;
    std::string dest = Dest(h->path);
    if (!ParentChainSafe(dest)) {
      Error("refusing to restore " + h->path + ": a symlink in its parent folders");
      continue;
    }
    if (!ClearExisting(dest)) continue;
    if (restored_files.count(h->link_target) && fs_.MakeHardLink(Dest(h->link_target), dest).ok()) {
      ++summary_.links;
      continue;
    }
    // The target is not part of this restore (or could not be linked): a
    // copy of the target's version.
    auto target = catalog_.Lookup(o_.device, h->link_target, o_.at);
    if (target.ok() && *target && (*target)->type == FileType::kFile) {
      VersionRecord copy = **target;
      copy.path = h->path;
      RestoreFile(copy);
    } else {
      Error("hard link " + h->path + ": its target " + h->link_target + " is not in the backup");
    }
  }
}

void Restore::RestoreSymlinks(const std::vector<const VersionRecord*>& symlinks) {
  for (const VersionRecord* s : symlinks) {
    std::string dest = Dest(s->path);
    if (!ParentChainSafe(dest) || !MakeDirs(dest.substr(0, dest.find_last_of('/'))).ok()) {
      Error("refusing to restore " + s->path + ": a symlink in its parent folders");
      continue;
    }
    if (!ClearExisting(dest)) continue;
    if (Status made = fs_.MakeSymlink(s->link_target, dest); !made.ok()) {
      Fail(made);
      if (stopped_) return;
      continue;
    }
    ApplyMetadata(*s, dest, nullptr);
    ++summary_.links;
  }
}

void Restore::RestoreSpecials(const std::vector<const VersionRecord*>& others) {
  for (const VersionRecord* o : others) {
    std::string dest = Dest(o->path);
    if (!ParentChainSafe(dest)) continue;
    if (fs_.Lstat(dest).ok()) continue;  // never replaced, even with --overwrite
    Status made;
    if (o->type == FileType::kFifo)
      made = fs_.MakeNode(dest, S_IFIFO | o->mode, 0);
    else if (o->type == FileType::kCharDevice && is_root_)
      made = fs_.MakeNode(dest, S_IFCHR | o->mode, o->rdev);
    else if (o->type == FileType::kBlockDevice && is_root_)
      made = fs_.MakeNode(dest, S_IFBLK | o->mode, o->rdev);
    else
      continue;  // sockets are recreated by their programs; devices need root
    if (made.ok()) {
      ApplyMetadata(*o, dest, nullptr);
      ++summary_.others;
    }
  }
}

void Restore::ApplyFolderMetadata(std::vector<const VersionRecord*>& dirs) {
  // Deepest first, so restoring children does not disturb their mtimes.
  std::sort(dirs.begin(), dirs.end(),
            [](const VersionRecord* a, const VersionRecord* b) { return a->path > b->path; });
  for (const VersionRecord* d : dirs) {
    std::string dest = Dest(d->path);
    // A folder that was already there keeps its permissions and times unless
    // the user asked to overwrite.
    if (preexisting_dirs_.count(dest) && !o_.overwrite) continue;
    if (ParentChainSafe(dest)) ApplyMetadata(*d, dest, nullptr);
  }
}

void Restore::SyncDestination() const {
  // A fresh restore is written directly, without a sync per file; one sync
  // makes it durable (in place: of every file system, as the restored tree
  // may span several). Best effort, as before the seam.
  (void)fs_.SyncFileSystem(o_.target);
}

Result<RestoreSummary> Restore::Execute() {
  auto t0 = std::chrono::steady_clock::now();
  CAIRN_RETURN_IF_ERROR(CheckOptions(o_));
  CAIRN_RETURN_IF_ERROR(Collect());
  Plan plan = MakePlan();
  if (!o_.target.empty()) CAIRN_RETURN_IF_ERROR(MakeTargetDirs(o_.target));
  // Each phase may stop the restore (Fail on a full disk); later phases
  // would only fail the same way.
  RestoreFolders(plan.dirs);
  if (stopped_) return fatal_;
  RestoreFiles(plan.files);
  if (stopped_) return fatal_;
  if (o_.stop.stop_requested()) {
    SyncDestination();  // what was written (each file verified) is kept
    return Status::Cancelled("restore cancelled after " + std::to_string(summary_.files) +
                             " files; run it again to finish");
  }
  // Links and special files only after every file is written: a symlink
  // made earlier could redirect a file write (see IsVerifiedDir).
  RestoreHardlinks(plan.hardlinks, plan.files);
  if (stopped_) return fatal_;
  RestoreSymlinks(plan.symlinks);
  if (stopped_) return fatal_;
  RestoreSpecials(plan.others);
  ApplyFolderMetadata(plan.dirs);
  SummariseMetadata();
  SyncDestination();
  summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary_;
}

}  // namespace

Result<std::vector<VersionRecord>> SelectRecords(catalog::Catalog& catalog, const Selection& s) {
  std::vector<VersionRecord> records;
  if (s.version) {
    CAIRN_ASSIGN_OR_RETURN(auto versions, catalog.Versions(s.device, s.path));
    int n = *s.version;
    if (n < 1 || n > static_cast<int>(versions.size()))
      return Status::NotFound(s.path + " has " + std::to_string(versions.size()) +
                              " versions; there is no version " + std::to_string(n));
    const VersionRecord& r = versions[static_cast<size_t>(n - 1)];
    if (!r.deleted && r.type == FileType::kDir)
      return Status::InvalidArgument(
          "--version selects a version of a file; for a folder use --at TIME");
    if (r.deleted)
      return Status::NotFound("version " + std::to_string(n) + " of " + s.path +
                              " records its deletion; pick another version");
    records.push_back(r);
    return records;
  }
  CAIRN_ASSIGN_OR_RETURN(auto top, catalog.Lookup(s.device, s.path, s.at));
  if (!top && s.path == "/") {
    // No run records "/" itself (only the roots and their parents): restoring
    // everything is the tree below it.
    CAIRN_RETURN_IF_ERROR(catalog.ListTree(s.device, "/", s.at, true, [&](const VersionRecord& r) {
      records.push_back(r);
      return Status::OK();
    }));
    if (!records.empty()) return records;
  }
  if (!top) {
    auto versions = catalog.Versions(s.device, s.path);
    if (versions.ok() && !versions->empty() && versions->back().deleted &&
        versions->back().WallTime() <= s.at)
      return Status::NotFound(s.path + " was deleted (recorded " +
                              FormatLocal(versions->back().WallTime()) +
                              "); restore an earlier version with --version N or --at TIME "
                              "(see `cairn versions " +
                              s.path + "`)");
  }
  if (!top)
    return Status::NotFound(
        "nothing backed up at " + s.path +
        (s.at == catalog::kLatest ? std::string() : " at " + FormatLocal(s.at)) + " for device " +
        s.device + " (see `cairn ls`, or --device)");
  records.push_back(*top);
  if (top->type == FileType::kDir) {
    CAIRN_RETURN_IF_ERROR(
        catalog.ListTree(s.device, s.path, s.at, true, [&](const VersionRecord& r) {
          if (r.path != s.path) records.push_back(r);
          return Status::OK();
        }));
  }
  return records;
}

bool IsNormalAbsolutePath(std::string_view path) {
  if (path.empty() || path[0] != '/') return false;
  if (path == "/") return true;
  if (path.find('\0') != std::string_view::npos) return false;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view comp = path.substr(pos, next - pos);
    if (comp.empty() || comp == "." || comp == "..") return false;
    pos = next + 1;
  }
  return true;
}

bool IsAtOrUnder(std::string_view path, std::string_view root) {
  if (path == root) return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         (root == "/" || path[root.size()] == '/');
}

bool IsRestorablePath(std::string_view path, std::string_view requested) {
  return IsNormalAbsolutePath(path) && IsAtOrUnder(path, requested);
}

Result<RestoreSummary> RunRestore(repo::Repository& repo, catalog::Catalog& catalog,
                                  const RestoreOptions& options) {
  Restore r(repo, catalog, options);
  return r.Execute();
}

std::string Destination(const std::string& target, const std::string& path) {
  if (target.empty() || target == "/") return path;
  return path == "/" ? target : target + path;
}

Result<PreviewSummary> PreviewRestore(catalog::Catalog& catalog, const RestoreOptions& options,
                                      size_t max_listed) {
  const RestoreOptions& o = options;
  CAIRN_RETURN_IF_ERROR(CheckOptions(o));
  CAIRN_ASSIGN_OR_RETURN(std::vector<VersionRecord> records,
                         SelectRecords(catalog, Selection{o.path, o.device, o.at, o.version}));
  std::vector<std::string> refused;
  const Plan plan = PlanRecords(records, o.path, &refused);
  FileSystem& fs = o.fs ? *o.fs : DefaultFileSystem();
  PreviewSummary p;
  p.target = Destination(o.target, o.path);
  p.files = plan.files.size();
  for (const VersionRecord* f : plan.files) p.bytes += f->size;
  p.dirs = plan.dirs.size();
  p.links = plan.hardlinks.size() + plan.symlinks.size();
  p.others = plan.others.size();
  // Folders whose destination does not exist: nothing below them does
  // either, so a restore to a fresh place costs one lstat, not one per
  // path. (Records come in path order: a folder before what it holds.)
  std::unordered_set<std::string> missing;
  auto parent_missing = [&](const std::string& dest) {
    size_t slash = dest.find_last_of('/');
    return slash != std::string::npos && slash > 0 && missing.count(dest.substr(0, slash)) > 0;
  };
  for (const VersionRecord* d : plan.dirs) {
    std::string dest = Destination(o.target, d->path);
    if (parent_missing(dest)) {
      missing.insert(std::move(dest));
      continue;
    }
    if (Result<struct stat> st = fs.Lstat(dest); !st.ok() && st.error().IsNotFound())
      missing.insert(std::move(dest));
  }
  // What overwrite replaces: files (RestoreFile), hard links and symlinks
  // (ClearExisting) where something other than a folder is. Special files
  // never replace anything.
  std::vector<std::string> existing;
  for (const auto* kind : {&plan.files, &plan.hardlinks, &plan.symlinks}) {
    for (const VersionRecord* r : *kind) {
      std::string dest = Destination(o.target, r->path);
      if (parent_missing(dest)) continue;
      if (Result<struct stat> st = fs.Lstat(dest); st.ok() && !S_ISDIR(st->st_mode))
        existing.push_back(std::move(dest));
    }
  }
  std::sort(existing.begin(), existing.end());
  p.would_overwrite_count = existing.size();
  if (existing.size() > max_listed) existing.resize(max_listed);
  p.would_overwrite = std::move(existing);
  return p;
}

}  // namespace cairn::restorer
