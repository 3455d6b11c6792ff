// Session::RestoreSample: proof that restores work (design.md §13, "Restore
// samples"). A uniform random sample of the file versions the catalog holds
// (reservoir sampling over one Catalog::ForEachHistory pass, so memory is the
// sample's size, not the history's) is restored by the restorer into a fresh
// folder under the cache folder, each file's SHA-256 is compared with its
// record, and the folder is deleted whatever happens.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string_view>
#include <tuple>

#include "base/errno_status.h"
#include "catalog/catalog.h"
#include "crypto/crypto.h"
#include "engine/session.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "repo/version_id.h"
#include "restorer/restorer.h"

namespace cairn::engine {
namespace {

namespace fs = std::filesystem;

// Sample folders are "<cache>/restore-sample-<pid>-XXXXXX".
constexpr std::string_view kFolderPrefix = "restore-sample-";

bool Eligible(const repo::VersionRecord& r) {
  return !r.deleted && r.type == repo::FileType::kFile && r.size > 0;
}

// Removes the folder (and everything in it) when it goes out of scope,
// unless Remove() already did.
class FolderGuard {
 public:
  explicit FolderGuard(std::string path) : path_(std::move(path)) {}
  ~FolderGuard() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  FolderGuard(const FolderGuard&) = delete;
  FolderGuard& operator=(const FolderGuard&) = delete;
  const std::string& path() const { return path_; }
  // Removes it now; an error says what could not be removed.
  Status Remove() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) return Status::IOError("cannot delete " + path_ + ": " + ec.message());
    path_.clear();
    return Status::OK();
  }

 private:
  std::string path_;
};

// Sample folders left by a process that no longer runs (killed mid-sample):
// they hold restored plaintext, so they do not stay.
void RemoveStaleFolders(const std::string& parent) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(parent, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(kFolderPrefix, 0) != 0) continue;
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + kFolderPrefix.size(), &end, 10);
    if (pid <= 0 || *end != '-' || pid == getpid()) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still running
    std::error_code ignored;
    fs::remove_all(e.path(), ignored);
  }
}

// A fresh folder of mode 0700 under `parent` (made, 0700, when missing).
Result<std::string> MakeSampleFolder(const std::string& parent) {
  std::error_code ec;
  if (fs::create_directories(parent, ec)) chmod(parent.c_str(), 0700);
  if (ec) return Status::IOError("cannot create " + parent + ": " + ec.message());
  RemoveStaleFolders(parent);
  std::string tmpl =
      parent + "/" + std::string(kFolderPrefix) + std::to_string(getpid()) + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus(errno, "create", tmpl);
  return tmpl;
}

struct Content {
  Id sha256;
  uint64_t size = 0;
};

// The SHA-256 and size of a restored regular file. It is ours (in a 0700
// folder), so a mode without read permission is widened first.
Result<Content> HashRestoredFile(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "read", path);
  if (!S_ISREG(st.st_mode)) return Status::Corruption(path + " was not restored as a file");
  if ((st.st_mode & S_IRUSR) == 0 && chmod(path.c_str(), 0600) != 0)
    return ErrnoStatus(errno, "read", path);
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "read", path);
  crypto::Sha256 hash;
  Content c;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return ErrnoStatus(err, "read", path);
    }
    if (n == 0) break;
    hash.Update(ByteView(buf.data(), static_cast<size_t>(n)));
    c.size += static_cast<uint64_t>(n);
  }
  close(fd);
  c.sha256 = hash.Final();
  return c;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : "; ") + s;
  return out;
}

}  // namespace

bool RestoreSampleResult::ok() const {
  return std::all_of(files.begin(), files.end(), [](const SampledVersion& f) { return f.ok; });
}

bool CheckResult::ok() const {
  return checker::CheckReport::ok() && (!restore_sample || restore_sample->ok());
}

Result<RestoreSampleResult> Session::RestoreSample(size_t n, const JobContext& job) {
  if (n == 0) {
    RestoreSampleResult none;
    return none;
  }
  CAIRN_ASSIGN_OR_RETURN(auto lock, ReadLock("restore sample", job));
  return SampleRestores(n, lock.get(), job);
}

