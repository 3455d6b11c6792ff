#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "archiver/archiver.h"
#include "cmd/cairn/commands.h"
#include "compress/compressor.h"

namespace cairn::cli {

Status CreateRepository(Context& ctx, const std::string& label);

namespace {

std::vector<std::string> DefaultPaths(const Context& ctx) {
  std::vector<std::string> out;
  for (const auto& d : ctx.settings().watched_directories) out.push_back(AbsolutePath(d));
  if (!out.empty()) return out;
  const char* home = std::getenv("HOME");
  if (!home) return out;
  for (const char* name : {"Documents", "Pictures", "Desktop"}) {
    std::string p = std::string(home) + "/" + name;
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(p);
  }
  return out;
}

}  // namespace

int RunBackup(Context& ctx, const BackupOptions& o) {
  std::vector<std::string> paths;
  for (const auto& p : o.paths) paths.push_back(AbsolutePath(p));
  if (paths.empty()) paths = DefaultPaths(ctx);
  // A folder given by a symlink (~/Documents -> /data/Documents) is backed up
  // as the folder it points to: that is what the user means.
  for (auto& p : paths) {
    struct stat lst, st;
    if (lstat(p.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) && stat(p.c_str(), &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      if (char* real = realpath(p.c_str(), nullptr)) {
        ctx.Warn(p + " is a symlink; backing up the folder it points to, " + real);
        p = real;
        free(real);
      }
    }
  }
  if (paths.empty())
    return ctx.Fail(Status::InvalidArgument(
        "nothing to back up: pass folders (`cairn backup ~/Documents`) or set "
        "backup.watched_directories in config/settings.yaml"));

  auto repo = ctx.OpenRepository(true, true);
  if (!repo.ok() && repo.error().code() == StatusCode::kNoRepository && o.init_if_missing) {
    Status st = CreateRepository(ctx, "");
    if (!st.ok()) return ctx.Fail(st);
    repo = ctx.OpenRepository(true, true);
  }
  if (!repo.ok()) return ctx.Fail(repo.error());
  const auto& s = ctx.settings();
  auto algo = compress::ParseAlgorithm(s.compression);
  if (!algo.ok()) return ctx.Fail(algo.error());
  int level = s.compression_level ? *s.compression_level : compress::DefaultLevel(*algo);
  (*repo)->SetCompression(*algo, level);

  auto lock = ctx.Lock(**repo, false, "backup");
  if (!lock.ok()) return ctx.Fail(lock.error());
  auto cat = ctx.OpenCatalog(**repo);
  if (!cat.ok()) return ctx.Fail(cat.error());

  archiver::BackupOptions bo;
  bo.paths = paths;
  bo.device = ctx.Device();
  bo.exclude_patterns = s.exclude_patterns;
  bo.exclude_patterns.insert(bo.exclude_patterns.end(), o.excludes.begin(), o.excludes.end());
  bo.max_file_size = s.max_file_size_mb << 20;
  bo.threads = s.threads;
  if (const char* ci = std::getenv("CAIRN_CHECKPOINT_SECONDS"))
    bo.checkpoint_interval = std::chrono::milliseconds(static_cast<int64_t>(std::atof(ci) * 1000));
  if (ctx.ShowProgress()) {
    auto start = std::chrono::steady_clock::now();
    bo.progress = [start](const archiver::Progress& p) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double rate = secs > 0 ? p.bytes_done / secs : 0;
      std::string eta;
      if (!p.walking && rate > 0 && p.bytes_seen > p.bytes_done) {
        int left = static_cast<int>((p.bytes_seen - p.bytes_done) / rate);
        eta = ", ETA " + std::to_string(left / 60) + "m" + std::to_string(left % 60) + "s";
      }
      char buf[256];
      snprintf(buf, sizeof(buf), "%s%llu files (%llu unchanged), %s of %s read, %s/s%s",
               p.walking ? "scanning: " : "", static_cast<unsigned long long>(p.files_done),
               static_cast<unsigned long long>(p.files_unchanged), HumanBytes(p.bytes_done).c_str(),
               HumanBytes(p.bytes_seen).c_str(), HumanBytes(static_cast<uint64_t>(rate)).c_str(),
               eta.c_str());
      ProgressLine(buf);
    };
  }
  auto summary = archiver::RunBackup(**repo, **cat, bo);
  ProgressDone();
  if (!summary.ok()) return ctx.Fail(summary.error().WithContext("backup stopped"));
  Status lock_health = (*lock)->health();
  const auto& r = *summary;
  if (ctx.json()) {
    nlohmann::json j = {{"run_id", r.run_id.Hex()},
                        {"device", ctx.Device()},
                        {"paths", paths},
                        {"files_new", r.files_new},
                        {"files_changed", r.files_changed},
                        {"files_unchanged", r.files_unchanged},
                        {"dirs", r.dirs},
                        {"deleted", r.deleted},
                        {"bytes_read", r.bytes_read},
                        {"bytes_added", r.bytes_new_raw},
                        {"bytes_stored", r.bytes_stored},
                        {"seconds", r.seconds},
                        {"errors", r.errors},
                        {"warnings", r.warnings},
                        {"partial", r.partial()}};
    ctx.PrintJson(j);
  } else {
    for (const auto& w : r.warnings) ctx.Warn(w);
    for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", ShowPath(e).c_str());
    ctx.Info("backed up to " + ctx.Location() + " as device " + ctx.Device());
    ctx.Info("  files: " + std::to_string(r.files_new) + " new, " +
             std::to_string(r.files_changed) + " changed, " + std::to_string(r.files_unchanged) +
             " unchanged, " + std::to_string(r.deleted) + " deleted");
    ctx.Info("  data:  " + HumanBytes(r.bytes_read) + " read, " + HumanBytes(r.bytes_new_raw) +
             " new after deduplication, " + HumanBytes(r.bytes_stored) +
             " stored after compression and encryption");
    char secs[32];
    snprintf(secs, sizeof(secs), "%.2f s", r.seconds);
    ctx.Info("  time:  " + std::string(secs));
    if (r.partial())
      ctx.Info("  " + std::to_string(r.errors.size()) +
               " files could not be read (see above); everything else is backed up");
  }
  if (!lock_health.ok()) ctx.Warn(lock_health.message());
  return r.partial() ? kExitPartial : kExitOk;
}

}  // namespace cairn::cli
