// ls, versions and find: read-only views served from the catalog.
#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

namespace {

const char* TypeName(const repo::VersionRecord& r) {
  if (r.deleted) return "deleted";
  switch (r.type) {
    case repo::FileType::kFile:
      return "file";
    case repo::FileType::kDir:
      return "dir";
    case repo::FileType::kSymlink:
      return "symlink";
    case repo::FileType::kHardlink:
      return "hardlink";
    case repo::FileType::kFifo:
      return "fifo";
    case repo::FileType::kSocket:
      return "socket";
    case repo::FileType::kCharDevice:
      return "chardev";
    case repo::FileType::kBlockDevice:
      return "blockdev";
  }
  return "?";
}

std::string ModeString(const repo::VersionRecord& r) {
  std::string s = r.type == repo::FileType::kDir       ? "d"
                  : r.type == repo::FileType::kSymlink ? "l"
                                                       : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (r.mode & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

nlohmann::json RecordJson(const repo::VersionRecord& r) {
  nlohmann::json j = {{"path", r.path},
                      {"device", r.device},
                      {"type", TypeName(r)},
                      {"backup_time", FormatRfc3339(r.backup_time)}};
  if (!r.deleted) {
    j["size"] = r.size;
    j["mode"] = r.mode;
    j["uid"] = r.uid;
    j["gid"] = r.gid;
    j["mtime"] = FormatRfc3339(r.mtime);
    if (r.type == repo::FileType::kFile) j["sha256"] = r.content_sha256.Hex();
    if (!r.link_target.empty()) j["link_target"] = r.link_target;
  }
  return j;
}

struct Opened {
  std::unique_ptr<repo::Repository> repo;
  std::unique_ptr<catalog::Catalog> cat;
};

Result<Opened> OpenForQuery(Context& ctx) {
  Opened o;
  CAIRN_ASSIGN_OR_RETURN(o.repo, ctx.OpenRepository(false, false));
  CAIRN_ASSIGN_OR_RETURN(o.cat, ctx.OpenCatalog(*o.repo));
  return o;
}

}  // namespace

int RunLs(Context& ctx, const LsOptions& o) {
  TimeNs at = catalog::kLatest;
  if (!o.at.empty()) {
    auto t = ParseTime(o.at);
    if (!t.ok()) return ctx.Fail(t.error());
    at = *t;
  }
  auto opened = OpenForQuery(ctx);
  if (!opened.ok()) return ctx.Fail(opened.error());
  std::string path = AbsolutePath(o.path);
  nlohmann::json items = nlohmann::json::array();
  uint64_t count = 0;
  auto print = [&](const repo::VersionRecord& r) {
    ++count;
    if (ctx.json()) {
      items.push_back(RecordJson(r));
    } else if (o.long_format) {
      std::printf(
          "%s %12llu %s  %s%s\n", ModeString(r).c_str(), static_cast<unsigned long long>(r.size),
          FormatLocal(r.mtime).c_str(), ShowPath(r.path).c_str(),
          r.type == repo::FileType::kSymlink ? (" -> " + ShowPath(r.link_target)).c_str() : "");
    } else {
      std::printf("%s%s\n", ShowPath(r.path).c_str(), r.type == repo::FileType::kDir ? "/" : "");
    }
    return Status::OK();
  };
  auto top = opened->cat->Lookup(ctx.QueryDevice(), path, at);
  if (!top.ok()) return ctx.Fail(top.error());
  Status st;
  if (*top && (*top)->type != repo::FileType::kDir) {
    st = print(**top);
  } else {
    st = opened->cat->ListTree(ctx.QueryDevice(), path, at, o.recursive, print);
  }
  if (!st.ok()) return ctx.Fail(st);
  if (count == 0 && !*top && path != "/")
    return ctx.Fail(Status::NotFound("nothing backed up at " + path + " for device " +
                                     (ctx.QueryDevice().empty() ? "(any)" : ctx.QueryDevice()) +
                                     " (try --all-devices, or `cairn find`)"));
  if (ctx.json()) ctx.PrintJson(items);
  return kExitOk;
}

int RunVersions(Context& ctx, const std::string& file) {
  auto opened = OpenForQuery(ctx);
  if (!opened.ok()) return ctx.Fail(opened.error());
  std::string path = AbsolutePath(file);
  auto versions = opened->cat->Versions(ctx.QueryDevice(), path);
  if (!versions.ok()) return ctx.Fail(versions.error());
  if (versions->empty())
    return ctx.Fail(
        Status::NotFound("no versions of " + path + " for device " + ctx.QueryDevice()));
  if (ctx.json()) {
    nlohmann::json arr = nlohmann::json::array();
    int n = 0;
    for (const auto& r : *versions) {
      auto j = RecordJson(r);
      j["version"] = ++n;
      arr.push_back(j);
    }
    ctx.PrintJson(arr);
    return kExitOk;
  }
  std::printf("%-8s %-20s %12s  %-10s %s\n", "VERSION", "BACKED UP", "SIZE", "DEVICE", "SHA-256");
  int n = 0;
  for (const auto& r : *versions) {
    ++n;
    if (r.deleted) {
      std::printf("%-8d %-20s %12s  %-10s (deleted)\n", n, FormatLocal(r.backup_time).c_str(), "-",
                  r.device.c_str());
      continue;
    }
    std::printf("%-8d %-20s %12llu  %-10s %s\n", n, FormatLocal(r.backup_time).c_str(),
                static_cast<unsigned long long>(r.size), r.device.c_str(),
                r.type == repo::FileType::kFile ? r.content_sha256.Hex().c_str() : TypeName(r));
  }
  return kExitOk;
}

int RunFind(Context& ctx, const std::string& pattern) {
  auto opened = OpenForQuery(ctx);
  if (!opened.ok()) return ctx.Fail(opened.error());
  nlohmann::json items = nlohmann::json::array();
  // A plain word finds every name containing it; a pattern with * ? [ ] is
  // matched as given.
  std::string glob =
      pattern.find_first_of("*?[") == std::string::npos ? "*" + pattern + "*" : pattern;
  uint64_t found = 0;
  Status st = opened->cat->Find(ctx.QueryDevice(), glob, [&](const repo::VersionRecord& r) {
    ++found;
    if (ctx.json())
      items.push_back(RecordJson(r));
    else
      std::printf("%s\n", ShowPath(r.path).c_str());
    return Status::OK();
  });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json())
    ctx.PrintJson(items);
  else if (found == 0)
    std::fprintf(stderr, "no backed-up file matches %s\n", glob.c_str());
  return kExitOk;
}

}  // namespace cairn::cli
