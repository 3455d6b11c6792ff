#include <chrono>
#include <cstdio>

#include "cmd/cairn/commands.h"
#include "restorer/restorer.h"

namespace cairn::cli {

int RunRestore(Context& ctx, const RestoreOptions& o) {
  restorer::RestoreOptions ro;
  ro.path = AbsolutePath(o.path);
  ro.device = ctx.Device();
  if (ctx.global().all_devices)
    return ctx.Fail(Status::InvalidArgument(
        "restore reads one device's files: name it with --device (see `cairn ls --all-devices`)"));
  if (!o.at.empty()) {
    auto t = ParseTime(o.at);
    if (!t.ok()) return ctx.Fail(t.error());
    ro.at = *t;
  }
  ro.version = o.version;
  if (!o.to.empty()) ro.target = AbsolutePath(o.to);
  ro.overwrite = o.overwrite;
  ro.threads = ctx.settings().threads;
  if (ctx.ShowProgress()) {
    auto start = std::chrono::steady_clock::now();
    ro.progress = [start](const restorer::RestoreProgress& p) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double rate = secs > 0 ? p.bytes_done / secs : 0;
      std::string eta;
      if (rate > 0 && p.bytes_total > p.bytes_done) {
        int left = static_cast<int>((p.bytes_total - p.bytes_done) / rate);
        eta = ", ETA " + std::to_string(left / 60) + "m" + std::to_string(left % 60) + "s";
      }
      char buf[200];
      snprintf(buf, sizeof(buf), "restoring: %llu/%llu files, %s of %s, %s/s%s",
               static_cast<unsigned long long>(p.files_done),
               static_cast<unsigned long long>(p.files_total), HumanBytes(p.bytes_done).c_str(),
               HumanBytes(p.bytes_total).c_str(), HumanBytes(static_cast<uint64_t>(rate)).c_str(),
               eta.c_str());
      ProgressLine(buf);
    };
  }
  auto repo = ctx.OpenRepository(true, false);
  if (!repo.ok()) return ctx.Fail(repo.error());
  auto lock = ctx.ReadLock(**repo, "restore");
  if (!lock.ok()) return ctx.Fail(lock.error());
  auto cat = ctx.OpenCatalog(**repo);
  if (!cat.ok()) return ctx.Fail(cat.error());
  auto summary = restorer::RunRestore(**repo, **cat, ro);
  ProgressDone();
  if (!summary.ok()) return ctx.Fail(summary.error());
  const auto& s = *summary;
  bool partial = !s.errors.empty() || !s.skipped_existing.empty();
  if (ctx.json()) {
    ctx.PrintJson({{"files", s.files},
                   {"dirs", s.dirs},
                   {"links", s.links},
                   {"bytes", s.bytes},
                   {"errors", s.errors},
                   {"skipped_existing", s.skipped_existing},
                   {"already_present", s.already_present},
                   {"seconds", s.seconds},
                   {"partial", partial}});
  } else {
    for (const auto& e : s.errors) std::fprintf(stderr, "error: %s\n", ShowPath(e).c_str());
    for (const auto& e : s.skipped_existing)
      std::fprintf(stderr, "not overwritten (use --overwrite): %s\n", ShowPath(e).c_str());
    char secs[32];
    snprintf(secs, sizeof(secs), "%.2f s", s.seconds);
    ctx.Info("restored " + std::to_string(s.files) + " files (" + HumanBytes(s.bytes) + "), " +
             std::to_string(s.dirs) + " folders, " + std::to_string(s.links) + " links" +
             (s.already_present ? " (" + std::to_string(s.already_present) +
                                      " files were already there, identical)"
                                : std::string()) +
             " to " + (ro.target.empty() ? std::string("their original place") : ro.target) +
             " in " + secs + "; every file verified against its SHA-256");
  }
  return partial ? kExitPartial : kExitOk;
}

}  // namespace cairn::cli
