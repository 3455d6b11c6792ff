// ls, versions and find: read-only views served from the catalog.
#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

namespace {

std::string ModeString(const engine::FileVersion& v) {
  std::string s = v.is_dir() ? "d" : v.is_symlink() ? "l" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (v.mode & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

nlohmann::json VersionJson(const engine::FileVersion& v) {
  nlohmann::json j = {{"path", v.path},
                      {"device", v.device},
                      {"type", v.type},
                      {"deleted", v.deleted},
                      {"backup_time", FormatRfc3339(v.backup_time)}};
  if (!v.deleted) {
    j["size"] = v.size;
    j["mode"] = v.mode;
    j["uid"] = v.uid;
    j["gid"] = v.gid;
    j["mtime"] = FormatRfc3339(v.mtime);
    if (!v.sha256.empty()) j["sha256"] = v.sha256;
    if (!v.link_target.empty()) j["link_target"] = v.link_target;
  }
  return j;
}

}  // namespace

int LsCommand(Context& ctx, const LsArgs& o) {
  engine::ListRequest req;
  req.path = AbsolutePath(o.path);
  req.recursive = o.recursive;
  if (!o.at.empty()) {
    auto t = ParseTime(o.at);
    if (!t.ok()) return ctx.Fail(t.error());
    req.at = *t;
  }
  nlohmann::json items = nlohmann::json::array();
  auto listed = ctx.session().List(
      req,
      [&](const engine::FileVersion& v) {
        if (ctx.json()) {
          items.push_back(VersionJson(v));
        } else if (o.long_format) {
          std::printf("%s %12llu %s  %s%s\n", ModeString(v).c_str(),
                      static_cast<unsigned long long>(v.size), FormatLocal(v.mtime).c_str(),
                      ShowPath(v.path).c_str(),
                      v.is_symlink() ? (" -> " + ShowPath(v.link_target)).c_str() : "");
        } else {
          std::printf("%s%s\n", ShowPath(v.path).c_str(), v.is_dir() ? "/" : "");
        }
        return Status::OK();
      },
      ctx.Job());
  if (!listed.ok()) return ctx.Fail(listed.error());
  if (ctx.json()) ctx.PrintJson(items);
  return ReportUnreadable(ctx, listed->unreadable_segments);
}

int VersionsCommand(Context& ctx, const std::string& file) {
  auto list = ctx.session().Versions(AbsolutePath(file), ctx.Job());
  if (!list.ok()) return ctx.Fail(list.error());
  const auto& versions = list->versions;
  if (ctx.json()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& v : versions) {
      auto j = VersionJson(v);
      j["version"] = v.number;
      j["id"] = v.id;
      arr.push_back(j);
    }
    ctx.PrintJson(arr);
    return ReportUnreadable(ctx, list->unreadable_segments);
  }
  std::printf("%-8s %-24s  %-20s %12s  %-10s %s\n", "VERSION", "ID", "BACKED UP", "SIZE", "DEVICE",
              "SHA-256");
  for (const auto& v : versions) {
    if (v.deleted) {
      std::printf("%-8d %-24s  %-20s %12s  %-10s (deleted)\n", v.number, v.id.c_str(),
                  FormatLocal(v.backup_time).c_str(), "-", v.device.c_str());
      continue;
    }
    std::printf("%-8d %-24s  %-20s %12llu  %-10s %s\n", v.number, v.id.c_str(),
                FormatLocal(v.backup_time).c_str(), static_cast<unsigned long long>(v.size),
                v.device.c_str(), v.sha256.empty() ? v.type.c_str() : v.sha256.c_str());
  }
  return ReportUnreadable(ctx, list->unreadable_segments);
}

int FindCommand(Context& ctx, const FindArgs& o) {
  engine::FindRequest req;
  req.pattern = o.pattern;
  req.include_deleted = !o.no_deleted;
  nlohmann::json items = nlohmann::json::array();
  uint64_t deleted = 0;
  auto found = ctx.session().Find(
      req,
      [&](const engine::FileVersion& v) {
        if (v.deleted) ++deleted;
        if (ctx.json())
          items.push_back(VersionJson(v));
        else if (v.deleted)
          std::printf("%s  (deleted %s)\n", ShowPath(v.path).c_str(),
                      FormatLocal(v.backup_time).c_str());
        else
          std::printf("%s\n", ShowPath(v.path).c_str());
        return Status::OK();
      },
      ctx.Job());
  if (!found.ok()) return ctx.Fail(found.error());
  if (ctx.json()) {
    ctx.PrintJson(items);
  } else if (found->count == 0) {
    std::fprintf(stderr, "no backed-up file matches %s\n",
                 engine::Session::FindPattern(o.pattern).c_str());
  } else if (deleted != 0 && !ctx.global().quiet) {
    std::fprintf(stderr,
                 "deleted files: `cairn versions PATH` lists their versions, `cairn restore PATH "
                 "--version N` brings one back\n");
  }
  return ReportUnreadable(ctx, found->unreadable_segments);
}

}  // namespace cairn::cli