Result<RestoreSampleResult> Session::SampleRestores(size_t n, repo::RepoLock* held,
                                                    const JobContext& job) {
  if (n > kMaxRestoreSample)
    return Status::InvalidArgument("a restore sample is at most " +
                                   std::to_string(kMaxRestoreSample) + " files, not " +
                                   std::to_string(n));
  RestoreSampleResult out;
  out.requested = n;
  if (n == 0) return out;
  const std::stop_token stop = held ? held->StopToken(job.stop) : job.stop;
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  CAIRN_RETURN_IF_ERROR(RefreshIndex(false, held));
  CAIRN_ASSIGN_OR_RETURN(auto cat, ReaderCatalog(job));

  // Reservoir sampling (Algorithm R): after k eligible versions, each is in
  // the sample with probability n/k.
  std::vector<repo::VersionRecord> chosen;
  std::mt19937_64 rng(std::random_device{}());
  CAIRN_RETURN_IF_ERROR(cat->ForEachHistory(
      cfg_.query_device, [&](std::vector<repo::VersionRecord>&& history) -> Status {
        if (stop.stop_requested()) return Status::Cancelled("restore sample cancelled");
        for (repo::VersionRecord& r : history) {
          if (!Eligible(r)) continue;
          ++out.eligible;
          if (chosen.size() < n) {
            chosen.push_back(std::move(r));
            continue;
          }
          uint64_t j = std::uniform_int_distribution<uint64_t>(0, out.eligible - 1)(rng);
          if (j < n) chosen[j] = std::move(r);
        }
        return Status::OK();
      }));
  std::sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) {
    return std::tie(a.path, a.device, a.backup_time) < std::tie(b.path, b.device, b.backup_time);
  });
  if (chosen.empty()) return out;

  CAIRN_ASSIGN_OR_RETURN(std::string folder, MakeSampleFolder(cfg_.cache_dir));
  FolderGuard guard(folder);
  out.folder = folder;
  Progress progress;
  progress.operation = "restore";
  progress.phase = "restore sample";
  progress.files_total = chosen.size();
  for (const auto& r : chosen) progress.bytes_total += r.size;

  for (size_t k = 0; k < chosen.size(); ++k) {
    const repo::VersionRecord& rec = chosen[k];
    if (job.events) job.events->OnProgress(progress);
    if (stop.stop_requested()) return Status::Cancelled("restore sample cancelled");
    SampledVersion s;
    s.path = rec.path;
    s.device = rec.device;
    const repo::VersionId vid = repo::VersionIdOf(rec);
    s.id = repo::VersionIdHex(vid);
    s.time = rec.WallTime();
    s.size = rec.size;

    // The restorer selects a file's version by its position, found again
    // now: the catalog may have changed since the pass (a forget renumbers).
    CAIRN_ASSIGN_OR_RETURN(auto versions, cat->Versions(rec.device, rec.path));
    std::optional<int> number;
    for (size_t i = 0; i < versions.size(); ++i)
      if (repo::VersionIdOf(versions[i]) == vid) number = static_cast<int>(i) + 1;
    // Forgotten since the pass: not a version any more, so not a sample.
    if (!number) continue;

    restorer::RestoreOptions ro;
    ro.path = rec.path;
    ro.device = rec.device;
    ro.version = number;
    ro.target = folder + "/" + std::to_string(k);
    ro.threads = cfg_.settings.threads;
    ro.stop = stop;
    auto restored = restorer::RunRestore(*repo, *cat, ro);
    if (!restored.ok()) {
      StatusCode code = restored.error().code();
      // The sample's own trouble (a full disk, a stop), not the version's.
      if (code == StatusCode::kCancelled || code == StatusCode::kNoSpace)
        return restored.error().WithContext("restore sample");
      s.error = restored.error().message();
    } else if (!restored->errors.empty()) {
      s.error = Join(restored->errors);
    } else if (restored->files != 1) {
      s.error = "the restore wrote no file";
    } else {
      auto content = HashRestoredFile(ro.target + rec.path);
      if (!content.ok()) {
        s.error = content.error().message();
      } else if (content->size != rec.size) {
        s.error = "restored " + std::to_string(content->size) + " bytes, the record says " +
                  std::to_string(rec.size);
      } else if (content->sha256 != rec.content_sha256) {
        s.error = "restored content has SHA-256 " + content->sha256.Hex() + ", the record says " +
                  rec.content_sha256.Hex();
      } else {
        s.ok = true;
      }
    }
    std::error_code ec;
    fs::remove_all(ro.target, ec);  // one sample on disk at a time
    if (!s.ok && job.events)
      job.events->OnIssue({PathIssue::Severity::kError, s.path,
                           "restore sample of version " + s.id + " failed: " + s.error});
    ++progress.files_done;
    progress.bytes_done += rec.size;
    out.files.push_back(std::move(s));
  }
  if (job.events) {
    progress.final = true;
    job.events->OnProgress(progress);
  }
  if (held) CAIRN_RETURN_IF_ERROR(held->health());
  if (Status removed = guard.Remove(); !removed.ok()) Notice(job, removed.message());
  return out;
}

}  // namespace cairn::engine
